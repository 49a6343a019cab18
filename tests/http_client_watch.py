"""Watching the HTTP clients a plugin makes: `HttpClients` hands them out and keeps each one, so that a test can
tell whether every one was closed. A client left open stays open to the end, whatever the garbage collector does.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


class HttpClients:
    """A `client_factory` for `PluginContext` that hands out what `factory` makes and keeps each client."""

    def __init__(self, factory: Callable[..., httpx.Client]) -> None:
        self.factory = factory
        self.clients: list[httpx.Client] = []

    def __call__(self, **kwargs: Any) -> httpx.Client:
        client = self.factory(**kwargs)
        self.clients.append(client)
        return client

    def unclosed(self) -> list[httpx.Client]:
        return [c for c in self.clients if not c.is_closed]

    def assert_all_closed(self) -> None:
        """At least one client was handed out (else the check proves nothing) and every one is closed; then
        start counting anew."""
        assert self.clients, "no HTTP client was made"
        assert not self.unclosed(), f"{len(self.unclosed())} of {len(self.clients)} HTTP client(s) left open"
        self.clients.clear()
