"""A small, typed door to the Prefect server's REST API for the `prefect` state backend and its lock.

`devstream/` never imports prefect, so the backend speaks HTTP to the server named by `PREFECT_API_URL`
(plus `PREFECT_API_KEY` as a Bearer token when set, as Prefect's own client does). Every call goes through
`devstream.plugin.http.http_client`, whose transport retries connection failures, timeouts and 5xx for
idempotent methods. On top of that, as Prefect's own client does (PREFECT_CLIENT_MAX_RETRIES), every call
is retried with backoff for up to `BUSY_SECONDS` while the server answers 429, 502 or 503: Prefect's
server answers 503 only when its database was busy and the transaction rolled back, so nothing was done
and any request may be sent again. 500 and 504 are retried only for calls that are safe to repeat
(`retry=True`). A connection that fails after the server has answered once (the server restarting, a
reset) is retried for up to `RECONNECT_SECONDS`; a server that never answered fails at once (a wrong URL).

Failures become `StateError`s that name the server (never the API key) and what to check.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Collection
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, stop_after_delay, wait_random_exponential

from devstream.errors import PermanentError, PrefectUnavailableError, StateError, TransientError
from devstream.plugin.http import http_client, safe_url
from devstream.secrets import scrub

__all__ = ["PrefectApi", "api_url_from_env", "name_hash", "slug"]

logger = logging.getLogger("devstream.state")

API_URL_ENV = "PREFECT_API_URL"
API_KEY_ENV = "PREFECT_API_KEY"
DEFAULT_TIMEOUT = 30.0
# Answers that mean the request was not carried out: retried for every method.
_BUSY_STATUSES = frozenset({429, 502, 503})
# Also retried for a request that may safely be repeated (`retry=True`).
_RETRY_STATUSES = _BUSY_STATUSES | {500, 504}
# How long a busy server is given, as Prefect's client gives it (5 retries, 2 + 4 + 8 + 16 + 32 s).
BUSY_SECONDS = 60.0
# How long a server that answered before may take to come back (a restart takes 5-15 s).
RECONNECT_SECONDS = 20.0
# The longest pause between two tries. On SQLite, a 503 means a write found the database locked by another
# write, most often the server's own event persister, which writes in bursts after a run: the lull between
# bursts is short, and a pause of up to 8 s slept through it (the lock's release after a 1,000-task apply
# took 11-15 s in three runs of four, 0.6-6.5 s in five runs asking again within 2 s).
MAX_PAUSE_SECONDS = 2.0

_NEEDS_SERVER = (
    "the prefect state backend needs a Prefect server and PREFECT_API_URL is not set: start one "
    "(`prefect server start`) and point dtm at it (`export PREFECT_API_URL=http://127.0.0.1:4200/api`), "
    "or keep the state in a local file (state: {backend: local})"
)


def api_url_from_env() -> str:
    """`PREFECT_API_URL` from the environment, without a trailing slash; StateError if it is unset."""
    url = (os.environ.get(API_URL_ENV) or "").strip()
    if not url:
        raise StateError(_NEEDS_SERVER)
    return url.rstrip("/")


def slug(text: str, max_length: int | None = None, empty: str = "x") -> str:
    """Lowercase letters, digits and single dashes only (what artifact keys allow), at most `max_length`;
    `empty` when nothing is left.

    Different texts may share a slug ("My App", "my_app"); callers add `name_hash` to keep them apart.
    """
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    out = out[:max_length].rstrip("-")
    return out or empty


def name_hash(*parts: str) -> str:
    """8 hex digits of the SHA-256 of `parts`, NUL-separated so ("ab", "c") and ("a", "bc") differ."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8]


class PrefectApi:
    """JSON calls to one Prefect server, with dtm's retries, a timeout on each call and clear errors.

    `client` may be any `httpx.Client` (tests pass one that counts bytes); it is used with absolute URLs,
    so its own `base_url` does not matter. Without one, an `http_client()` is built and owned.
    """

    def __init__(
        self,
        api_url: str | None = None,
        *,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        busy_seconds: float = BUSY_SECONDS,
        reconnect_seconds: float = RECONNECT_SECONDS,
    ) -> None:
        self.url = (api_url or api_url_from_env()).rstrip("/")
        self.safe_url = safe_url(self.url)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.busy_seconds = busy_seconds
        self.reconnect_seconds = reconnect_seconds
        # Whether the server has answered this client once: only then is a failed connection worth waiting
        # for (it is restarting); before, it is a wrong URL or a server that is not there.
        self.answered = False
        self._sleep = sleep
        self._owns_client = client is None
        self.client = client if client is not None else http_client(timeout=timeout, attempts=attempts)
        key = (os.environ.get(API_KEY_ENV) or "").strip()
        self._api_key = key or None
        # Sent with each request rather than set on the client, so a client passed in gets it too.
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}

    def close(self) -> None:
        """Close the HTTP client if this object built it."""
        if self._owns_client:
            self.client.close()

    # -- calls --------------------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        ok: Collection[int] = (),
        retry: bool = False,
        what: str,
    ) -> httpx.Response:
        """Send one request; return the response if it succeeded or its status is in `ok`.

        `retry` marks a request that may be repeated safely (a read, a renewal, an idempotent write):
        it is then retried on 500 and 504 too, even as a POST. `what` says in errors what dtm was doing.
        Raises PrefectUnavailableError when the server stayed away or busy, StateError for other failures.
        """
        url = f"{self.url}{path}"

        def send() -> httpx.Response:
            try:
                response = self.client.request(method, url, json=json, headers=self._headers, timeout=self.timeout)
            except (TransientError, PermanentError) as exc:
                # The retrying transport has already tried; say what to check instead of how it failed.
                raise PrefectUnavailableError(
                    f"cannot reach the Prefect server at {self.safe_url} to {what}: {self._scrub(str(exc))}; "
                    f"check that the server is running and that {API_URL_ENV} points at its API "
                    "(e.g. http://127.0.0.1:4200/api)"
                ) from exc
            except httpx.HTTPError as exc:  # a client passed in without dtm's transport
                raise PrefectUnavailableError(
                    f"cannot reach the Prefect server at {self.safe_url} to {what}: {type(exc).__name__}; "
                    f"check that the server is running and that {API_URL_ENV} points at its API"
                ) from exc
            self.answered = True
            return response

        statuses = (_RETRY_STATUSES if retry else _BUSY_STATUSES) - set(ok)
        started = time.monotonic()

        def again(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None:
                return False
            if outcome.failed:
                reconnecting = self.answered and time.monotonic() - started < self.reconnect_seconds
                return isinstance(outcome.exception(), PrefectUnavailableError) and reconnecting
            return bool(outcome.result().status_code in statuses)

        retrying = Retrying(
            stop=stop_after_delay(self.busy_seconds),
            retry=again,
            wait=wait_random_exponential(multiplier=0.5, max=MAX_PAUSE_SECONDS),
            sleep=self._sleep,
            before_sleep=lambda state: logger.debug("the Prefect server is busy or away; trying again to %s", what),
            # Out of time: the last response (a busy status becomes an error below) or the last exception.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        response = retrying(send)
        if response.status_code < 400 or response.status_code in ok:
            return response
        raise self.error(response, what)

    def artifact_version_ids(self, keys: list[str], page_size: int, what: str) -> dict[str, list[str]]:
        """The ids of every version of the artifacts `keys`, by key (a retried write may have left two)."""
        ids: dict[str, list[str]] = {}
        step = max(1, page_size // 2)
        for start in range(0, len(keys), step):
            chunk, offset = keys[start:start + step], 0
            while True:
                items = self.call("POST", "/artifacts/filter", retry=True, what=what, json={
                    "artifacts": {"key": {"any_": chunk}}, "sort": "ID_DESC", "limit": page_size, "offset": offset,
                }).json()
                for item in items:
                    ids.setdefault(item["key"], []).append(item["id"])
                if len(items) < page_size:
                    break
                offset += len(items)
        return ids

    def error(self, response: httpx.Response, what: str) -> StateError:
        """The StateError for a failed response: the server's own detail, never the API key."""
        status = response.status_code
        detail = self._scrub(self._detail(response))
        where = f"the Prefect server at {self.safe_url}"
        if status in (401, 403):
            hint = f"; check {API_KEY_ENV} (and that {API_URL_ENV} is the server you mean)"
            return StateError(f"{where} refused to {what}: {status} {detail}{hint}")
        if status in _BUSY_STATUSES:
            return PrefectUnavailableError(
                f"{where} stayed busy for {self.busy_seconds:g} s and could not {what}: {status} {detail}; "
                "try again later, or give the server more capacity (PostgreSQL for many concurrent runs)"
            )
        if status >= 500:
            return StateError(
                f"{where} failed to {what}: {status} {detail} (after retries); check the server's logs "
                "and that its database is reachable"
            )
        if status in (404, 405):
            # Usually a URL without its `/api` path: the UI answers instead of the API.
            hint = f"; check that {API_URL_ENV} is the server's API URL, ending in /api"
            return StateError(f"{where} has no API route to {what}: {status} {detail}{hint}")
        return StateError(f"{where} rejected the request to {what}: {status} {detail}")

    @staticmethod
    def _detail(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            text = " ".join(response.text.split())
            return text[:200] or response.reason_phrase
        detail = body.get("detail", body) if isinstance(body, dict) else body
        text = detail if isinstance(detail, str) else str(detail)
        return text[:300]

    def _scrub(self, text: str) -> str:
        """Mask the API key, should a server or proxy ever echo it back."""
        return scrub(text, [self._api_key], min_length=1)
