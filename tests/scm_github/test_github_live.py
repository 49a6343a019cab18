"""Opt-in: the GitHub client and the github-actions plugin against the real api.github.com.

Runs only when `DTM_LIVE_GITHUB_TOKEN` and `DTM_LIVE_GITHUB_OWNER` are set (the token's own user; set
`DTM_LIVE_GITHUB_ORG` as well to work in an organisation instead). The token needs the `repo`, `workflow`
and `delete_repo` scopes (or the fine-grained equivalents). A private repository with a unique name is
created and deleted again at the end, whatever happens in between.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstream.plugin import PluginContext
from devstream.plugins.github_actions import GitHubActionsOptions, GitHubActionsPlugin
from devstream.plugins.scm.base import RepoSpec, git_blob_sha
from devstream.plugins.scm.github import GitHubClient

TOKEN = os.environ.get("DTM_LIVE_GITHUB_TOKEN", "")
OWNER = os.environ.get("DTM_LIVE_GITHUB_OWNER", "")
ORG = os.environ.get("DTM_LIVE_GITHUB_ORG", "")

pytestmark = pytest.mark.skipif(not (TOKEN and OWNER), reason="live GitHub test: set DTM_LIVE_GITHUB_TOKEN and "
                                                               "DTM_LIVE_GITHUB_OWNER to run it")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[RepoSpec, PluginContext]]:
    where = {"org": ORG} if ORG else {"owner": OWNER}
    spec = RepoSpec.model_validate({"scmType": "github", "name": f"dtm-live-{uuid.uuid4().hex[:10]}",
                                    "token": TOKEN, **where})
    ctx = PluginContext(name="github-actions", instance_id="live", workdir=tmp_path)
    with GitHubClient(spec, ctx) as client:
        client.create_repo(description="dtm live test; safe to delete")
        try:
            yield spec, ctx
        finally:
            client.delete_repo()


def test_live_files_secrets_and_the_plugin(repo: tuple[RepoSpec, PluginContext]) -> None:
    spec, ctx = repo
    with GitHubClient(spec, ctx) as client:
        assert client.list_files() == {}
        files = {"README.md": b"# live\n", "bin/data": b"\x00\x01\xff", "docs/a.md": b"a\n"}
        client.push_files(files, "first push")  # an empty repository: the first commit
        assert client.list_files() == {p: git_blob_sha(c) for p, c in files.items()}
        client.push_files({"docs/a.md": b"b\n"}, "second", delete=["bin/data"])
        got = client.get_file("docs/a.md")
        assert got is not None and got.content == b"b\n"
        assert set(client.list_files()) == {"README.md", "docs/a.md"}

    options = GitHubActionsOptions.model_validate({
        "scm": spec.model_dump(exclude_none=True) | {"token": TOKEN},
        "pipeline": {"configContents": {"ci.yml": "name: [[ AppName ]]\non: workflow_dispatch\njobs:\n"
                                                  "  noop: {runs-on: ubuntu-latest, steps: [{run: 'true'}]}\n"},
                     "secrets": {"DTM_LIVE_SECRET": "value"}}})
    plugin = GitHubActionsPlugin()
    status = plugin.create(options, ctx)
    assert plugin.read(options, ctx) == status
    assert status["secrets"] == ["DTM_LIVE_SECRET"]
    plugin.delete(options, ctx)
    after = plugin.read(options, ctx)
    assert after is not None and after["secrets"] == [] and set(after["workflows"].values()) == {None}
