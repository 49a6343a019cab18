"""The three-way planner: config x saved state x live status -> Plan.

Pure: no I/O. Live statuses are read beforehand (concurrently, see refresh.py or the flows) and passed in.
For each tool, in dependency order:
- not in state: create;
- in state, options differ from the stored options (both normalised through JSON, secrets fingerprinted):
  update, naming the fields;
- otherwise the live status decides: None means deleted outside dtm (create); a status that differs from
  the stored one is drift (update); equal means nothing to do;
- a tool that references outputs of a tool that is changing is re-checked at apply time: updated only if
  its inputs really changed.
Every state record with no tool in the config: delete, dependents first. Deletes run before creates and
updates, so a resource renamed in the config is never created and then deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from devstream.config.models import Config, StateKey, ToolSpec
from devstream.errors import UnresolvedReferenceError
from devstream.graph import Graph
from devstream.jsonish import diff_paths, normalize
from devstream.outputs import find_references, resolve
from devstream.state.base import StateRecord

__all__ = [
    "Action",
    "Change",
    "NOT_READ",
    "Plan",
    "plan_apply",
    "plan_delete",
    "plan_destroy",
    "read_targets",
]


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Change(StateKey, BaseModel):
    """One planned change. `waits_for` are the keys of changes in the same plan that must finish first."""

    key: str
    name: str
    instanceID: str
    action: Action
    reason: str
    before: Any = None
    after: Any = None
    waits_for: list[str] = Field(default_factory=list)
    only_if_inputs_change: bool = False

    @property
    def title(self) -> str:
        return f"{self.action.value} {self.key}"


class Plan(BaseModel):
    """An ordered list of changes; `operation` says which command planned it."""

    operation: Literal["apply", "delete", "destroy"] = "apply"
    changes: list[Change] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for c in self.changes:
            out[c.action.value] += 1
        return out

    def as_json(self) -> dict[str, Any]:
        """The machine-readable plan of `dtm plan --json` (format_version 1)."""
        return {
            "format_version": "1",
            "operation": self.operation,
            "changes": [
                {"key": c.key, "name": c.name, "instanceID": c.instanceID, "action": c.action.value,
                 "reason": c.reason, "before": c.before, "after": c.after}
                for c in self.changes
            ],
        }

    def fingerprint(self) -> str:
        """sha256 of the whole plan (every change, with its before and after): names a plan without holding
        its values, e.g. in a flow run's parameters."""
        data = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(data.encode()).hexdigest()

    def only(self, keys: Iterable[str]) -> Plan:
        """The part of the plan that `--target KEY` asks for: those keys and the changes they wait for."""
        wanted = set(keys)
        by_key = {c.key: c for c in self.changes}
        todo = [k for k in wanted if k in by_key]
        keep: set[str] = set()
        while todo:
            k = todo.pop()
            if k not in keep:
                keep.add(k)
                todo.extend(by_key[k].waits_for)
        changes = [c.model_copy(update={"waits_for": [w for w in c.waits_for if w in keep]})
                   for c in self.changes if c.key in keep]
        return Plan(operation=self.operation, changes=changes)


class _NotRead:
    def __repr__(self) -> str:
        return "NOT_READ"


NOT_READ: Any = _NotRead()
"""Stands in the live map for a tool whose status was not read (its options changed anyway)."""

# Normalises options for storage and comparison: (plugin name, resolved options) -> stored form, which
# fingerprints secrets. The planner does not know plugins; the engine passes this in.
StoredForm = Callable[[str, dict[str, Any]], dict[str, Any]]


def record_outputs(records: Mapping[str, StateRecord]) -> dict[str, dict[str, Any]]:
    """The outputs in state, by tool key: what references resolve against."""
    return {r.key: r.outputs for r in records.values()}


def desired_options(tool: ToolSpec, outputs: Mapping[str, Mapping[str, Any]], stored_form: StoredForm
                    ) -> dict | None:
    """The options a tool would be stored with, or None while a referenced output is not known yet."""
    try:
        resolved = resolve(tool.options, outputs)
    except UnresolvedReferenceError:
        return None
    return normalize(stored_form(tool.name, resolved))


def resolvable_in_state(config: Config, records: Mapping[str, StateRecord]
                        ) -> Iterator[tuple[ToolSpec, StateRecord, Any]]:
    """Every tool in both config and state whose references resolve: the tool, its record, its resolved options."""
    outputs = record_outputs(records)
    for tool in config.tools:
        rec = records.get(tool.state_key)
        if rec is None:
            continue
        try:
            resolved = resolve(tool.options, outputs)
        except UnresolvedReferenceError:
            continue
        yield tool, rec, resolved


def read_targets(config: Config, records: Mapping[str, StateRecord], stored_form: StoredForm,
                 ) -> list[tuple[ToolSpec, dict[str, Any]]]:
    """The tools whose live status the planner needs, with the resolved options to read them with.

    Only tools in state whose options did not change: a changed tool is updated whatever its status.
    """
    return [(tool, resolved) for tool, rec, resolved in resolvable_in_state(config, records)
            if not diff_paths(normalize(rec.options), normalize(stored_form(tool.name, resolved)))]


def plan_apply(config: Config, records: Mapping[str, StateRecord], live: Mapping[str, Any],
               stored_form: StoredForm, graph: Graph | None = None) -> Plan:
    """Plan what `dtm apply` does. `live` maps state keys to read statuses (None: does not exist)."""
    graph = graph or Graph.from_tools(config.tools)
    by_key = config.by_key
    deletes = _orphan_deletes(config, records)
    after_deletes = [c.key for c in deletes]
    changes: dict[str, Change] = {}
    outputs = record_outputs(records)  # once: per tool it would make planning O(N^2)
    for key in graph.order():
        tool = by_key[key]
        change = _plan_tool(tool, records, outputs, live, stored_form, changes)
        if change is not None:
            change.waits_for = [d for d in sorted(graph.deps[key]) if d in changes] + after_deletes
            changes[key] = change
    return Plan(operation="apply", changes=deletes + list(changes.values()))


def _plan_tool(tool: ToolSpec, records: Mapping[str, StateRecord], outputs: Mapping[str, Mapping[str, Any]],
               live: Mapping[str, Any], stored_form: StoredForm, changing: Mapping[str, Change]) -> Change | None:
    rec = records.get(tool.state_key)
    want = desired_options(tool, outputs, stored_form)

    def change(action: Action, reason: str, before: Any, after: Any, **kw: Any) -> Change:
        return Change(key=tool.key, name=tool.name, instanceID=tool.instanceID, action=action, reason=reason,
                      before=before, after=after, **kw)

    # While a referenced output is unknown, show the options with references unresolved, secrets hidden.
    shown = want if want is not None else normalize(stored_form(tool.name, tool.options))
    if rec is None:
        return change(Action.CREATE, "not in state", None, {"options": shown})
    stored = normalize(rec.options)
    if want is None:
        unknown = ", ".join(str(r) for r in _unresolved(tool, outputs))
        return change(Action.UPDATE, f"options changed: {unknown} not known yet", {"options": stored},
                      {"options": shown})
    fields = diff_paths(stored, want)
    if fields:
        return change(Action.UPDATE, "options changed: " + ", ".join(fields), {"options": stored},
                      {"options": want})
    status = live.get(tool.state_key, NOT_READ)
    if status is None:
        return change(Action.CREATE, "deleted outside dtm", {"resourceStatus": normalize(rec.resourceStatus)}, None)
    if status is not NOT_READ:
        was, now = normalize(rec.resourceStatus), normalize(status)
        drift = diff_paths(was, now)
        if drift:
            return change(Action.UPDATE, "drifted: " + ", ".join(f"status.{p}" for p in drift),
                          {"resourceStatus": was}, {"resourceStatus": now})
    pending = sorted({r.tool_key for r in find_references(tool.options) if r.tool_key in changing})
    if pending:
        return change(Action.UPDATE, f"inputs from {', '.join(pending)} may change", {"options": stored},
                      {"options": want}, only_if_inputs_change=True)
    return None


def _unresolved(tool: ToolSpec, outputs: Mapping[str, Mapping[str, Any]]) -> list:
    out = []
    for ref in find_references(tool.options):
        try:
            resolve(str(ref), outputs)
        except UnresolvedReferenceError:
            out.append(ref)
    return out


def _delete_order(records: Iterable[StateRecord]) -> tuple[list[StateRecord], Graph]:
    recs = list(records)
    keys = {r.key for r in recs}
    graph = Graph([r.key for r in recs], {r.key: [d for d in r.dependsOn if d in keys] for r in recs})
    by_key = {r.key: r for r in recs}
    return [by_key[k] for k in reversed(graph.order())], graph


def _deletes(records: Iterable[StateRecord], reason: str) -> list[Change]:
    ordered, graph = _delete_order(records)
    return [
        Change(key=r.key, name=r.name, instanceID=r.instanceID, action=Action.DELETE, reason=reason,
               before={"options": normalize(r.options), "resourceStatus": normalize(r.resourceStatus)},
               after=None, waits_for=sorted(graph.dependents.get(r.key, set())))
        for r in ordered
    ]


def _orphan_deletes(config: Config, records: Mapping[str, StateRecord]) -> list[Change]:
    in_config = {t.state_key for t in config.tools}
    return _deletes([r for k, r in records.items() if k not in in_config], "not in config")


def plan_destroy(records: Mapping[str, StateRecord]) -> Plan:
    """Delete everything in state, dependents first."""
    return Plan(operation="destroy", changes=_deletes(records.values(), "destroy"))


def plan_delete(config: Config, records: Mapping[str, StateRecord], stored_form: StoredForm,
                force: bool = False) -> Plan:
    """Delete the tools of the config, dependents first; with `force`, also those not in state."""
    present = {r.key: r for r in records.values()}
    graph = Graph.from_tools(config.tools)
    chosen: list[StateRecord] = []
    for tool in config.tools:
        rec = present.get(tool.key)
        if rec is None and force:
            rec = StateRecord(name=tool.name, instanceID=tool.instanceID, dependsOn=tool.dependsOn,
                              options=stored_form(tool.name, tool.options))
        if rec is not None:
            deps = sorted(set(rec.dependsOn) | graph.deps[tool.key])
            chosen.append(rec.model_copy(update={"dependsOn": deps}))
    reason = "in config (delete)" if not force else "in config (delete --force)"
    return Plan(operation="delete", changes=_deletes(chosen, reason))
