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
def apply_change(workspace: Workspace, change: Change, outcomes: dict[str, ChangeOutcome] | None = None
                 ) -> ChangeOutcome:
    """Run `change`. It was submitted with `wait_for` the changes it depends on, whose outputs are in the
    workspace's records by the time it starts. The executor tells the run's progress how it ended.

    The outcome is also put in `outcomes` (by change key) when given: the flow reads it there, where asking
    Prefect for the task's result costs a trip through Prefect's event loop per change (~4 ms on a busy
    machine, 4 s of a 1,000-change apply spent after its last change)."""
    ctx = TaskRunContext.get()
    attempt = ctx.task_run.run_count if ctx else 1
    outcome = workspace.executor.run_change(change, logger=get_run_logger(), attempt=attempt)  # type: ignore[arg-type]
    if outcomes is not None:
        outcomes[change.key] = outcome
    return outcome
