"""Rate limits: how long a server's rate-limit answer asks dtm to wait, and dtm's error when it is too long.

A rate-limit answer is a 403 or 429 with `Retry-After`, or with no requests left (`X-RateLimit-Remaining: 0`
and `X-RateLimit-Reset`, as GitHub sends them; GitLab's `RateLimit-*` too). dtm waits one out when the limit
resets within `DTM_RATE_LIMIT_WAIT` seconds (default 60); a reset further away is `RateLimitError`. The
retrying transport (devstream.plugin.http, which re-exports these) and the SCM clients use them.
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from devstream.errors import PermanentError, RateLimitError, TransientError

__all__ = ["DEFAULT_RATE_LIMIT_WAIT", "RATE_LIMIT_WAIT_ENV", "parse_retry_after", "rate_limit_error",
           "rate_limit_wait", "rate_limit_wait_bound"]

RATE_LIMIT_WAIT_ENV = "DTM_RATE_LIMIT_WAIT"
DEFAULT_RATE_LIMIT_WAIT = 60.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a zone-less parse must not be read as local time
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def rate_limit_wait_bound() -> float:
    """How long dtm waits for a rate limit to reset (and at most for any `Retry-After`): `DTM_RATE_LIMIT_WAIT`
    seconds, default 60."""
    raw = os.environ.get(RATE_LIMIT_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_RATE_LIMIT_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise PermanentError(f"{RATE_LIMIT_WAIT_ENV}={raw!r}: give the seconds dtm may wait for a rate limit to "
                             f"reset, e.g. {RATE_LIMIT_WAIT_ENV}=60 (0: never wait)")
    return value


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds until the server takes requests again, when `response` is a rate-limit answer; else None.

    A rate-limit answer is a 403 or 429 that says when to come back: `Retry-After`, or no requests left
    (`X-RateLimit-Remaining: 0`, GitLab's `RateLimit-Remaining: 0`) with the reset time as epoch seconds.
    A 403 without them is a refusal, not a rate limit.
    """
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    for prefix in ("x-ratelimit-", "ratelimit-"):
        if headers.get(f"{prefix}remaining", "").strip() == "0":
            try:
                reset = float(headers.get(f"{prefix}reset", ""))
            except ValueError:
                return None
            if not math.isfinite(reset):
                return None
            return max(0.0, reset - time.time())
    return None


def rate_limit_error(response: httpx.Response, where: str) -> RateLimitError | TransientError | None:
    """The error for a rate-limit answer (see `rate_limit_wait`) the transport gave back, naming when the limit
    resets: `RateLimitError` when that is further away than dtm waits, `TransientError` when it is near (the
    limit held through the transport's attempts: worth another try); None when `response` is no rate limit."""
    wait = rate_limit_wait(response)
    if wait is None:
        return None
    resets_at = datetime.now(UTC) + timedelta(seconds=wait)
    when = f"the limit resets at {resets_at.strftime('%Y-%m-%d %H:%M:%S')} UTC (in {_duration(wait)})"
    bound = rate_limit_wait_bound()
    if wait <= bound:
        return TransientError(f"{where}: rate limited ({response.status_code}) through every attempt; {when}")
    return RateLimitError(f"{where}: rate limited ({response.status_code}); {when}, further away than dtm waits "
                          f"({_duration(bound)}, {RATE_LIMIT_WAIT_ENV}); run again after the reset",
                          resets_at=resets_at)


def _duration(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
