"""The one journal of the `local`, `s3` and `k8s` state backends: small entries written between compactions.

Each backend keeps DevStream's whole-state document (a YAML file, an S3 object, a ConfigMap key) and, so that
one change writes one small thing instead of the whole state, appends one entry per `put`/`delete` where it
can (a line of `<state>.journal`, an object under `<key>.journal/`, a `journal.*` key of the ConfigMap). An
entry is one compact JSON object, the same on every backend:

    {"op":"put","key":"repo_default","record":{"name":"repo","instanceID":"default",...}}
    {"op":"delete","key":"repo_old"}

Reading is the document with the entries folded on top, in order (`fold`); replaying is idempotent, so a
crash between a compaction's write and the journal's removal loses nothing. Where the entries are kept, and
how a torn or missing one is read, is each backend's own business.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from devstream.errors import StateError
from devstream.state.base import StateRecord, first_error

__all__ = ["delete_entry", "encode", "fold", "put_entry", "to_record"]


def put_entry(record: StateRecord) -> dict[str, Any]:
    """The entry that saves `record`."""
    return {"op": "put", "key": record.state_key, "record": record.model_dump(mode="json")}


def delete_entry(state_key: str) -> dict[str, Any]:
    """The entry that forgets the record `state_key` (a missing record is fine)."""
    return {"op": "delete", "key": state_key}


def encode(entry: dict[str, Any]) -> str:
    """An entry as written: compact JSON, non-ASCII kept as is."""
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def to_record(value: dict[str, Any]) -> StateRecord:
    """A record as DevStream (or dtm) wrote it; a Go nil slice or map written as null means the default."""
    cleaned = {k: v for k, v in value.items() if not (v is None and k in ("dependsOn", "options", "resourceStatus"))}
    return StateRecord.model_validate(cleaned)


def fold(records: dict[str, StateRecord], entry: object, corrupt: Callable[[str], StateError]) -> None:
    """Apply one entry to `records`; `corrupt(what)` is the backend's error naming where the entry is."""
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise corrupt("expected an object with an `op` and a string `key`")
    op, key = entry.get("op"), entry["key"]
    if op == "delete":
        records.pop(key, None)
    elif op == "put":
        value = entry.get("record")
        if not isinstance(value, dict):
            raise corrupt("a put without a record object")
        try:
            records[key] = to_record(value)
        except ValidationError as exc:
            raise corrupt(f"record {key}: {first_error(exc)}") from None
    else:
        raise corrupt(f"unknown op {op!r}")
