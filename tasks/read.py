"""The task of one live read: the refresh step of a plan made inside a flow run."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from devstream.config.models import ToolSpec
from devstream.engine import Workspace
from devstream.tasks.retry import DEFAULT_TASK_RETRIES, retry_transient


@task(name="dtm-read", task_run_name="read {tool.key}", **DEFAULT_TASK_RETRIES,
      retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
def read_resource(workspace: Workspace, tool: ToolSpec, options: dict[str, Any]) -> dict[str, Any] | None:
    """The tool's live status, or None when it does not exist."""
    return workspace.executor.read_live(tool, options, logger=get_run_logger())  # type: ignore[arg-type]
