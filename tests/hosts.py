"""Several stand-ins behind one transport, each serving its own host: GitHub's beside Trello's, Jira's or
Jenkins', for plugins that call two systems. Wrapped in dtm's retrying transport, as `ctx.http_client` does.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import httpx

from devstream.plugin import http as plugin_http
from devstream.plugin.http import RetryingTransport


class Hosts:
    """One transport; each request goes to the handler of its host (404 for a host no stand-in serves)."""

    def __init__(self, handlers: Mapping[str, Callable[[httpx.Request], httpx.Response]]) -> None:
        self.handlers = dict(handlers)
        self.sleeps: list[float] = []  # what the retrying transport waited

    def handle(self, request: httpx.Request) -> httpx.Response:
        handler = self.handlers.get(request.url.host)
        if handler is None:
            return httpx.Response(404, text=f"no stand-in serves {request.url.host}")
        return handler(request)

    def retrying(self) -> RetryingTransport:
        return RetryingTransport(httpx.MockTransport(self.handle), sleep=self.sleeps.append, attempts=3)

    def client_factory(self) -> Callable[..., httpx.Client]:
        """What `ctx.http_client` builds: dtm's own client and retrying transport, around the stand-ins. Hand it to
        a context (`PluginContext(client_factory=...)`) or to the engine (`run.apply(..., client_factory=...)`)."""
        return functools.partial(plugin_http.http_client, transport=self.retrying())
