"""Fixtures for the GitHub tests: the stand-in, a plugin context wired to it, and the OpenAPI check.

Every stand-in a test makes records the requests it gets and the answers it gives; after the test, each is
checked against GitHub's OpenAPI description, and any request or answer that does not conform fails the test
(an answer GitHub would not give could teach the client to rely on it). The description is fetched (npm,
cached) the first time a session needs it, so these tests never skip (see `github_openapi.description`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from github_openapi import OpenAPIChecker, description
from github_standin import GitHubStandIn
from github_testkit import client_factory, made, make_standin, nonconforming, retrying_transport

from devstream.plugin import PluginContext
from devstream.plugin import http as plugin_http


@pytest.fixture(scope="session")
def openapi() -> OpenAPIChecker:
    return OpenAPIChecker.load(description())


@pytest.fixture(autouse=True)
def _requests_conform() -> Iterator[None]:
    """After each test: every request sent to a stand-in, and every answer it gave, conforms to GitHub's OpenAPI
    description."""
    made.clear()
    yield
    found = list(made)
    made.clear()
    for standin, checker in found:
        problems = nonconforming(standin, checker)
        assert not problems, "requests or answers GitHub's OpenAPI description does not allow:\n" + "\n".join(problems)


@pytest.fixture
def standin(openapi: OpenAPIChecker) -> GitHubStandIn:
    return make_standin(openapi)


@pytest.fixture
def ctx(standin: GitHubStandIn, tmp_path: Path) -> PluginContext:
    return PluginContext(name="github-actions", instance_id="app", workdir=tmp_path,
                         client_factory=client_factory(standin))


@pytest.fixture
def serve_standin(standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch) -> GitHubStandIn:
    """For engine tests: every context's default client factory serves the stand-in (the engine builds its
    own contexts, which use `devstream.plugin.http.http_client` when given no factory)."""
    real = plugin_http.http_client
    transport = retrying_transport(standin)

    def patched(**kwargs: object) -> httpx.Client:
        kwargs["transport"] = transport
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(plugin_http, "http_client", patched)
    return standin
