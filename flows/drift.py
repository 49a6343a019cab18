"""The drift check: read every resource in state, say what changed outside dtm, optionally put it back.

Run on a schedule (the `dtm-drift-check` deployment) or by `dtm drift`. Each drifted or missing resource
is announced as a Prefect event, `dtm.drift.detected`, which an automation may answer by running the apply
deployment (see deployments/automation_drift.py). Finding drift is what the check is for, so it ends
Completed; only a read that failed (or a remediation that did not go through) makes the run Failed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from prefect import flow
from prefect.events import emit_event
from prefect.runtime import flow_run
from prefect.states import Failed, State

from devstream.drift import DriftKind, DriftReport, build_report, remediation_plan
from devstream.engine import Workspace
from devstream.errors import DriftCheckFailed
from devstream.flows.artifacts import publish_drift
from devstream.flows.execute import run_plan, task_reads
from devstream.live import read_live_status
from devstream.state import StateRecord

__all__ = ["DRIFT_EVENT", "check_workspace", "drift_check", "drift_resource_id", "read_everything"]

DRIFT_EVENT = "dtm.drift.detected"


def drift_resource_id(state_name: str, name: str, instance_id: str) -> str:
    """The Prefect resource id of a tool in events: `dtm.<state>.<plugin>.<instanceID>`."""
    return f"dtm.{state_name}.{name}.{instance_id}"


def read_everything(ws: Workspace, records: dict[str, StateRecord], parallelism: int = 10
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """Read, as concurrent tasks, every tool in state that the config still has (the read path's check, see
    devstream/live.py): a failed read does not stop the others. Returns (live statuses, errors) by state key.
    """
    status = read_live_status(ws, records, task_reads(ws, parallelism), check=True)
    return status.live, status.errors


def _announce(report: DriftReport, state_name: str) -> None:
    """One `dtm.drift.detected` event per resource changed outside dtm."""
    for r in report.of(DriftKind.DRIFTED, DriftKind.MISSING):
        emit_event(
            DRIFT_EVENT,
            resource={"prefect.resource.id": drift_resource_id(state_name, r.name, r.instanceID),
                      "prefect.resource.name": r.key, "dtm.state": state_name},
            payload={"fields": r.fields, "kind": r.kind.value, "config": report.config},
        )


def _remediate(ws: Workspace, report: DriftReport, records: dict[str, StateRecord], live: dict[str, Any],
               parallelism: int) -> DriftReport:
    """Re-apply exactly the drifted and missing tools, planned from the statuses already read."""
    plan = remediation_plan(ws.plan(records, live), report.drifted_keys())
    summary = run_plan(ws, plan, parallelism=parallelism)
    outcomes = {r.key: (r.result, r.message) for r in summary.results}
    # A drifted key the planner did not plan (nothing left to do by the time it planned) counts as done.
    for key in report.drifted_keys():
        outcomes.setdefault(key, ("unchanged", "nothing to re-apply"))
    return report.with_remediation(outcomes)


def _check(ws: Workspace, config: str, remediate: bool, parallelism: int, lock_timeout: float
           ) -> DriftReport | State[Any]:
    # A look-only check takes no lock, like `dtm plan`, so a schedule never collides with an apply. A
    # remediating one holds it from the reads to the last write: what it re-applies is planned from
    # statuses that no other run can change in between.
    lock: AbstractContextManager[Any] = (
        ws.store.lock(f"dtm drift --remediate (flow run {flow_run.get_name() or '?'})", timeout=lock_timeout)
        if remediate else nullcontext())
    with lock:
        records = ws.records(reload=True)
        live, errors = read_everything(ws, records, parallelism)
        report = build_report(ws.config, records, live, errors, ws.stored_form, config_ref=config,
                              state=ws.store.description)
        report.flow_run_id = str(flow_run.get_id()) if flow_run.get_id() else None
        _announce(report, ws.config.name)
        if remediate:
            report.remediate = True
            if report.drifted_keys():
                report = _remediate(ws, report, records, live, parallelism)
    publish_drift(report)
    if report.failed:
        # A Failed state ends the run Failed without a Prefect traceback of our own report in the terminal and
        # the logs; calling the flow raises the DriftCheckFailed it carries, with the report.
        failed = DriftCheckFailed(report)
        return Failed(message=str(failed), data=failed)
    return report


@flow(name="dtm-drift-check", validate_parameters=False)
def drift_check(config: str, remediate: bool = False, parallelism: int = 10, lock_timeout: float = 0
                ) -> DriftReport | State[Any]:
    """Compare every resource in state with the config and with its live status; with `remediate`,
    re-apply the drifted and missing ones (waiting up to `lock_timeout` seconds for the state's lock).
    Publishes the report as artifacts and announces drift as events.
    """
    return _check(Workspace.open(config), config, remediate, parallelism, lock_timeout)


def check_workspace(ws: Workspace, *, config: str | None = None, remediate: bool = False, parallelism: int = 10,
                    lock_timeout: float = 0) -> DriftReport:
    """The drift check as one `dtm-drift-check` flow run in this process, on the caller's own workspace (its
    records and the lock it may hold), handed over as the object it is rather than as a parameter. `config`
    is how the caller named the config (the report keeps it); by default, the config's path. A failed check
    raises DriftCheckFailed, which carries the report."""
    def body(config: str, remediate: bool, parallelism: int, lock_timeout: float) -> DriftReport | State[Any]:
        return _check(ws, config, remediate, parallelism, lock_timeout)

    run = flow(name="dtm-drift-check", validate_parameters=False,
               description="dtm drift check started by `dtm drift`")(body)
    report = run(config=config or str(ws.config.path), remediate=remediate, parallelism=parallelism,
                 lock_timeout=lock_timeout)
    assert isinstance(report, DriftReport)  # a run that ended Failed raised its DriftCheckFailed instead
    return report
