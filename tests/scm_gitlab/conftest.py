"""Fixtures of the GitLab tests: a stand-in GitLab and a plugin context whose HTTP goes to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from gitlab_standin import GitLabStandIn

from devstream.plugin.base import PluginContext
from devstream.plugin.http import RetryingTransport, http_client


@pytest.fixture
def gitlab() -> GitLabStandIn:
    """A GitLab at gitlab.com with user alice and group acme."""
    standin = GitLabStandIn()
    standin.add_namespace("acme")
    return standin


@pytest.fixture
def ctx(gitlab: GitLabStandIn, tmp_path: Path) -> PluginContext:
    return PluginContext(name="gitlab-ci", instance_id="web", workdir=tmp_path, client_factory=gitlab.client_factory)


@dataclass
class _Refusal:
    method: str
    path: re.Pattern[str]
    status: int
    message: str


class HttpClients:
    """A `client_factory` for `PluginContext`: dtm's client over the stand-in, as `GitLabStandIn.client_factory`
    makes it, that keeps every client it hands out, so that a test can tell whether each one was closed.

    `refuse` makes chosen requests fail before they reach the stand-in: a call that fails midway.
    """

    def __init__(self, gitlab: GitLabStandIn) -> None:
        self.gitlab = gitlab
        self.clients: list[httpx.Client] = []
        self._refusals: list[_Refusal] = []

    def __call__(self, **kwargs: Any) -> httpx.Client:
        transport = RetryingTransport(httpx.MockTransport(self._handle), sleep=self.gitlab.sleeps.append)
        client = http_client(transport=transport, **kwargs)
        self.clients.append(client)
        return client

    def refuse(self, method: str, path: str, status: int = 400, message: str = "refused by the test") -> None:
        """Answer every request whose method matches and whose (unquoted) path the regex finds with `status`."""
        self._refusals.append(_Refusal(method.upper(), re.compile(path), status, message))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.raw_path.decode().partition("?")[0])
        for refusal in self._refusals:
            if request.method == refusal.method and refusal.path.search(path):
                return httpx.Response(refusal.status, json={"message": refusal.message})
        return self.gitlab(request)

    def unclosed(self) -> list[httpx.Client]:
        return [c for c in self.clients if not c.is_closed]

    def assert_all_closed(self) -> None:
        """At least one client was handed out (else the check proves nothing) and every one is closed; then
        start counting anew."""
        assert self.clients, "no HTTP client was made"
        assert not self.unclosed(), f"{len(self.unclosed())} of {len(self.clients)} HTTP client(s) left open"
        self.clients.clear()


@pytest.fixture
def http_clients(gitlab: GitLabStandIn) -> HttpClients:
    """A client factory over the stand-in that keeps the clients it makes (see `HttpClients`)."""
    return HttpClients(gitlab)
