"""The `prefect` state backend: one Prefect artifact per state record, spoken to over the REST API.

Each record is an artifact key of its own, so each change is one small write (an apply of N tools sends
O(N) bytes) and the Prefect UI shows every resource's history. The key is derived from the state's name
and the record's `name_instanceID`, slugged to what artifact keys allow and made unique by hashes:

    dtm-state-<slug(state)>-<hash(state)>-<slug(name_instanceID)>-<hash(state, name_instanceID)>

All keys of one state share the prefix `dtm-state-<slug(state)>-<hash(state)>-`, which is how `read()`
finds them (states whose names slug alike differ in the hash). Each version is a markdown artifact: the
Prefect UI shows it as a page a person reads at a glance (see `devstream.state.record_doc`), ending in one
fenced JSON block, the envelope dtm reads back; it names its state and key, so nothing is parsed back out
of artifact keys, and it records the change that wrote it and its flow run:

    {"format": 1, "state": "demo", "key": "repo_default", "record": {"name": "repo", ...}, "change": {...}}
    {"format": 1, "state": "demo", "key": "repo_old", "deleted": true, "deletedAt": "2026-...", "change": {...}}

Versions written before records were markdown (type `dtm-state`, the envelope as the artifact's `data`)
are read as well.

The second is a tombstone: `delete()` adds one as the key's newest version, so the history stays and
`read()` skips the record. Artifacts are written with no flow or task run, so the server's clean-up of old
flow runs (db vacuum of `flow_runs`/`orphans`) never takes state with it.

The lock is a Prefect global concurrency limit with a lease (see `devstream.prefect_boundary.lease`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from devstream.errors import StateError
from devstream.prefect_boundary.lease import DEFAULT_LEASE_SECONDS, LeaseLock
from devstream.prefect_boundary.rest import PrefectApi, name_hash, slug
from devstream.state import record_doc
from devstream.state.base import ChangeNote, StateRecord, first_error
from devstream.state.lock_protocol import LockedStore

__all__ = ["ARTIFACT_TYPE", "PrefectStateStore", "artifact_key", "state_prefix", "summary_table"]

ARTIFACT_TYPE = "markdown"
LEGACY_TYPE = "dtm-state"  # records written as a JSON `data` object, before they were markdown
FORMAT = 1
# The server's default and maximum page size (PREFECT_SERVER_API_DEFAULT_LIMIT, 200); a server configured
# lower says so in a 422, and read() adapts to the number it names.
PAGE_SIZE = 200
# Slug lengths keep keys readable in the UI and under 130 characters; the hashes carry the uniqueness.
_STATE_SLUG = 40
_KEY_SLUG = 60
_DONE = {"create": "created", "update": "updated"}  # a change's action as the record's description says it
_PAGE_LIMIT_RE = re.compile(r"less than or equal to (\d+)")


def state_prefix(state_name: str) -> str:
    """The artifact key prefix shared by every record of one state (and only by them)."""
    return f"dtm-state-{slug(state_name, _STATE_SLUG)}-{name_hash(state_name)}-"


def artifact_key(state_name: str, state_key: str) -> str:
    """The artifact key of one record: lowercase letters, digits and dashes, unique per (state, key)."""
    return f"{state_prefix(state_name)}{slug(state_key, _KEY_SLUG)}-{name_hash(state_name, state_key)}"


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split("\n"))
    return text if len(text) <= limit else text[:limit] + "…"


def summary_table(records: Mapping[str, StateRecord] | Iterable[StateRecord]) -> list[dict[str, str]]:
    """Rows for a table artifact of the whole state: one per record, in key order, text cells only, each
    output with its value (cut short).

    Records already hold secrets as fingerprints only, so every cell is safe to publish.
    """
    values = records.values() if isinstance(records, Mapping) else records
    rows = []
    for rec in sorted(values, key=lambda r: r.state_key):
        rows.append(
            {
                "tool": rec.key,
                "plugin": rec.name,
                "dependsOn": ", ".join(rec.dependsOn),
                "outputs": "; ".join(f"{k} = {_short(v)}" for k, v in sorted(rec.outputs.items())),
            }
        )
    return rows


class PrefectStateStore(LockedStore):
    """State as Prefect artifacts on the server at `api_url` (default: `PREFECT_API_URL`).

    Every `put`/`delete` is durable when it returns, so `flush()` has nothing to do. Safe to call from
    many threads of one process. `bytes_written` counts the request bodies of record writes.
    """

    state_lock: LeaseLock

    def __init__(
        self,
        state_name: str,
        *,
        api_url: str | None = None,
        client: httpx.Client | None = None,
        config_path: Path | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        renew_every: float | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if not isinstance(state_name, str) or not state_name.strip():
            raise StateError("the prefect state backend needs a state name (state option `name`, or the config's name)")
        self.state_name = state_name
        self.api = PrefectApi(api_url, client=client)
        self.prefix = state_prefix(state_name)
        self.page_size = page_size
        self.description = f"prefect artifacts of state {state_name} at {self.api.safe_url}"
        self.bytes_written = 0
        self._count_guard = threading.Lock()
        ident = self.prefix.removeprefix("dtm-state-").rstrip("-")
        hint = f"dtm force-unlock -f {config_path}" if config_path else "dtm force-unlock -f <config>"
        self.state_lock = LeaseLock(
            self.api,
            limit_name=f"dtm-state-{ident}",
            variable_name=f"dtm-lock-{ident}",
            state_description=f"{state_name} (Prefect server {self.api.safe_url})",
            unlock_hint=hint,
            lease_seconds=lease_seconds,
            renew_every=renew_every,
        )

    def __repr__(self) -> str:
        return f"PrefectStateStore({self.state_name!r}, api_url={self.api.safe_url!r})"

    @property
    def lock_name(self) -> str:
        """The global concurrency limit that locks this state (`prefect gcl inspect <name>`)."""
        return self.state_lock.limit_name

    @property
    def holder_variable(self) -> str:
        """The Prefect Variable that names the lock's holder."""
        return self.state_lock.variable_name

    def artifact_key(self, state_key: str) -> str:
        """The artifact key of one of this state's records."""
        return artifact_key(self.state_name, state_key)

    def close(self) -> None:
        """Close the HTTP client if this store built it."""
        self.api.close()

    # -- the StateStore protocol ------------------------------------------------------------------------

    def read(self) -> dict[str, StateRecord]:
        """Every record, by state key: the newest version of each of this state's artifact keys."""
        records: dict[str, StateRecord] = {}
        offset, page = 0, self.page_size
        while True:
            response = self.api.call(
                "POST",
                "/artifacts/latest/filter",
                json={
                    # The key filter is an SQL ILIKE '%text%': it narrows the scan, the exact prefix is
                    # checked below. Sorting by key keeps pages stable while nothing writes (the lock).
                    "artifacts": {"key": {"like_": self.prefix}, "type": {"any_": [ARTIFACT_TYPE, LEGACY_TYPE]}},
                    "sort": "KEY_ASC",
                    "limit": page,
                    "offset": offset,
                },
                ok=(422,),
                retry=True,
                what=f"read state {self.state_name}",
            )
            if response.status_code == 422:
                smaller = self._server_page_limit(response)
                if smaller is None or smaller >= page or smaller < 1:
                    raise self.api.error(response, f"read state {self.state_name}")
                page = smaller
                continue
            items = response.json()
            for item in items:
                self._take(records, item)
            if len(items) < page:
                break
            offset += len(items)
        return dict(sorted(records.items()))

    def put(self, record: StateRecord, note: ChangeNote | None = None) -> None:
        """Save one record: a new version of its artifact key, and nothing else."""
        state_key = record.state_key
        self._write(
            state_key,
            {"format": FORMAT, "state": self.state_name, "key": state_key, "record": record.model_dump(mode="json")},
            note,
        )

    def delete(self, state_key: str, note: ChangeNote | None = None) -> None:
        """Forget one record: a tombstone as its newest version (a missing or deleted record is left alone).
        The tombstone keeps the record's name and plugin, so its page still says what it was."""
        key = self.artifact_key(state_key)
        response = self.api.call(
            "GET", f"/artifacts/{key}/latest", ok=(404,), what=f"read record {state_key} of state {self.state_name}"
        )
        if response.status_code == 404:
            return
        data = _envelope(response.json())
        if data is None or data.get("deleted"):
            return
        gone = {k: v for k, v in (data.get("record") or {}).items() if k in ("name", "instanceID")}
        self._write(
            state_key,
            {
                "format": FORMAT,
                "state": self.state_name,
                "key": state_key,
                "deleted": True,
                "deletedAt": datetime.now(UTC).isoformat(timespec="seconds"),
                **({"record": gone} if gone else {}),
            },
            note,
        )

    def flush(self) -> None:
        """Nothing to do: every put and delete was durable on the server when it returned."""

    # -- internals --------------------------------------------------------------------------------------

    def _write(self, state_key: str, envelope: dict[str, Any], note: ChangeNote | None) -> None:
        if note is not None:
            envelope["change"] = note.as_json()
        rec = envelope.get("record") or {}
        tool = f"{rec['name']}.{rec['instanceID']}" if rec.get("name") and rec.get("instanceID") else state_key
        what = "deleted" if envelope.get("deleted") else (_DONE.get(note.action, note.action) if note else "saved")
        response = self.api.call(
            "POST",
            "/artifacts/",
            json={
                "key": self.artifact_key(state_key),
                "type": ARTIFACT_TYPE,
                "description": f"dtm state record `{state_key}` of state `{self.state_name}`: `{tool}`, {what}",
                "data": record_doc.render(envelope),
            },
            # A repeat after a lost answer adds an identical version at worst; the newest still wins.
            retry=True,
            what=f"save record {state_key} of state {self.state_name}",
        )
        with self._count_guard:
            self.bytes_written += len(response.request.content)

    def _take(self, records: dict[str, StateRecord], item: Any) -> None:
        """Add one artifact collection row to `records` if it is a live record of this state."""
        if not isinstance(item, dict):
            return
        key = item.get("key")
        data = _envelope(item)
        if not isinstance(key, str) or not key.startswith(self.prefix) or data is None:
            return
        if data.get("state") != self.state_name or not isinstance(data.get("key"), str):
            return
        if data.get("deleted"):
            return
        value = data.get("record")
        if not isinstance(value, dict):
            raise self._corrupt(key, "its data has no `record` object")
        try:
            records[data["key"]] = StateRecord.model_validate(value)
        except ValidationError as exc:
            raise self._corrupt(key, first_error(exc)) from None

    def _corrupt(self, key: str, what: str) -> StateError:
        return StateError(
            f"state {self.state_name}: the newest version of artifact {key} at {self.api.safe_url} is not a "
            f"dtm state record ({what}); do not write to dtm's artifact keys by hand; the key's earlier versions "
            "are in its history in the Prefect UI (Artifacts)"
        )

    @staticmethod
    def _server_page_limit(response: httpx.Response) -> int | None:
        """The page size a 422 names, from a server configured with a smaller PREFECT_SERVER_API_DEFAULT_LIMIT."""
        try:
            detail = str(response.json().get("detail", ""))
        except ValueError:
            return None
        match = _PAGE_LIMIT_RE.search(detail)
        return int(match.group(1)) if match else None


def _envelope(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The envelope of a record's artifact: parsed from its markdown, or its `data` as older versions held it."""
    data = item.get("data")
    if isinstance(data, str):
        return record_doc.parse(data)
    return data if isinstance(data, dict) else None
