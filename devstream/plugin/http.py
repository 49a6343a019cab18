"""HTTP for plugins: a client that retries what is worth retrying and never leaks credentials.

`http_client()` builds an `httpx.Client` whose transport is a `RetryingTransport`: timeouts, connection
failures and 429/500/502/503/504 are retried with backoff, honouring `Retry-After`. Transport failures
always leave it as `TransientError` (or `PermanentError` for a malformed request), so a plugin deals only
with dtm's errors. `raise_for_status()` turns a bad final response into one of those errors.

A rate-limit answer (403 or 429 with `Retry-After`, or with `X-RateLimit-Remaining: 0` and
`X-RateLimit-Reset`, as GitHub sends them; GitLab's `RateLimit-*` too) is waited out when the limit resets
within `DTM_RATE_LIMIT_WAIT` seconds (default 60), then the request is sent again; a reset further away is
not waited for: `raise_for_status()` raises `RateLimitError` naming when the limit resets, and nothing
retries it sooner.

URLs are logged and quoted without their query string or user info, where tokens tend to live, and
headers are never logged at all.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_random_exponential

from devstream.errors import PermanentError, RateLimitError, TransientError
from devstream.secrets import scrub

__all__ = [
    "NON_IDEMPOTENT_METHODS",
    "RATE_LIMIT_WAIT_ENV",
    "RETRY_STATUSES",
    "RetryingTransport",
    "http_client",
    "parse_retry_after",
    "raise_for_status",
    "rate_limit_error",
    "rate_limit_wait",
    "rate_limit_wait_bound",
    "safe_url",
]

_default_logger = logging.getLogger("devstream.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RATE_LIMIT_WAIT_ENV = "DTM_RATE_LIMIT_WAIT"
DEFAULT_RATE_LIMIT_WAIT = 60.0
NON_IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})

# Failures where the request provably never reached the server: safe to retry for any method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may have happened after the server acted: retried for idempotent methods only.
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)

# Header values scrubbed from quoted response bodies, in case a server echoes the request back.
_SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "private-token", "cookie")
_EXCERPT_CHARS = 200


def safe_url(url: httpx.URL | str) -> str:
    """The URL without user info, query string or fragment: fit for logs and error messages."""
    return str(httpx.URL(url).copy_with(userinfo=b"", query=None, fragment=None))


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


class RetryingTransport(httpx.BaseTransport):
    """Wraps a transport and retries failed requests with tenacity.

    Retried: timeouts and network errors, and responses 429, 500, 502, 503, 504. A `Retry-After` header
    sets the wait (capped by `max_wait`); otherwise the wait grows exponentially with full jitter.
    POST and PATCH are not idempotent, so they are retried only when the server said when to come back
    (429 or 503 with `Retry-After`) or when the connection was never made.

    A rate-limit answer (see `rate_limit_wait`), whatever the method (the server did not act on it), is
    retried after the reset when it comes within `max_wait` (default: `DTM_RATE_LIMIT_WAIT`, 60 s), and
    not at all otherwise: waiting less than the server asked would only be refused again.

    When attempts run out on a status, the last response is returned and the caller decides. When they
    run out on an exception (or it may not be retried), `TransientError` is raised from it.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        attempts: int = 5,
        max_wait: float | None = None,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.transport = transport if transport is not None else httpx.HTTPTransport()
        self.attempts = attempts
        self.max_wait = rate_limit_wait_bound() if max_wait is None else max_wait
        self.sleep = sleep
        self.logger = logger or _default_logger
        self._backoff = wait_random_exponential(multiplier=backoff, max=max(self.max_wait, backoff))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # A streamed body can be sent once only; buffering it makes the request replayable.
        request.read()
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            retry=lambda state: self._should_retry(request, state),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=lambda state: self._before_sleep(request, state),
            # Out of attempts: hand back the last response, or re-raise the last exception.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        try:
            return retrying(self.transport.handle_request, request)
        except httpx.TransportError as exc:
            where = f"{request.method} {safe_url(request.url)}"
            tries = retrying.statistics.get("attempt_number", 1)
            detail = f"{where}: {type(exc).__name__}: {exc or 'no detail'} (after {tries} attempt(s))"
            if isinstance(exc, _NOT_SENT + _MAYBE_SENT):
                raise TransientError(detail) from exc
            raise PermanentError(detail) from exc  # e.g. an unsupported scheme: retrying cannot help

    def close(self) -> None:
        self.transport.close()

    def _should_retry(self, request: httpx.Request, state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        idempotent = request.method not in NON_IDEMPOTENT_METHODS
        if outcome.failed:
            exc = outcome.exception()
            return isinstance(exc, _NOT_SENT) or (idempotent and isinstance(exc, _MAYBE_SENT))
        response: httpx.Response = outcome.result()
        limited = rate_limit_wait(response)
        if limited is not None:
            return limited <= self.max_wait
        if response.status_code not in RETRY_STATUSES:
            return False
        if idempotent:
            return True
        return response.status_code in (429, 503) and _retry_after(response) is not None

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            delay = rate_limit_wait(outcome.result())
            if delay is None:
                delay = _retry_after(outcome.result())
            if delay is not None:
                return min(delay, self.max_wait)
        return float(self._backoff(state))

    def _before_sleep(self, request: httpx.Request, state: RetryCallState) -> None:
        outcome = state.outcome
        if outcome is None:
            return
        if outcome.failed:
            exc = outcome.exception()
            reason = type(exc).__name__
        else:
            response: httpx.Response = outcome.result()
            reason = f"{response.status_code} {response.reason_phrase}".strip()
            response.close()  # give the connection back to the pool before waiting
        delay = state.next_action.sleep if state.next_action else 0.0
        self.logger.info(
            "%s %s: %s; retry %d/%d in %.1fs",
            request.method,
            safe_url(request.url),
            reason,
            state.attempt_number + 1,
            self.attempts,
            delay,
        )


def _retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


def http_client(
    *,
    base_url: str | httpx.URL = "",
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout = 30.0,
    attempts: int = 5,
    max_wait: float | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger | None = None,
    **kwargs: Any,
) -> httpx.Client:
    """An httpx client for plugins: retries (see `RetryingTransport`), a timeout, credential-free logs.

    `transport` is the transport to wrap (tests pass `httpx.MockTransport`); a `RetryingTransport` is used
    as it is. Other keyword arguments go to `httpx.Client`; `event_hooks` are kept, after dtm's own.
    """
    if timeout is None:
        raise ValueError("http_client needs a timeout: a call without one can hang a run forever")
    log = logger or _default_logger
    if not isinstance(transport, RetryingTransport):
        transport = RetryingTransport(transport, attempts=attempts, max_wait=max_wait, sleep=sleep, logger=log)

    def log_response(response: httpx.Response) -> None:
        request = response.request
        log.debug("%s %s -> %d", request.method, safe_url(request.url), response.status_code)

    hooks: dict[str, list[Callable[..., Any]]] = {"request": [], "response": [log_response]}
    for event, callbacks in (kwargs.pop("event_hooks", None) or {}).items():
        hooks.setdefault(event, []).extend(callbacks)
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        transport=transport,
        event_hooks=hooks,
        **kwargs,
    )


def raise_for_status(response: httpx.Response) -> httpx.Response:
    """Return the response if it succeeded (status < 400); otherwise raise dtm's error for it.

    A rate-limit answer (which the transport did not wait out: the reset is too far) raises `RateLimitError`
    naming when the limit resets. Otherwise 408, 429 and 5xx raise `TransientError` (worth retrying later);
    other 4xx raise `PermanentError`. The message names the method, the URL without its query, the status
    and a short body excerpt.
    """
    status = response.status_code
    if status < 400:
        return response
    try:
        request: httpx.Request | None = response.request
    except RuntimeError:  # a response built by hand has no request
        request = None
    where = f"{request.method} {safe_url(request.url)}" if request is not None else "HTTP request"
    limited = rate_limit_error(response, where)
    if limited is not None:
        raise limited
    message = f"{where} returned {status} {response.reason_phrase}".rstrip()
    excerpt = _body_excerpt(response, request)
    if excerpt:
        message += f": {excerpt}"
    if status in (408, 429) or status >= 500:
        raise TransientError(message)
    raise PermanentError(message)


def _body_excerpt(response: httpx.Response, request: httpx.Request | None) -> str:
    try:
        response.read()
        text = response.text
    except (httpx.StreamError, UnicodeDecodeError):
        return ""
    text = scrub(" ".join(text.split()), _secrets(request))
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


def _secrets(request: httpx.Request | None) -> list[str]:
    """The request's credentials: the URL's password, and auth header values whole and without scheme."""
    if request is None:
        return []
    found: list[str] = [request.url.password] if request.url.password else []
    for name in _SECRET_HEADERS:
        for value in request.headers.get_list(name):
            found.append(value)
            scheme, _, credential = value.partition(" ")
            if credential.strip() and re.fullmatch(r"[A-Za-z-]+", scheme):
                found.append(credential.strip())
    return found  # scrub masks the longest first: a whole header value before the token inside it


class _RedactURLs(logging.Filter):
    """httpx logs every request with its full URL at INFO; keep query strings and user info out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(safe_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _install_httpx_log_filter() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactURLs) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactURLs())


_install_httpx_log_filter()
