"""HTTP for plugins: a client that retries what is worth retrying and never leaks credentials.

`http_client()` builds an `httpx.Client` whose transport is a `RetryingTransport`: timeouts, connection
failures and 429/500/502/503/504 are retried with backoff, honouring `Retry-After`. Transport failures
always leave it as `TransientError` (or `PermanentError` for a malformed request), so a plugin deals only
with dtm's errors. `raise_for_status()` turns a bad final response into one of those errors; a system's
client ends its handling of an answer it did not want with `fail()` (or takes its JSON with `json_answer()`),
which says where it happened, adds the system's advice for a status (401: which credentials to check) and
masks the client's secrets.

A rate-limit answer (403 or 429 with `Retry-After`, or with `X-RateLimit-Remaining: 0` and
`X-RateLimit-Reset`, as GitHub sends them; GitLab's `RateLimit-*` too) is waited out when the limit resets
within `DTM_RATE_LIMIT_WAIT` seconds (default 60), then the request is sent again; a reset further away is
not waited for: `raise_for_status()` raises `RateLimitError` naming when the limit resets, and nothing
retries it sooner (the rules: rate_limits.py).

URLs are logged and quoted without their query string or user info, where tokens tend to live, and
headers are never logged at all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import httpx
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_random_exponential

from devstream.errors import PermanentError, RateLimitError, TransientError
from devstream.plugin.rate_limits import (
    DEFAULT_RATE_LIMIT_WAIT,
    RATE_LIMIT_WAIT_ENV,
    parse_retry_after,
    rate_limit_error,
    rate_limit_wait,
    rate_limit_wait_bound,
)
from devstream.secrets import scrub

__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT",
    "NON_IDEMPOTENT_METHODS",
    "RATE_LIMIT_WAIT_ENV",
    "RETRY_STATUSES",
    "RetryingTransport",
    "fail",
    "http_client",
    "json_answer",
    "parse_retry_after",
    "raise_for_status",
    "rate_limit_error",
    "rate_limit_wait",
    "rate_limit_wait_bound",
    "safe_url",
]

_default_logger = logging.getLogger("devstream.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
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


def fail(response: httpx.Response, where: str, *, advice: Mapping[int, str] | None = None,
         secrets: Sequence[str] = ()) -> NoReturn:
    """Raise dtm's error for an answer that is not what `where` (such as "Jenkins https://ci: read job web")
    needed. Every client of a system's API ends this way, so the rule lives here.

    A status in `advice` raises `PermanentError` with that advice: what the system means by it and what to
    check (`{401: "Jenkins refused the user and password (401); check jenkins.user and jenkins.password"}`).
    Any other error status raises what `raise_for_status` raises (`RateLimitError`, `TransientError` or
    `PermanentError`); an answer that is no error, only not the one wanted, `PermanentError`. Each message
    starts with `where` and has every value of `secrets` masked (`***`), however short.
    """
    status = response.status_code
    if advice and status in advice:
        raise PermanentError(scrub(f"{where}: {advice[status]}", secrets, min_length=1))
    try:
        raise_for_status(response)
    except RateLimitError as exc:
        raise RateLimitError(scrub(f"{where}: {exc}", secrets, min_length=1), resets_at=exc.resets_at) from None
    except (PermanentError, TransientError) as exc:
        raise type(exc)(scrub(f"{where}: {exc}", secrets, min_length=1)) from None
    raise PermanentError(scrub(f"{where}: unexpected answer {status} {response.reason_phrase}", secrets,
                               min_length=1))


def json_answer(response: httpx.Response, where: str, *, ok: Sequence[int] = (200,),
                advice: Mapping[int, str] | None = None, secrets: Sequence[str] = ()) -> Any:
    """The JSON of an answer whose status is one of `ok`; any other raises as `fail` says (with `advice` and
    `secrets`), and an answer that is not JSON raises `PermanentError` naming `where`."""
    if response.status_code not in ok:
        fail(response, where, advice=advice, secrets=secrets)
    try:
        return response.json()
    except ValueError:
        raise PermanentError(f"{where}: the answer is not JSON") from None


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
