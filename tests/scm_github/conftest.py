"""Fixtures for the GitHub tests: the stand-in, a plugin context wired to it, and the OpenAPI check.

Every stand-in a test makes records the requests it gets and the answers it gives; after the test, each is
checked against GitHub's OpenAPI description, and any request or answer that does not conform fails the test
(an answer GitHub would not give could teach the client to rely on it). Without the
description (see `github_openapi`), the tests that use the stand-in are skipped, except in CI (`CI` set),
where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from github_openapi import OpenAPIChecker, description_path, install_command
from github_standin import GitHubStandIn
from github_testkit import client_factory, made, make_standin, nonconforming, retrying_transport

from devstream.plugin import PluginContext
from devstream.plugin import http as plugin_http


@pytest.fixture(scope="session")
def openapi() -> OpenAPIChecker:
    path = description_path()
    if not path.is_file():
        message = f"GitHub's OpenAPI description is not at {path}; install it with: {install_command()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return OpenAPIChecker.load(path)


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
