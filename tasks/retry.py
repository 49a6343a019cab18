"""Which failures Prefect retries: transient ones only (timeouts, 429, 5xx, the SDK's TransientError)."""

from __future__ import annotations

from typing import Any

from devstream.engine import is_transient


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


def backoff(retries: int, base: float) -> list[float]:
    """Exponential delays: base, 2*base, 4*base..."""
    return [base * 2**i for i in range(retries)]
