"""State records and the StateStore protocol every backend implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devstream.config.models import ToolKeys

__all__ = ["ChangeNote", "FlowRunRef", "StateRecord", "StateStore", "first_error"]


class StateRecord(ToolKeys, BaseModel):
    """What dtm remembers about one tool, keyed `name_instanceID` as DevStream keyed it.

    `options` are the options the tool was last applied with, references resolved and secrets replaced
    by fingerprints; `resourceStatus` is what the plugin returned, with `outputs` inside.
    """

    model_config = ConfigDict(extra="allow")

    name: str
    instanceID: str
    dependsOn: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    resourceStatus: dict[str, Any] = Field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        out = self.resourceStatus.get("outputs") or {}
        return out if isinstance(out, dict) else {}


@dataclass(frozen=True)
class FlowRunRef:
    """The flow run a change was part of, as a person finds it: its id, its name and its page in the UI."""

    id: str
    name: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ChangeNote:
    """What wrote a record: the change's action, and its flow run when there was one. A backend that can keep
    it (the `prefect` one) shows it beside the record; DevStream's state file has no place for it."""

    action: str
    flow_run: FlowRunRef | None = None

    def as_json(self) -> dict[str, Any]:
        note: dict[str, Any] = {"action": self.action, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        if self.flow_run is not None:
            note["flowRun"] = {"id": self.flow_run.id, "name": self.flow_run.name, "url": self.flow_run.url}
        return note


def first_error(exc: ValidationError) -> str:
    """`loc.path: message` of a record's first validation error, as corruption messages quote it."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid"))


class StateStore(Protocol):
    """Where state records live. Writes are per record: one change, one small write.

    Implementations are safe to call from several threads of one process (the apply flow writes each
    record from the task that made the change).
    """

    description: str

    def read(self) -> dict[str, StateRecord]:
        """Every record, by state key (`name_instanceID`)."""
        ...

    def put(self, record: StateRecord, note: ChangeNote | None = None) -> None:
        """Save one record (create or replace); `note` says what change wrote it."""
        ...

    def delete(self, state_key: str, note: ChangeNote | None = None) -> None:
        """Forget one record; forgetting a missing record is not an error."""
        ...

    def lock(self, command: str, timeout: float = 0) -> AbstractContextManager[None]:
        """Hold the state's lock; raises StateLockedError naming the holder. Re-entrant in one process."""
        ...

    def force_unlock(self) -> dict[str, Any] | None:
        """Release the lock whoever holds it; returns who held it, or None."""
        ...

    def note_holder(self, **fields: str) -> None:
        """Add `fields` (e.g. the flow run) to this process's holder record; nothing if it does not hold the lock."""
        ...

    def taken_over(self) -> dict[str, Any] | None:
        """The holder record of a gone run whose lock this process took over, once; None if it took none."""
        ...

    def flush(self) -> None:
        """Make everything written so far durable in the backend's canonical form."""
        ...
