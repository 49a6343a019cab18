"""Which failures Prefect retries: transient ones only (timeouts, 429, 5xx, the SDK's TransientError).

How often and how long apart is the workspace's `RetryPolicy` (devstream/retry.py), the same policy that
retries reads outside a flow: the flows give it to each task as options.
"""

from __future__ import annotations

from typing import Any

from devstream.retry import RetryPolicy, is_transient

DEFAULT_TASK_RETRIES = RetryPolicy().task_options()
"""The default policy as task options, for the tasks' decorators (a flow passes its workspace's own)."""


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)
