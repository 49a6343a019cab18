"""The state as this process sees it: the store's records, read once and kept in step with every write.

Every reader (the planner, the executor resolving a dependency's outputs, artifacts, `dtm status`) gets
records whose secrets are fingerprints, whoever wrote them; records that hold secrets in clear, or that
DevStream v0.12.1 wrote, are noted so that `seal_records` can write them in dtm's form.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from devstream.jsonish import normalize
from devstream.state import StateRecord, StateStore
from devstream.state.base import ChangeNote, FlowRunRef
from devstream.state.migrate import adopt_live_status, without_injected_instance_id
from devstream.tool_options import ToolOptions

__all__ = ["StateView"]

log = logging.getLogger("devstream")


class StateView:
    """A state store's records, cached: read once, then updated by each `save` and `forget` (an apply stays
    O(N): a change never re-reads the whole state). Thread-safe: changes run concurrently."""

    def __init__(self, store: StateStore, options: ToolOptions) -> None:
        self.store = store
        self.options = options
        self._records: dict[str, StateRecord] | None = None
        self._guard = threading.Lock()
        # The flow run making changes now (set by the flows): each record written names it.
        self.flow_run: FlowRunRef | None = None
        # State keys of records the store holds with secrets in clear (DevStream v0.12 wrote tokens so); this
        # process sees them fingerprinted, and `seal_records` writes them so.
        self.unsealed: set[str] = set()
        # State keys of records DevStream v0.12.1 wrote (see devstream/state/migrate.py), and those records with
        # the status a plan read live, which `seal_records` writes in dtm's form.
        self.from_devstream: set[str] = set()
        self._adopted: dict[str, StateRecord] = {}

    def records(self, reload: bool = False) -> dict[str, StateRecord]:
        with self._guard:
            if reload:
                self._records = self._read_store()
            return dict(self._loaded())

    def record(self, state_key: str) -> StateRecord | None:
        with self._guard:
            return self._loaded().get(state_key)

    def known_record(self, state_key: str) -> StateRecord | None:
        """The record, if the records were read already (never reads the store)."""
        with self._guard:
            return (self._records or {}).get(state_key)

    def outputs(self, tool_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The outputs of the tools named (those in state), without copying all records."""
        wanted = {key.replace(".", "_", 1) for key in tool_keys}
        with self._guard:
            records = self._loaded()
            return {rec.key: rec.outputs for k in wanted if (rec := records.get(k)) is not None}

    def _loaded(self) -> dict[str, StateRecord]:
        """The records, read from the store on first use. Call it holding `_guard`."""
        if self._records is None:
            self._records = self._read_store()
        return self._records

    def _read_store(self) -> dict[str, StateRecord]:
        """The store's records with every secret in their options fingerprinted, whoever wrote them: plans,
        status, artifacts and deletes never see a secret a record holds in clear. Such records are noted in
        `unsealed`. Call it holding `_guard`."""
        records: dict[str, StateRecord] = {}
        self.unsealed.clear()
        self.from_devstream.clear()
        self._adopted.clear()
        for key, rec in self.store.read().items():
            try:
                options_model = self.options.plugin(rec.name).Options
                if (migrated := without_injected_instance_id(rec, options_model)) is not None:
                    rec = migrated
                    self.from_devstream.add(key)
                sealed = self.options.stored_form(rec.name, dict(rec.options))
            except Exception:  # a plugin that is not installed: its record is left as it is (and fails later)
                sealed = rec.options
            if normalize(sealed) != normalize(rec.options):
                self.unsealed.add(key)
                rec = rec.model_copy(update={"options": sealed})
            records[key] = rec
        return records

    def adopt_live(self, records: Mapping[str, StateRecord], live: Mapping[str, Any]) -> dict[str, StateRecord]:
        """`records` with DevStream's statuses replaced by the live ones (DevStream's statuses are not dtm's:
        the live one is the baseline); `seal_records` writes them so."""
        if not self.from_devstream:
            return dict(records)
        adopted = adopt_live_status(records, live, self.from_devstream)
        with self._guard:
            self._adopted.update(adopted)
        return {**records, **adopted}

    def seal_records(self) -> list[str]:
        """Write the records that the store holds with secrets in clear, or in DevStream's form, again: secrets
        as fingerprints, DevStream's injected instanceID dropped, the status the last plan read live (no plugin
        call: the options are the same); returns their keys."""
        with self._guard:
            keys = sorted(self.unsealed | self.from_devstream)
            records = self._loaded()
            sealed = [self._adopted.get(k, records[k]) for k in keys if k in records]
        for record in sealed:
            self.save(record, "rewrite (migrated from DevStream)" if record.state_key in self.from_devstream
                      else "rewrite (secrets fingerprinted)")
            log.info("%s: state record rewritten in dtm's form (secrets as fingerprints)", record.key)
        with self._guard:
            self.unsealed.difference_update(keys)
            self.from_devstream.difference_update(keys)
            self._adopted.clear()
        return [r.key for r in sealed]

    def _note(self, action: str) -> ChangeNote:
        return ChangeNote(action=action, flow_run=self.flow_run)

    def save(self, record: StateRecord, action: str) -> None:
        self.store.put(record, self._note(action))
        with self._guard:
            if self._records is not None:
                self._records[record.state_key] = record

    def forget(self, state_key: str) -> None:
        self.store.delete(state_key, self._note("delete"))
        with self._guard:
            if self._records is not None:
                self._records.pop(state_key, None)
