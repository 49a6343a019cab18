"""Fixtures for the GitHub tests: the stand-in, a plugin context wired to it, and the OpenAPI check.

Every stand-in a test makes records the requests it gets and the answers it gives; after the test, each is
checked against GitHub's OpenAPI description, and any request or answer that does not conform fails the test
(an answer GitHub would not give could teach the client to rely on it). The description is fetched (npm,
cached) the first time a session needs it, so these tests never skip (see `github_openapi.description`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github_openapi import OpenAPIChecker, description
from github_standin import GitHubStandIn
from github_testkit import client_factory, made, make_standin, nonconforming

from devstream.executor import ClientFactory
from devstream.plugin import PluginContext


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
def engine_clients(standin: GitHubStandIn) -> ClientFactory:
    """For engine tests: the client factory handed to the engine (`client_factory=` of `run.apply`, `drift.drift`,
    `Workspace.open`...), which builds every plugin context's `ctx.http_client`: dtm's own client and retrying
    transport around the stand-in, one transport for the whole test. Test files whose plugins call a second
    system override it with both stand-ins behind one transport (tests/hosts.py)."""
    return client_factory(standin)
