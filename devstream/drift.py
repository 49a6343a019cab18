"""Drift: how each resource in state compares with the config and with what is live.

Pure: no I/O, no prefect. The drift-check flow reads live statuses (as Prefect tasks) and hands them in;
this module decides, per state record, one of:

- `in_sync`: options as stored, live status as stored;
- `drifted`: the live status differs from the stored one (the changed field paths, compared exactly as
  the planner compares them: `diff_paths` of the normalised statuses);
- `missing`: the read says the resource does not exist any more;
- `config_changed`: the config's options differ from the stored ones; that is a pending update of the
  user's own making, not drift, so it is never remediated nor announced as drift;
- `not_in_config`: in state, no longer in the config (the next apply deletes it);
- `error`: the read failed; the message comes in with secrets already scrubbed.

`drifted` and `missing` are what the outside world changed; those are the keys a remediation re-applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from devstream.config.models import Config, StateKey, ToolSpec
from devstream.errors import DriftCheckFailed, UnresolvedReferenceError
from devstream.jsonish import diff_paths, normalize
from devstream.outputs import resolve
from devstream.plan import Plan, StoredForm, desired_options, record_outputs, resolvable_in_state
from devstream.state.base import StateRecord

__all__ = [
    "DriftCheckFailed",
    "DriftKind",
    "DriftReport",
    "ResourceDrift",
    "build_report",
    "drift_targets",
    "drifted_fields",
    "remediation_plan",
]

Remediation = Literal["succeeded", "unchanged", "failed", "skipped"]

# Markdown lists every resource that needs attention; resources in sync only while the list stays short,
# so a 10,000-tool state still gives a readable artifact of modest size.
_MARKDOWN_IN_SYNC_ROWS = 50
_MARKDOWN_FIELDS = 10


class DriftKind(StrEnum):
    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    CONFIG_CHANGED = "config_changed"
    NOT_IN_CONFIG = "not_in_config"
    ERROR = "error"


# The kinds `dtm apply` would act on: a check that finds any of them exits 2.
_PENDING = (DriftKind.DRIFTED, DriftKind.MISSING, DriftKind.CONFIG_CHANGED, DriftKind.NOT_IN_CONFIG)


class ResourceDrift(StateKey, BaseModel):
    """One state record's verdict.

    `fields` are paths inside `resourceStatus` for `drifted`, inside `options` for `config_changed`,
    and empty otherwise. `remediation` is set only for resources a remediating check re-applied.
    """

    key: str
    name: str
    instanceID: str
    kind: DriftKind
    fields: list[str] = Field(default_factory=list)
    message: str = ""
    remediation: Remediation | None = None
    remediation_message: str = ""


class DriftReport(BaseModel):
    """What one drift check found (and, when asked, what it put back)."""

    format_version: Literal["1"] = "1"
    config: str
    config_name: str
    state: str = ""
    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    remediate: bool = False
    flow_run_id: str | None = None
    resources: list[ResourceDrift] = Field(default_factory=list)

    # -- questions -----------------------------------------------------------------------------------
    def of(self, *kinds: DriftKind) -> list[ResourceDrift]:
        return [r for r in self.resources if r.kind in kinds]

    def counts(self) -> dict[str, int]:
        out = {k.value: 0 for k in DriftKind}
        for r in self.resources:
            out[r.kind.value] += 1
        return out

    def drifted_keys(self) -> list[str]:
        """The keys changed outside dtm (drifted or missing): what a remediation re-applies."""
        return [r.key for r in self.of(DriftKind.DRIFTED, DriftKind.MISSING)]

    def remediated_keys(self) -> list[str]:
        return [r.key for r in self.resources if r.remediation in ("succeeded", "unchanged")]

    @property
    def in_sync(self) -> bool:
        return all(r.kind is DriftKind.IN_SYNC for r in self.resources)

    @property
    def failed(self) -> bool:
        """A read failed, or a remediation did not go through: the check itself did not do its job."""
        return bool(self.of(DriftKind.ERROR)) or any(r.remediation in ("failed", "skipped") for r in self.resources)

    def exit_code(self) -> int:
        """0 all in sync; 2 drift, missing, config changed or not in config (remediated or not); 1 failed."""
        if self.failed:
            return 1
        return 2 if self.of(*_PENDING) else 0

    def line(self) -> str:
        counts = self.counts()
        text = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n) or "nothing in state"
        if self.remediate and self.drifted_keys():
            text += f"; remediated {len(self.remediated_keys())} of {len(self.drifted_keys())}"
        return text

    # -- changes -------------------------------------------------------------------------------------
    def with_remediation(self, outcomes: Mapping[str, tuple[Remediation, str]]) -> DriftReport:
        """A copy noting, per key, how its re-apply ended (result, message)."""
        resources = [
            r.model_copy(update={"remediation": outcomes[r.key][0], "remediation_message": outcomes[r.key][1]})
            if r.key in outcomes else r
            for r in self.resources
        ]
        return self.model_copy(update={"resources": resources, "remediate": True})

    # -- renderings ----------------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        """The machine-readable report of `dtm drift --json` (format_version 1)."""
        return {
            "format_version": self.format_version,
            "config": self.config,
            "config_name": self.config_name,
            "state": self.state,
            "checked_at": self.checked_at.isoformat(),
            "flow_run_id": self.flow_run_id,
            "in_sync": self.in_sync,
            "exit_code": self.exit_code(),
            "counts": self.counts(),
            "drifted": self.drifted_keys(),
            "remediate": self.remediate,
            "remediated": self.remediated_keys(),
            "resources": [
                {"key": r.key, "name": r.name, "instanceID": r.instanceID, "kind": r.kind.value,
                 "fields": r.fields, "message": r.message, "remediation": r.remediation,
                 "remediation_message": r.remediation_message}
                for r in self.resources
            ],
        }

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per resource, for a table artifact."""
        return [
            {"tool": r.key, "status": r.kind.value, "fields": ", ".join(r.fields), "detail": r.message,
             "remediation": r.remediation or "", "remediation_message": r.remediation_message}
            for r in self.resources
        ]

    def markdown(self) -> str:
        head = f"# dtm drift check for `{self.config_name}`\n\n"
        head += f"Checked {len(self.resources)} resource(s) in {_cell(self.state or self.config)} at "
        head += f"{self.checked_at.isoformat(timespec='seconds')}: {self.line()}.\n\n"
        if not self.resources:
            return head + "The state is empty: nothing to check.\n"
        if self.in_sync:
            head += "No drift: every resource matches the state and the config.\n\n"
        attention = [r for r in self.resources if r.kind is not DriftKind.IN_SYNC]
        calm = [r for r in self.resources if r.kind is DriftKind.IN_SYNC]
        shown = attention + (calm if len(calm) <= _MARKDOWN_IN_SYNC_ROWS else [])
        remediation = any(r.remediation for r in self.resources)
        cols = "| tool | status | fields | detail |" + (" remediation |" if remediation else "")
        sep = "|---|---|---|---|" + ("---|" if remediation else "")
        rows = []
        for r in shown:
            fields = ", ".join(f"`{f}`" for f in r.fields[:_MARKDOWN_FIELDS])
            if len(r.fields) > _MARKDOWN_FIELDS:
                fields += f" and {len(r.fields) - _MARKDOWN_FIELDS} more"
            row = f"| `{r.key}` | {r.kind.value} | {_cell(fields)} | {_cell(r.message)} |"
            if remediation:
                row += f" {_cell(' '.join(filter(None, [r.remediation or '', r.remediation_message])))} |"
            rows.append(row)
        body = cols + "\n" + sep + "\n" + "\n".join(rows) + "\n"
        if len(shown) < len(self.resources):
            body += f"\n…and {len(self.resources) - len(shown)} more resource(s) in sync.\n"
        return head + body


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def drift_targets(config: Config, records: Mapping[str, StateRecord]) -> list[tuple[ToolSpec, dict[str, Any]]]:
    """Every tool in both config and state, with the resolved options to read it with.

    Unlike the planner's `read_targets`, tools whose options changed are read too: a drift check reads
    everything it can. Records no longer in the config are not read: their stored options hold secrets only
    as fingerprints, so there is nothing trustworthy to read them with. Nor are tools whose references
    cannot resolve yet (a referenced output is missing from state).
    """
    return [(tool, resolved) for tool, _, resolved in resolvable_in_state(config, records)]


def build_report(config: Config, records: Mapping[str, StateRecord], live: Mapping[str, Any],
                 errors: Mapping[str, str], stored_form: StoredForm, *, config_ref: str | None = None,
                 state: str = "", checked_at: datetime | None = None) -> DriftReport:
    """The verdict on every record in state, tools in config order, then records the config no longer has.

    `live` maps state keys to read statuses (None: does not exist); `errors` maps state keys to the
    scrubbed message of a failed read. `config_ref` is how the caller named the config (kept in the report
    and in events, so a remediation run resolves it the same way); the loaded path by default.
    """
    outputs = record_outputs(records)
    resources = [_verdict(tool, records[tool.state_key], outputs, live, errors, stored_form)
                 for tool in config.tools if tool.state_key in records]
    in_config = {t.state_key for t in config.tools}
    for state_key in sorted(k for k in records if k not in in_config):
        rec = records[state_key]
        resources.append(ResourceDrift(key=rec.key, name=rec.name, instanceID=rec.instanceID,
                                       kind=DriftKind.NOT_IN_CONFIG,
                                       message="in state but not in the config: the next apply deletes it"))
    return DriftReport(config=config_ref or str(config.path), config_name=config.name, state=state,
                       checked_at=checked_at or datetime.now(UTC), resources=resources)


def _verdict(tool: ToolSpec, rec: StateRecord, outputs: Mapping[str, Mapping[str, Any]], live: Mapping[str, Any],
             errors: Mapping[str, str], stored_form: StoredForm) -> ResourceDrift:
    def verdict(kind: DriftKind, fields: list[str] | None = None, message: str = "") -> ResourceDrift:
        return ResourceDrift(key=tool.key, name=tool.name, instanceID=tool.instanceID, kind=kind,
                             fields=fields or [], message=message)

    # A failed read comes first: whatever else is true, the check could not see this resource.
    if tool.state_key in errors:
        return verdict(DriftKind.ERROR, message=errors[tool.state_key])
    want = desired_options(tool, outputs, stored_form)
    if want is None:
        try:
            resolve(tool.options, outputs, "options")
            reason = "a referenced output is not known yet"
        except UnresolvedReferenceError as exc:
            reason = str(exc)
        return verdict(DriftKind.CONFIG_CHANGED, message=f"options reference outputs not known yet: {reason}")
    changed = diff_paths(normalize(rec.options), want)
    if changed:
        # The config moved, not the world: `apply` updates it, and its live status says nothing about drift.
        return verdict(DriftKind.CONFIG_CHANGED, changed, "options changed in the config: " + ", ".join(changed))
    if tool.state_key not in live:
        return verdict(DriftKind.ERROR, message="its live status was not read")
    status = live[tool.state_key]
    if status is None:
        return verdict(DriftKind.MISSING, message="deleted outside dtm")
    drift = drifted_fields(rec, status)
    if drift:
        return verdict(DriftKind.DRIFTED, drift, "changed outside dtm: " + ", ".join(drift))
    return verdict(DriftKind.IN_SYNC)


def drifted_fields(rec: StateRecord, status: Mapping[str, Any]) -> list[str]:
    """The fields where a resource's live status differs from the one dtm recorded after its last change."""
    return diff_paths(normalize(rec.resourceStatus), normalize(status))


def remediation_plan(plan: Plan, keys: Iterable[str]) -> Plan:
    """Exactly the planned changes of `keys`, each waiting only for the others among them.

    `Plan.only` alone would also bring in what those changes wait for: every delete of a record no longer
    in the config, and updates of dependencies whose config changed. Putting drift back must not delete
    resources or roll out config edits nobody reviewed, so those waits are dropped first.
    """
    wanted = set(keys)
    pruned = Plan(operation=plan.operation, changes=[
        c.model_copy(update={"waits_for": [w for w in c.waits_for if w in wanted]}) for c in plan.changes])
    return pruned.only(wanted)
