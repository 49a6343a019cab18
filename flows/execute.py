"""Run a Plan inside a flow: one task per change, each waiting for the changes it depends on."""

from __future__ import annotations

import time
from typing import Any

from prefect.futures import PrefectFuture, wait
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from devstream.engine import ChangeOutcome, Workspace
from devstream.plan import Plan, read_targets
from devstream.state import StateRecord
from devstream.summary import ChangeResult, RunSummary
from devstream.tasks.change import apply_change
from devstream.tasks.read import read_resource
from devstream.tasks.retry import backoff


def refresh(ws: Workspace, records: dict[str, StateRecord], parallelism: int = 10) -> dict[str, Any]:
    """Read, as concurrent tasks, the live status of every tool the planner needs."""
    targets = read_targets(ws.config, records, ws.stored_form)
    # A runner of our own, sized by the parameter, so a deployment run can choose its parallelism too.
    with ThreadPoolTaskRunner(max_workers=max(1, parallelism)) as runner:
        futures = {
            tool.state_key: runner.submit(
                read_resource.with_options(task_run_name=f"read {tool.key}", tags=["dtm", f"dtm-plugin-{tool.name}"]),
                {"workspace": quote(ws), "tool": tool, "options": quote(options)})
            for tool, options in targets
        }
        return {k: f.result() for k, f in futures.items()}


def run_plan(ws: Workspace, plan: Plan, *, parallelism: int = 10, retries: int = 3,
             retry_delay: float = 1.0) -> RunSummary:
    """Submit every change with `wait_for` its dependencies; a failure stops only its own dependents."""
    futures: dict[str, PrefectFuture[ChangeOutcome]] = {}
    started = time.monotonic()
    delays = backoff(retries, retry_delay)
    with ThreadPoolTaskRunner(max_workers=max(1, parallelism)) as runner:
        for change in plan.changes:
            upstream = {k: futures[k] for k in change.waits_for if k in futures}
            task = apply_change.with_options(task_run_name=change.title, tags=["dtm", f"dtm-plugin-{change.name}"],
                                             retries=retries, retry_delay_seconds=delays)
            futures[change.key] = runner.submit(
                task, {"workspace": quote(ws), "change": quote(change), "upstream": upstream},
                wait_for=list(upstream.values()))
        wait(list(futures.values()))

    results: dict[str, ChangeResult] = {}
    for change in plan.changes:
        state = futures[change.key].state
        result = ChangeResult(key=change.key, action=change.action.value, result="skipped")
        if state.is_completed():
            outcome: ChangeOutcome = state.result()
            result.result = "succeeded" if outcome.changed else "unchanged"
            result.message, result.seconds = outcome.note, outcome.seconds
        elif state.is_failed() or state.is_crashed():
            exc = state.result(raise_on_failure=False)
            result.result = "failed"
            result.message = str(exc) if isinstance(exc, BaseException) else state.message or ""
        else:
            # Prefect never ran it: an upstream change did not complete (the task is left NotReady).
            blocked = [k for k in change.waits_for if k in results and results[k].result in ("failed", "skipped")]
            result.message = f"not run: {', '.join(blocked) or 'a dependency'} did not succeed"
        results[change.key] = result
    return RunSummary(operation=plan.operation, results=list(results.values()),
                      seconds=round(time.monotonic() - started, 3))
