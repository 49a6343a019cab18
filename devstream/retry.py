"""One retry policy for every plugin call dtm retries, wherever it runs.

A live read or a change that fails transiently (a timeout, a 429 or 5xx the HTTP layer gave up on, the SDK's
`TransientError`) is tried again after a pause that doubles each time: `delay`, `2*delay`, `4*delay`... up to
`retries` more times. Inside a flow, Prefect retries the task with exactly these numbers (`task_options`),
so each retry shows in the UI; outside one (`dtm plan`, `apply`'s and `verify`'s planning reads, `dtm show
status`), `call` retries with tenacity. A rate limit whose reset is far away is not transient
(`RateLimitError`): it fails at once, naming the reset.

The defaults (3 retries, 1 s first pause: 1 + 2 + 4 s) can be set with `DTM_RETRIES` and `DTM_RETRY_DELAY`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from devstream.errors import ConfigError, TransientError

__all__ = ["RETRIES_ENV", "RETRY_DELAY_ENV", "RetryPolicy", "is_transient"]

RETRIES_ENV = "DTM_RETRIES"
RETRY_DELAY_ENV = "DTM_RETRY_DELAY"
T = TypeVar("T")
log = logging.getLogger("devstream")


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: the SDK's TransientError, httpx timeouts and transport errors, 429 and 5xx."""
    if isinstance(exc, TransientError | httpx.TimeoutException | httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return False


def _env_number(name: str, default: float, integer: bool) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if not math.isfinite(value) or value < 0:
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigError(f"{name}={raw!r}: must be {kind}, 0 or more (unset it for the default, {default:g})")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    retries: int = 3
    delay: float = 1.0

    @classmethod
    def from_env(cls, retries: int | None = None, delay: float | None = None) -> RetryPolicy:
        """The policy `DTM_RETRIES` / `DTM_RETRY_DELAY` set (defaults 3 and 1 s); explicit values win."""
        return cls(retries=int(_env_number(RETRIES_ENV, cls.retries, True)) if retries is None else retries,
                   delay=_env_number(RETRY_DELAY_ENV, cls.delay, False) if delay is None else delay)

    def delays(self) -> list[float]:
        """The pause before each retry: delay, 2*delay, 4*delay..."""
        return [self.delay * 2**i for i in range(self.retries)]

    def task_options(self) -> dict[str, Any]:
        """The same policy as Prefect task options (`Task.with_options(**...)`)."""
        return {"retries": self.retries, "retry_delay_seconds": self.delays()}

    def call(self, fn: Callable[..., T], *args: Any, what: str = "", logger: logging.Logger | None = None,
             **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, retried on transient errors; the last error is raised as it was."""
        delays = self.delays()
        logger = logger or log

        def pause(state: RetryCallState) -> float:
            return delays[min(state.attempt_number, len(delays)) - 1]

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning("%s failed (%s); retry %d/%d in %gs", what or getattr(fn, "__name__", "call"), exc,
                           state.attempt_number, self.retries, pause(state))

        retrying = Retrying(stop=stop_after_attempt(self.retries + 1), wait=pause,
                            retry=retry_if_exception(is_transient), before_sleep=note, reraise=True)
        return retrying(fn, *args, **kwargs)
