"""A template repository on GitHub Enterprise (or a self-hosted GitLab) is read from that server, and its token
goes to that server only.

DevStream-style options name the server with `baseURL` or `apiURL`; dtm once cloned `scmType: github`
templates from https://github.com whatever they said, handing github.com the Enterprise token. Here the
"Enterprise server" is a real git smart-HTTP server on 127.0.0.1 that records what it receives.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from git_http import GitHttpServer
from scm_git_helpers import bare_repo, remote_files

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin

TOKEN = "ghe-token-0123456789"
PLUGIN = RepoScaffoldingPlugin()


@pytest.fixture(autouse=True)
def _http_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:http")


@pytest.fixture
def ghe(tmp_path: Path) -> Iterator[GitHttpServer]:
    """The Enterprise server, holding the template acme/tpl."""
    root = tmp_path / "ghe"
    bare_repo(root / "acme" / "tpl.git", files={"app.txt.tpl": "[[ AppName ]] from the Enterprise template\n"})
    with GitHttpServer(root) as server:
        yield server


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[GitHttpServer]:
    """Another server (another port) with a template of the same name."""
    root = tmp_path / "elsewhere"
    bare_repo(root / "acme" / "tpl.git", files={"app.txt.tpl": "not this one\n"})
    with GitHttpServer(root) as server:
        yield server


def options(source: dict[str, Any]) -> RepoScaffoldingOptions:
    return RepoScaffoldingOptions.model_validate({
        "sourceRepo": {"org": "acme", "name": "tpl", "token": TOKEN, **source},
        "destinationRepo": {"scmType": "git", "url": "repos/web.git", "name": "web", "branch": "main"},
    })


def sent_token(server: GitHttpServer) -> set[str | None]:
    """The tokens the server received, decoded from the basic-auth headers."""
    found: set[str | None] = set()
    for seen in server.seen:
        if seen.authorization is None:
            found.add(None)
        else:
            found.add(base64.b64decode(seen.authorization.removeprefix("Basic ")).decode().partition(":")[2])
    return found


@pytest.mark.parametrize("server_option", ["baseURL", "apiURL"])
def test_a_github_enterprise_template_is_read_from_its_server_with_its_token(
        ctx: PluginContext, tmp_path: Path, ghe: GitHttpServer, server_option: str) -> None:
    where = ghe.url if server_option == "baseURL" else f"{ghe.url}/api/v3"

    PLUGIN.create(options({"scmType": "github", server_option: where}), ctx)

    assert remote_files(tmp_path / "repos" / "web.git") == {"app.txt": b"web from the Enterprise template\n"}
    assert {s.path.split(".git")[0] for s in ghe.seen} == {"/acme/tpl"}
    assert sent_token(ghe) == {TOKEN}


def test_a_self_hosted_gitlab_template_named_by_its_api_is_read_from_that_server(
        ctx: PluginContext, tmp_path: Path, ghe: GitHttpServer) -> None:
    PLUGIN.create(options({"scmType": "gitlab", "apiURL": f"{ghe.url}/api/v4"}), ctx)

    assert remote_files(tmp_path / "repos" / "web.git") == {"app.txt": b"web from the Enterprise template\n"}
    assert sent_token(ghe) == {TOKEN}


def test_a_url_on_another_server_than_the_token_is_for_is_refused(
        ctx: PluginContext, tmp_path: Path, ghe: GitHttpServer, elsewhere: GitHttpServer) -> None:
    source = {"scmType": "github", "apiURL": f"{ghe.url}/api/v3", "url": f"{elsewhere.url}/acme/tpl.git"}

    with pytest.raises(PermanentError, match=r"is not on http://127\.0\.0\.1:\d+, the server its apiURL names"):
        PLUGIN.create(options(source), ctx)

    assert elsewhere.seen == [] and ghe.seen == []
    assert not (tmp_path / "repos").exists()
