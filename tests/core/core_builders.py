"""Builders for the core tests: tools, records and state as the planner sees them."""

from __future__ import annotations

from typing import Any

from devstream.config.models import ToolSpec
from devstream.secrets import fingerprint
from devstream.state.base import StateRecord


def tool(key: str, *depends_on: str, **options: Any) -> ToolSpec:
    name, instance_id = key.split(".", 1)
    return ToolSpec(name=name, instanceID=instance_id, dependsOn=list(depends_on), options=options)


def record(key: str, options: dict | None = None, status: dict | None = None, depends_on: tuple = ()) -> StateRecord:
    name, instance_id = key.split(".", 1)
    return StateRecord(name=name, instanceID=instance_id, dependsOn=list(depends_on), options=options or {},
                       resourceStatus=status or {})


def state(*records: StateRecord) -> dict[str, StateRecord]:
    """State as the stores return it: by `name_instanceID`."""
    return {r.state_key: r for r in records}


def as_is(name: str, options: dict[str, Any]) -> dict[str, Any]:
    return options


def fingerprinting(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Like the engine's stored form for a plugin whose `token` option is a SecretStr."""
    return {**options, "token": fingerprint(options["token"])} if "token" in options else options
