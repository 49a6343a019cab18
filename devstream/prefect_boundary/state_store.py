"""The `prefect` state backend: state records as Prefect artifacts, spoken to over the REST API.

A record's versions live in two kinds of artifact, all under keys with the state's prefix
`dtm-state-<slug(state)>-<hash(state)>-` (which is how `read()` finds them; states whose names slug alike
differ in the hash):

- its own key, `<prefix><slug(name_instanceID)>-<hash(state, name_instanceID)>`: one version per write, the
  history of that resource the Prefect UI shows. A write alone goes there, and so does every later write of
  a record whose newest version is on its own key, so such a page is never stale;
- a batch, `<prefix>batch-<seq>-<hash>`, a new key for each write of records saved together: when many
  changes finish at once (an apply's parallel tasks), their records share one write (group commit, see
  `devstream.state.group_commit`), since the server takes as long for one small artifact as for
  one holding a hundred records. Each caller still returns only once its record is durable.

Each version is a markdown artifact the UI shows as a page (see `devstream.state.record_doc`), ending in one
fenced JSON block, the envelope dtm reads back; it names its state and keys, so nothing is parsed back out
of artifact keys, and it records the change that wrote it and its flow run:

    {"format": 1, "state": "demo", "key": "repo_default", "seq": 7, "record": {"name": "repo", ...}, "change": {...}}
    {"format": 1, "state": "demo", "key": "repo_old", "seq": 9, "deleted": true, "deletedAt": "2026-...", ...}
    {"format": 2, "state": "demo", "seq": 41, "entries": [{"key": ..., "seq": 40, "record": {...}}, ...]}

The second is a tombstone: a delete adds one as the record's newest version, so history stays and `read()`
skips the record. Which version is the newest is decided by sequence numbers, not keys or clocks: each
version carries one, one higher than the highest the store has seen (it reads the state before it writes;
the lock makes it the only writer), and `read()` keeps the highest per record (versions written before
sequence numbers count as 0; see `devstream.prefect_boundary.state_index`). Versions written before records
were markdown (type `dtm-state`, the envelope as the artifact's `data`) are read as well.

Batches are compacted under the lock when the run ends (`flush`): once there are more than 16 holding more
than twice as many entries as live records (superseded versions, tombstones), those records are written
again into fresh batches and the old batches deleted, oldest first, so an interrupted compaction never
changes what `read()` returns (a deleted record's tombstone goes only after every older batch). Artifacts
are written with no flow or task run, so the server's clean-up of old flow runs never takes state with it.

The lock is a Prefect global concurrency limit with a lease (see `devstream.prefect_boundary.lease`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from devstream.errors import StateError
from devstream.prefect_boundary import state_index
from devstream.prefect_boundary.lease import DEFAULT_LEASE_SECONDS, LeaseLock
from devstream.prefect_boundary.rest import PrefectApi, name_hash, slug
from devstream.prefect_boundary.state_index import BATCH_FORMAT, OWN_FORMAT, Scan, StateIndex, Version
from devstream.state import record_doc
from devstream.state.base import ChangeNote, StateRecord, first_error
from devstream.state.group_commit import GroupCommit
from devstream.state.lock_protocol import LockedStore
from devstream.state.record_doc import summary_table

__all__ = ["ARTIFACT_TYPE", "PrefectStateStore", "artifact_key", "state_prefix", "summary_table"]

ARTIFACT_TYPE = "markdown"
LEGACY_TYPE = "dtm-state"  # records written as a JSON `data` object, before they were markdown
# A batch holds at most this many records and, past its first, this many bytes of them (a page the UI still
# shows quickly, and a request the server takes in one go).
BATCH_RECORDS = 100
BATCH_BYTES = 400_000
# Compaction starts above this many batch artifacts (and twice what the batched records need).
COMPACT_ABOVE = 16
# The server's default and maximum page size (PREFECT_SERVER_API_DEFAULT_LIMIT, 200); a server configured
# lower says so in a 422, and read() adapts to the number it names.
PAGE_SIZE = 200
# Slug lengths keep keys readable in the UI and under 130 characters; the hashes carry the uniqueness.
_STATE_SLUG = 40
_KEY_SLUG = 60
_DONE = {"create": "created", "update": "updated"}  # a change's action as the record's description says it
_PAGE_LIMIT_RE = re.compile(r"less than or equal to (\d+)")

logger = logging.getLogger("devstream.state")


def state_prefix(state_name: str) -> str:
    """The artifact key prefix shared by every record of one state (and only by them)."""
    return f"dtm-state-{slug(state_name, _STATE_SLUG)}-{name_hash(state_name)}-"


def artifact_key(state_name: str, state_key: str) -> str:
    """The artifact key of one record: lowercase letters, digits and dashes, unique per (state, key)."""
    return f"{state_prefix(state_name)}{slug(state_key, _KEY_SLUG)}-{name_hash(state_name, state_key)}"


@dataclass(frozen=True)
class _Change:
    """One put or delete waiting for its write: the entry without its sequence number, and its size."""

    key: str
    body: dict[str, Any]
    size: int


class PrefectStateStore(LockedStore):
    """State as Prefect artifacts on the server at `api_url` (default: `PREFECT_API_URL`).

    Every `put`/`delete` is durable when it returns; concurrent ones share a write (`group_commit`).
    `flush()` compacts the batches when the lock is held. Safe to call from many threads of one process.
    `bytes_written` counts the request bodies of record writes.
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
        batch_records: int = BATCH_RECORDS,
        compact_above: int = COMPACT_ABOVE,
    ) -> None:
        if not isinstance(state_name, str) or not state_name.strip():
            raise StateError("the prefect state backend needs a state name (state option `name`, or the config's name)")
        self.state_name = state_name
        self.api = PrefectApi(api_url, client=client)
        self.prefix = state_prefix(state_name)
        self.page_size = page_size
        self.batch_records = batch_records
        self.compact_above = compact_above
        self.description = f"prefect artifacts of state {state_name} at {self.api.safe_url}"
        self.bytes_written = 0
        self._count_guard = threading.Lock()
        self._read_guard = threading.Lock()
        self.index = StateIndex()
        self.group_commit: GroupCommit[_Change] = GroupCommit(
            self._write_group, max_items=batch_records, max_bytes=BATCH_BYTES, size=lambda change: change.size)
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
        """Every live record, by state key: the version with the highest sequence number of each."""
        scan = self._scan()
        self.index.learn_scan(scan)
        records: dict[str, StateRecord] = {}
        for key, (value, where) in scan.records().items():
            try:
                records[key] = StateRecord.model_validate(value)
            except ValidationError as exc:
                raise self._corrupt(where, first_error(exc)) from None
        return dict(sorted(records.items()))

    def put(self, record: StateRecord, note: ChangeNote | None = None) -> None:
        """Save one record: a new version of it, on its own key or in a batch with records saved meanwhile."""
        body: dict[str, Any] = {"record": record.model_dump(mode="json")}
        self._submit(record.state_key, body, note)

    def delete(self, state_key: str, note: ChangeNote | None = None) -> None:
        """Forget one record: a tombstone as its newest version (a missing or deleted record is left alone).
        The tombstone keeps the record's name and plugin, so its page still says what it was."""
        self._ensure_known()
        newest = self.index.get(state_key)
        if newest is None or newest.deleted:
            return
        body: dict[str, Any] = {"deleted": True, "deletedAt": datetime.now(UTC).isoformat(timespec="seconds")}
        if newest.ident:
            body["record"] = newest.ident
        self._submit(state_key, body, note)

    def flush(self) -> None:
        """Every put and delete is durable already; under the lock, compact the batches when they are many."""
        if self.state_lock.held_here():
            self._compact_if_due()

    # -- writing --------------------------------------------------------------------------------------------

    def _submit(self, state_key: str, body: dict[str, Any], note: ChangeNote | None) -> None:
        if note is not None:
            body["change"] = note.as_json()
        size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        self.group_commit.submit(_Change(state_key, body, size))

    def _ensure_known(self) -> None:
        """Read the state once before the first write: the sequence numbers and homes come from it."""
        with self._read_guard:
            if not self.index.known:
                self.read()

    def _write_group(self, changes: list[_Change]) -> None:
        """Write one group: a change alone, or of a record whose page is its own key, goes to that key; the
        rest share one batch. The first failed write fails the whole group."""
        self._ensure_known()
        alone = len(changes) == 1
        own: list[dict[str, Any]] = []
        batched: list[dict[str, Any]] = []
        for change, seq in zip(changes, self.index.next_seqs(len(changes)), strict=True):
            entry = {"key": change.key, "seq": seq, **change.body}
            (own if alone or self.index.on_own_key(change.key) else batched).append(entry)
        if batched:
            self._post_batch(batched)
        for entry in own:
            self._post_own(entry)

    def _post_own(self, entry: dict[str, Any]) -> None:
        state_key = entry["key"]
        envelope = {"format": OWN_FORMAT, "state": self.state_name, **entry}
        rec = entry.get("record") or {}
        tool = f"{rec['name']}.{rec['instanceID']}" if rec.get("name") and rec.get("instanceID") else state_key
        note = entry.get("change") or {}
        action = note.get("action")
        what = "deleted" if entry.get("deleted") else (_DONE.get(action, action) if action else "saved")
        self._post(
            {
                "key": self.artifact_key(state_key),
                "type": ARTIFACT_TYPE,
                "description": f"dtm state record `{state_key}` of state `{self.state_name}`: `{tool}`, {what}",
                "data": record_doc.render(envelope),
            },
            f"save record {state_key} of state {self.state_name}",
        )
        self.index.learn([Version.of(entry, None)])

    def _post_batch(self, entries: list[dict[str, Any]]) -> None:
        seq = max(entry["seq"] for entry in entries)
        key = f"{self.prefix}batch-{seq}-{name_hash(self.state_name, str(seq), uuid.uuid4().hex)}"
        envelope = {"format": BATCH_FORMAT, "state": self.state_name, "seq": seq, "entries": entries}
        count = f"{len(entries)} record{'s' if len(entries) != 1 else ''}"
        self._post(
            {
                "key": key,
                "type": ARTIFACT_TYPE,
                "description": f"dtm state `{self.state_name}`: {count} saved together",
                "data": record_doc.render_batch(envelope),
            },
            f"save {count} of state {self.state_name}",
        )
        self.index.learn([Version.of(entry, key) for entry in entries], batch=key)

    def _post(self, body: dict[str, Any], what: str) -> None:
        # A repeat after a lost answer adds an identical version at worst: same entries, same sequence numbers.
        response = self.api.call("POST", "/artifacts/", json=body, retry=True, what=what)
        with self._count_guard:
            self.bytes_written += len(response.request.content)

    # -- compaction -----------------------------------------------------------------------------------------

    def _compact_if_due(self) -> None:
        if not self.index.compaction_due(self.compact_above):
            return
        try:
            with self.group_commit.exclusive():
                self._compact()
        except StateError as exc:
            # Nothing is lost: every step leaves the same records readable; the next run compacts again.
            logger.warning("could not compact state %s (it is intact; the next run tries again): %s",
                           self.state_name, exc)

    def _compact(self) -> None:
        """Write the records whose newest version is in a batch into fresh batches, then delete the old
        batches oldest first. A tombstone is dropped unless the record's own key still holds a live version."""
        scan = self._scan()
        self.index.learn_scan(scan)
        keep = scan.to_compact()
        live = sum(1 for entry in keep if not entry.get("deleted"))
        if not state_index.worth_compacting(list(scan.batches.values()), live, self.compact_above):
            return
        groups = state_index.chunks(keep, self.batch_records, BATCH_BYTES)
        old = sorted(scan.batches, key=lambda batch: scan.batches[batch][0])
        for group in groups:
            for entry, seq in zip(group, self.index.next_seqs(len(group)), strict=True):
                entry["seq"] = seq
            self._post_batch(group)
        ids = self.api.artifact_version_ids(old, self.page_size, f"list the old batches of state {self.state_name}")
        for batch in old:
            for artifact_id in ids.get(batch, []):
                self.api.call("DELETE", f"/artifacts/{artifact_id}", ok=(404,), retry=True,
                              what=f"delete an old batch of state {self.state_name}")
            self.index.forget_batches([batch])
        logger.info("compacted state %s: %d batch artifact(s) into %d", self.state_name, len(old), len(groups))

    # -- reading --------------------------------------------------------------------------------------------

    def _scan(self) -> Scan:
        """The newest version of each record, among the newest versions of this state's artifacts."""
        scan = Scan(corrupt=self._corrupt)
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
                page = self.page_size = smaller
                continue
            items = response.json()
            for item in items:
                self._take(scan, item)
            if len(items) < page:
                break
            offset += len(items)
        return scan

    def _take(self, scan: Scan, item: Any) -> None:
        """Add one artifact collection row to `scan` if it holds versions of this state's records."""
        if not isinstance(item, dict):
            return
        key = item.get("key")
        data = _envelope(item)
        if not isinstance(key, str) or not key.startswith(self.prefix) or data is None:
            return
        if data.get("state") != self.state_name:
            return
        scan.add(key, data)

    def _corrupt(self, key: str, what: str) -> StateError:
        return StateError(
            f"state {self.state_name}: the newest version of artifact {key} at {self.api.safe_url} is not a "
            f"dtm state record ({what}); do not write to dtm's artifact keys by hand; the key's earlier versions "
            "are in its history in the Prefect UI (Artifacts)"
        )

    def _locked_afresh(self) -> None:
        # Another run may have written since this store last read: read again before the next write.
        self.index.forget()

    @staticmethod
    def _server_page_limit(response: httpx.Response) -> int | None:
        """The page size a 422 names, from a server configured with a smaller PREFECT_SERVER_API_DEFAULT_LIMIT."""
        try:
            detail = str(response.json().get("detail", ""))
        except ValueError:
            return None
        match = _PAGE_LIMIT_RE.search(detail)
        return int(match.group(1)) if match else None

    def _on_release(self) -> None:
        # The lock is still ours, though this process no longer counts itself as holding it.
        self._compact_if_due()


def _envelope(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The envelope of a record's artifact: parsed from its markdown, or its `data` as older versions held it."""
    data = item.get("data")
    if isinstance(data, str):
        return record_doc.parse(data)
    return data if isinstance(data, dict) else None
