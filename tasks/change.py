"""The task of one change: one plugin create/update/delete, then its state record write."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from devstream.engine import Workspace
from devstream.executor import ChangeOutcome
from devstream.plan import Change
from devstream.tasks.retry import DEFAULT_TASK_RETRIES, retry_transient


@task(name="dtm-change", task_run_name="{change.title}", **DEFAULT_TASK_RETRIES,
      retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
def apply_change(workspace: Workspace, change: Change) -> ChangeOutcome:
    """Run `change`. It was submitted with `wait_for` the changes it depends on, whose outputs are in the
    workspace's records by the time it starts. The executor tells the run's progress how it ended."""
    ctx = TaskRunContext.get()
    attempt = ctx.task_run.run_count if ctx else 1
    return workspace.executor.run_change(change, logger=get_run_logger(), attempt=attempt)  # type: ignore[arg-type]
