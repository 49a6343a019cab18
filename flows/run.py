"""The flows a user runs: apply, delete, destroy and plan, from the CLI or as deployments.

Each takes the config path. From the CLI, the plan the user confirmed is passed in; a deployment run
(no plan given) plans inside the flow, refreshing live status with read tasks. The state's lock is held
for the whole run (re-entrant, so the CLI's lock covers the flow it starts). `retries` and `retry_delay`
default to dtm's retry policy (devstream/retry.py: 3 retries after 1, 2 and 4 s, or DTM_RETRIES /
DTM_RETRY_DELAY), the one that also retries reads outside a flow.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run
from prefect.states import Failed, State

from devstream.engine import Workspace
from devstream.flows.artifacts import publish_plan, publish_results, publish_state
from devstream.flows.execute import refresh, run_plan
from devstream.flows.predecessor import bury_predecessor, note_this_run
from devstream.plan import Plan, plan_delete, plan_destroy
from devstream.summary import ChangesFailed, RunSummary


def _holder(operation: str) -> str:
    """Who holds the state's lock, as a refusal will name it: the command and this flow run."""
    return f"dtm {operation} (flow run {flow_run.get_name() or '?'} {flow_run.get_id() or ''})".replace(" )", ")")


def _run(ws: Workspace, plan: Plan, parallelism: int, retries: int | None, retry_delay: float | None
         ) -> RunSummary | State[Any]:
    # Under the lock: this run is on record as its holder, and a killed predecessor is marked Crashed.
    note_this_run(ws)
    bury_predecessor(ws)
    publish_plan(plan, ws.config.name)
    summary = run_plan(ws, plan, parallelism=parallelism, retries=retries, retry_delay=retry_delay)
    summary.flow_run_id = flow_run.get_id()
    publish_results(summary, ws.config.name)
    publish_state(ws.records(), ws.config.name, ws.store.description)
    if not summary.ok:
        # The run must end Failed. Returning a Failed state (rather than raising) spares the terminal and the
        # run's logs a Prefect traceback of our own summary; calling the flow still raises ChangesFailed, which
        # carries the summary the CLI prints.
        failed = ChangesFailed(summary)
        return Failed(message=str(failed), data=failed)
    return summary


@flow(name="dtm-apply", validate_parameters=False)
def apply(config: str, plan: Plan | None = None, targets: list[str] | None = None, parallelism: int = 10,
          retries: int | None = None, retry_delay: float | None = None, lock_timeout: float = 0
          ) -> RunSummary | State[Any]:
    """Make the toolchain match the config: create, update and delete, concurrently, dependencies first."""
    ws = Workspace.open(config)
    with ws.store.lock(_holder("apply"), timeout=lock_timeout):
        if plan is None:
            records = ws.records(reload=True)
            plan = ws.plan(records, refresh(ws, records, parallelism))
        ws.seal_records()  # records with secrets in clear (DevStream's) are written with fingerprints only
        if targets:
            plan = plan.only(targets)
        return _run(ws, plan, parallelism, retries, retry_delay)


@flow(name="dtm-delete", validate_parameters=False)
def delete(config: str, plan: Plan | None = None, force: bool = False, parallelism: int = 10,
           retries: int | None = None, retry_delay: float | None = None, lock_timeout: float = 0
          ) -> RunSummary | State[Any]:
    """Delete the config's tools, dependents first."""
    ws = Workspace.open(config)
    with ws.store.lock(_holder("delete"), timeout=lock_timeout):
        plan = plan or plan_delete(ws.config, ws.records(reload=True), ws.stored_form, force=force)
        return _run(ws, plan, parallelism, retries, retry_delay)


@flow(name="dtm-destroy", validate_parameters=False)
def destroy(config: str, plan: Plan | None = None, parallelism: int = 10, retries: int | None = None,
            retry_delay: float | None = None, lock_timeout: float = 0) -> RunSummary | State[Any]:
    """Delete everything in the state, dependents first."""
    ws = Workspace.open(config)
    with ws.store.lock(_holder("destroy"), timeout=lock_timeout):
        plan = plan or plan_destroy(ws.records(reload=True))
        return _run(ws, plan, parallelism, retries, retry_delay)


@flow(name="dtm-plan", validate_parameters=False)
def plan(config: str, parallelism: int = 10) -> Plan:
    """Plan without changing anything; the plan is published as a markdown artifact."""
    ws = Workspace.open(config)
    records = ws.records(reload=True)
    result = ws.plan(records, refresh(ws, records, parallelism))
    publish_plan(result, ws.config.name)
    return result
