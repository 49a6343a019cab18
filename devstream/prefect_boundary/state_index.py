"""Which version of each record of a `prefect` state is the newest, and where it lives.

A record's versions live on its own artifact key (format 1) and in batch artifacts (format 2, records saved
together); see `devstream.prefect_boundary.state_store`. Every version carries a per-state sequence number,
and the newest version of a record is the one with the highest (a version without one, written before
batches existed, counts as 0). `Scan` finds the newest versions among the artifacts the server lists;
`StateIndex` is what a store remembers between its reads and its own writes: the highest sequence number,
where each record's newest version is, and the batch artifacts, so a write needs no request to learn them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

__all__ = ["BATCH_FORMAT", "OWN_FORMAT", "Scan", "StateIndex", "Version", "chunks", "worth_compacting"]

OWN_FORMAT = 1
BATCH_FORMAT = 2


@dataclass(frozen=True)
class Version:
    """One version of one record: live (its record) or a tombstone; `home` is the batch artifact's key that
    holds it, None when it is on the record's own key."""

    key: str
    seq: int
    home: str | None
    deleted: bool
    record: Mapping[str, Any] | None = None
    change: Mapping[str, Any] | None = None
    deleted_at: str | None = None

    @classmethod
    def of(cls, entry: Mapping[str, Any], home: str | None) -> Version:
        """The version an envelope or batch entry holds (its `key` and `seq` checked by the caller)."""
        record, change = entry.get("record"), entry.get("change")
        return cls(key=entry["key"], seq=entry["seq"], home=home, deleted=bool(entry.get("deleted")),
                   record=record if isinstance(record, Mapping) or not entry.get("deleted") else None,
                   change=change if isinstance(change, Mapping) else None,
                   deleted_at=str(entry["deletedAt"]) if entry.get("deletedAt") else None)

    def as_entry(self) -> dict[str, Any]:
        """This version as a batch entry again, for a compaction (its new sequence number set when written)."""
        entry: dict[str, Any] = {"key": self.key, "seq": 0}
        if self.deleted:
            entry.update(deleted=True, deletedAt=self.deleted_at or datetime.now(UTC).isoformat(timespec="seconds"))
        if self.record is not None:
            entry["record"] = dict(self.record)
        if self.change is not None:
            entry["change"] = dict(self.change)
        return entry

    def newer_than(self, other: Version | None) -> bool:
        # A tie (never written by dtm) goes to the record's own key, the page the UI shows for it.
        return other is None or self.seq > other.seq or (self.seq == other.seq and self.home is None)

    @property
    def ident(self) -> dict[str, Any]:
        """The record's name and instanceID, which a tombstone keeps so its page still says what it was."""
        return {k: v for k, v in (self.record or {}).items() if k in ("name", "instanceID")}


def _seq(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass
class Scan:
    """The newest version of each record among the artifacts read; the batch artifacts seen (key -> their
    seq and how many entries they hold); the records whose own key's newest version is live."""

    corrupt: Callable[[str, str], Exception]
    newest: dict[str, Version] = field(default_factory=dict)
    batches: dict[str, tuple[int, int]] = field(default_factory=dict)
    own_live: set[str] = field(default_factory=set)

    def add(self, artifact_key: str, envelope: Mapping[str, Any]) -> None:
        """Take the versions one artifact's newest version holds (its envelope names this scan's state)."""
        if envelope.get("format") == BATCH_FORMAT:
            entries, seq = envelope.get("entries"), _seq(envelope.get("seq"))
            if not isinstance(entries, list) or seq is None:
                raise self.corrupt(artifact_key, "its batch has no `entries` list or no `seq`")
            self.batches[artifact_key] = (seq, len(entries))
            for entry in entries:
                if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str) \
                        or _seq(entry.get("seq")) is None:
                    raise self.corrupt(artifact_key, "an entry of its batch has no `key` or no `seq`")
                self._offer(Version.of(entry, artifact_key))
            return
        if not isinstance(envelope.get("key"), str):
            return
        # Versions written before sequence numbers lose to any newer entry.
        version = Version.of({**envelope, "seq": _seq(envelope.get("seq")) or 0}, None)
        if not version.deleted:
            self.own_live.add(version.key)
        self._offer(version)

    def to_compact(self) -> list[dict[str, Any]]:
        """The newest versions that live in batches, as entries for fresh batches, in key order. A tombstone is
        dropped (the batches holding the record's older versions go with it) unless the record's own key holds
        a live version it must keep hiding."""
        return [version.as_entry() for key, version in sorted(self.newest.items())
                if version.home is not None and (not version.deleted or key in self.own_live)]

    def records(self) -> dict[str, tuple[Mapping[str, Any], str]]:
        """Each live record's JSON and the artifact key it came from (for an error naming it)."""
        out = {}
        for key, version in self.newest.items():
            if version.deleted:
                continue
            where = version.home or key
            if not isinstance(version.record, Mapping):
                raise self.corrupt(where, f"its data has no `record` object for {key}")
            out[key] = (version.record, where)
        return out

    def _offer(self, version: Version) -> None:
        if version.newer_than(self.newest.get(version.key)):
            self.newest[version.key] = version


class StateIndex:
    """What a store knows of its state between reads: `known` once it has read it (since it took the lock);
    the highest sequence number; each record's newest version (without its record, only name and
    instanceID); the batch artifacts, key -> their seq and how many entries they hold."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.known = False
        self.seq = 0
        self.newest: dict[str, Version] = {}
        self.batches: dict[str, tuple[int, int]] = {}

    def forget(self) -> None:
        """Others may have written (the lock was taken afresh): read again before the next write."""
        with self.guard:
            self.known, self.seq = False, 0
            self.newest.clear()
            self.batches.clear()

    def learn_scan(self, scan: Scan) -> None:
        with self.guard:
            for version in scan.newest.values():
                self._learn(version)
            for key, (seq, entries) in scan.batches.items():
                self.batches[key] = (seq, entries)
                self.seq = max(self.seq, seq)
            self.known = True

    def learn(self, versions: list[Version], batch: str | None = None) -> None:
        """Versions this store has just written (and the batch that holds them)."""
        with self.guard:
            for version in versions:
                self._learn(version)
            if batch is not None:
                self.batches[batch] = (max(v.seq for v in versions), len(versions))

    def next_seqs(self, count: int) -> list[int]:
        """`count` fresh sequence numbers, higher than any seen; never handed out twice, even if unused."""
        with self.guard:
            start = self.seq + 1
            self.seq += count
            return list(range(start, start + count))

    def get(self, key: str) -> Version | None:
        with self.guard:
            return self.newest.get(key)

    def on_own_key(self, key: str) -> bool:
        """Whether the record's newest version is on its own key: then every later version goes there too, so
        its page in the UI stays current."""
        version = self.get(key)
        return version is not None and version.home is None

    def compaction_due(self, floor: int) -> bool:
        """Whether the batches want compacting: more than `floor` of them, holding more than twice as many
        entries as there are live records whose newest version they hold (the rest is superseded versions and
        tombstones, which every read pages through). Batches full of live records are left alone: rewriting
        them would only make fewer, larger artifacts, at the cost of a write and a delete for each."""
        with self.guard:
            live = sum(1 for v in self.newest.values() if v.home is not None and not v.deleted)
            return worth_compacting(list(self.batches.values()), live, floor)

    def forget_batches(self, keys: list[str]) -> None:
        with self.guard:
            for key in keys:
                self.batches.pop(key, None)

    def _learn(self, version: Version) -> None:
        self.seq = max(self.seq, version.seq)
        if version.newer_than(self.newest.get(version.key)):
            self.newest[version.key] = replace(version, record=version.ident, change=None, deleted_at=None)


def chunks(entries: list[dict[str, Any]], most: int, max_bytes: int) -> list[list[dict[str, Any]]]:
    """Entries cut into batches of at most `most` entries and, past each one's first, `max_bytes` of JSON."""
    groups: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        length = len(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        if not groups or len(groups[-1]) >= most or size + length > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(entry)
        size += length
    return groups


def worth_compacting(batches: list[tuple[int, int]], live: int, floor: int) -> bool:
    """More than `floor` batches (seq, entries) whose entries are more than twice the `live` records in them."""
    return len(batches) > floor and sum(entries for _seq, entries in batches) > 2 * live
