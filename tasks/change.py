"""The task of one change: one plugin create/update/delete, then its state record write."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from devstream.engine import ChangeOutcome, Workspace
from devstream.plan import Change
from devstream.tasks.retry import DEFAULT_TASK_RETRIES, retry_transient


@task(name="dtm-change", task_run_name="{change.title}", **DEFAULT_TASK_RETRIES,
      retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
def apply_change(workspace: Workspace, change: Change) -> ChangeOutcome:
    """Run `change`. It was submitted with `wait_for` the changes it depends on, whose outputs are in the
    workspace's records by the time it starts."""
    ctx = TaskRunContext.get()
    attempt = ctx.task_run.run_count if ctx else 1
    started = time.monotonic()
    try:
        outcome = workspace.run_change(change, logger=get_run_logger(), attempt=attempt)  # type: ignore[arg-type]
    except Exception:
        workspace.notify(change.key, "failed")
        raise
    outcome.seconds = round(time.monotonic() - started, 3)
    workspace.notify(change.key, "succeeded" if outcome.changed else "unchanged")
    return outcome
