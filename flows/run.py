"""The flows a user runs: apply, delete, destroy and plan, from the CLI or as deployments.

A deployment run (`apply`, `delete`, `destroy`, `plan`; see prefect.yaml) gets the config path and plans
inside the flow, refreshing live status with read tasks. A CLI run has planned already, with the state
locked, and the user confirmed that plan: `run_confirmed` hands the flow the workspace and the plan
themselves, never as flow-run parameters. Prefect refuses parameters over 512 KB (a plan of ~1,900 creates)
and keeps them in its database for good, so parameters carry only the config path, the plan's fingerprint
and the run's settings: no option value. The state's lock is held for the whole run (re-entrant, so the
CLI's lock covers the flow it starts). `retries` and `retry_delay` default to dtm's retry policy
(devstream/retry.py: 3 retries after 1, 2 and 4 s, or DTM_RETRIES / DTM_RETRY_DELAY), the one that also
retries reads outside a flow.
"""

from __future__ import annotations

import threading
from typing import Any

from prefect import flow
from prefect.runtime import flow_run
from prefect.states import Cancelled, Failed, State
from prefect.utilities.annotations import quote

from devstream.engine import Workspace
from devstream.errors import ChangesFailed, DtmError, RunInterrupted
from devstream.flows.artifacts import publish_plan, publish_results, publish_state
from devstream.flows.execute import refresh, run_plan
from devstream.flows.predecessor import bury_predecessor, note_this_run
from devstream.plan import Plan, plan_delete, plan_destroy
from devstream.summary import RunSummary

__all__ = ["apply", "delete", "destroy", "plan", "run_confirmed"]


def _holder(operation: str) -> str:
    """Who holds the state's lock, as a refusal will name it: the command and this flow run."""
    return f"dtm {operation} (flow run {flow_run.get_name() or '?'} {flow_run.get_id() or ''})".replace(" )", ")")


def _run(ws: Workspace, plan: Plan, parallelism: int, retries: int | None, retry_delay: float | None,
         stop: threading.Event | None = None) -> RunSummary | State[Any]:
    # Under the lock: this run is on record as its holder, and a killed predecessor is marked Crashed.
    note_this_run(ws)
    bury_predecessor(ws)
    publish_plan(plan, ws.config.name)
    summary = run_plan(ws, plan, parallelism=parallelism, retries=retries, retry_delay=retry_delay, stop=stop)
    summary.flow_run_id = flow_run.get_id()
    publish_results(summary, ws.config.name)
    publish_state(ws.records(), ws.config.name, ws.store.description)
    if summary.interrupted:
        # The run ends Cancelled (what it is), quietly; calling the flow raises the RunInterrupted it carries.
        interrupted = RunInterrupted(summary)
        return Cancelled(message=str(interrupted), data=interrupted)
    if not summary.ok:
        # The run must end Failed. Returning a Failed state (rather than raising) spares the terminal and the
        # run's logs a Prefect traceback of our own summary; calling the flow still raises ChangesFailed, which
        # carries the summary the CLI prints.
        failed = ChangesFailed(summary)
        return Failed(message=str(failed), data=failed)
    return summary


def run_confirmed(ws: Workspace, confirmed: Plan, *, parallelism: int = 10, retries: int | None = None,
                  retry_delay: float | None = None, lock_timeout: float = 0, stop: threading.Event | None = None
                  ) -> RunSummary:
    """Run a plan the user confirmed, in this process, as one flow run named `dtm-<operation>`.

    The flow is built around this workspace and this plan (a closure: the explicit hand-over, no registry
    of open workspaces). Its parameters record the plan's fingerprint, and the flow refuses to run a plan
    whose fingerprint differs: the run in Prefect's history is the plan the user saw. Setting `stop` (Ctrl-C)
    starts no further change; the changes in flight finish and the call raises RunInterrupted.
    """
    def body(config: str, plan_fingerprint: str, changes: int, parallelism: int, retries: int | None,
             retry_delay: float | None, lock_timeout: float) -> quote | State[Any]:
        if plan_fingerprint != confirmed.fingerprint() or changes != len(confirmed.changes):
            raise DtmError(f"refusing to {confirmed.operation}: the plan handed to this flow run is not the plan "
                           f"that was confirmed (fingerprint {plan_fingerprint}); nothing was changed")
        with ws.store.lock(_holder(confirmed.operation), timeout=lock_timeout):
            outcome = _run(ws, confirmed, parallelism, retries, retry_delay, stop)
        # Quoted: Prefect walks a flow's return value looking for futures, every field of every result (0.2 s
        # for 5,000 changes on an idle machine, after the last change); the caller is this function.
        return quote(outcome) if isinstance(outcome, RunSummary) else outcome

    run = flow(name=f"dtm-{confirmed.operation}", validate_parameters=False,
               description=f"dtm {confirmed.operation} of a plan confirmed in the CLI")(body)
    outcome = run(config=str(ws.config.path), plan_fingerprint=confirmed.fingerprint(), changes=len(confirmed.changes),
                  parallelism=parallelism, retries=retries, retry_delay=retry_delay, lock_timeout=lock_timeout)
    # A run that ended Cancelled or Failed raised its exception instead.
    assert isinstance(outcome, quote) and isinstance(outcome.unquote(), RunSummary)
    return outcome.unquote()


@flow(name="dtm-apply", validate_parameters=False)
def apply(config: str, targets: list[str] | None = None, parallelism: int = 10, retries: int | None = None,
          retry_delay: float | None = None, lock_timeout: float = 0) -> RunSummary | State[Any]:
    """Make the toolchain match the config: create, update and delete, concurrently, dependencies first."""
    ws = Workspace.open(config)
    with ws.store.lock(_holder("apply"), timeout=lock_timeout):
        records = ws.records(reload=True)
        planned = ws.plan(records, refresh(ws, records, parallelism))
        ws.seal_records()  # records with secrets in clear (DevStream's) are written with fingerprints only
        if targets:
            planned = planned.only(targets)
        return _run(ws, planned, parallelism, retries, retry_delay)


@flow(name="dtm-delete", validate_parameters=False)
def delete(config: str, force: bool = False, parallelism: int = 10, retries: int | None = None,
           retry_delay: float | None = None, lock_timeout: float = 0) -> RunSummary | State[Any]:
    """Delete the config's tools, dependents first."""
    ws = Workspace.open(config)
    with ws.store.lock(_holder("delete"), timeout=lock_timeout):
        planned = plan_delete(ws.config, ws.records(reload=True), ws.stored_form, force=force)
        return _run(ws, planned, parallelism, retries, retry_delay)


@flow(name="dtm-destroy", validate_parameters=False)
def destroy(config: str, parallelism: int = 10, retries: int | None = None, retry_delay: float | None = None,
            lock_timeout: float = 0) -> RunSummary | State[Any]:
    """Delete everything in the state, dependents first."""
    ws = Workspace.open(config)
    with ws.store.lock(_holder("destroy"), timeout=lock_timeout):
        return _run(ws, plan_destroy(ws.records(reload=True)), parallelism, retries, retry_delay)


@flow(name="dtm-plan", validate_parameters=False)
def plan(config: str, parallelism: int = 10) -> Plan:
    """Plan without changing anything; the plan is published as a markdown artifact."""
    ws = Workspace.open(config)
    records = ws.records(reload=True)
    result = ws.plan(records, refresh(ws, records, parallelism))
    publish_plan(result, ws.config.name)
    return result
