"""Opt-in: the GitHub client and the github-actions plugin against the real api.github.com.

Runs only when `DTM_LIVE_GITHUB_TOKEN` and `DTM_LIVE_GITHUB_OWNER` are set (the token's own user; set
`DTM_LIVE_GITHUB_ORG` as well to work in an organisation instead). The token needs the `repo`, `workflow`
and `delete_repo` scopes, and `admin:repo_hook` for the webhooks (or the fine-grained equivalents). Each test
creates a private repository with a unique name and deletes it at the end, whatever happens in between; the
app test goes through `dtm apply`, drift and `dtm destroy` as a user would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_configs import write_app_config
from pydantic import SecretStr

from devstream.cli import run
from devstream.engine import Workspace
from devstream.plugin import PluginContext
from devstream.plugins.github_actions import GitHubActionsOptions, GitHubActionsPlugin
from devstream.plugins.scm.base import RepoSpec, Webhook, git_blob_sha
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


def test_live_webhooks(repo: tuple[RepoSpec, PluginContext]) -> None:
    spec, ctx = repo
    hook = Webhook(url="https://ci.example.com/dtm-live", events=["push"], secret=SecretStr("live-hook-secret"))
    with GitHubClient(spec, ctx) as client:
        made = client.put_webhook(hook)
        again = client.put_webhook(hook.model_copy(update={"events": ["pull_request", "push"]}))
        assert again.id == made.id and again.events == ["pull_request", "push"] and again.has_secret
        assert [h.url for h in client.list_webhooks()] == [hook.url]
        client.delete_webhook(hook.url)
        client.delete_webhook(hook.url)  # already gone: success
        assert client.list_webhooks() == []


@pytest.mark.usefixtures("prefect_server")
def test_live_an_app_through_apply_drift_and_destroy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's story on real GitHub: an app from a template with a github-actions pipeline."""
    name = f"dtm-live-app-{uuid.uuid4().hex[:8]}"
    template = tmp_path / "template"
    template.mkdir()
    (template / "README.md.tpl").write_text("# [[ AppName ]]\n")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(
        "name: [[ AppName ]]\non: workflow_dispatch\njobs:\n  noop: {runs-on: ubuntu-latest, steps: [{run: 'true'}]}\n")
    monkeypatch.setenv("DTM_LIVE_TOKEN_FOR_CONFIG", TOKEN)
    token = '[[ env "DTM_LIVE_TOKEN_FOR_CONFIG" ]]'
    where = {"org": ORG} if ORG else {"owner": OWNER}
    config = write_app_config(
        tmp_path / "dtm.yaml", app=name, repo={"scmType": "github", "token": token, **where},
        pipeline={"name": "gh", "type": "github-actions", "options": {
            "configLocation": "workflows", "secrets": {"DTM_LIVE_SECRET": "live-value"}}})
    spec = RepoSpec.model_validate({"scmType": "github", "name": name, "token": TOKEN, **where})
    ctx = PluginContext(name="repo-scaffolding", instance_id="live", workdir=tmp_path)
    workflow = ".github/workflows/ci.yml"
    try:
        assert run.apply(config_path=config, yes=True) == 0
        with GitHubClient(spec, ctx) as client:
            assert set(client.list_files()) == {"README.md", workflow}
            assert client.list_secrets() == ["DTM_LIVE_SECRET"]
            assert Workspace.open(config).current_plan().empty

            client.push_files({workflow: b"on: push\n"}, "edited by hand")
            (change,) = Workspace.open(config).current_plan().changes
            assert change.key.startswith("github-actions.") and change.action == "update"
            assert run.apply(config_path=config, yes=True) == 0
            got = client.get_file(workflow)
            assert got is not None and got.content.startswith(f"name: {name}".encode())
            assert Workspace.open(config).current_plan().empty

            assert run.destroy(config_path=config, yes=True) == 0
            assert client.describe_repo() is None  # dtm created it, so destroy deleted it
    finally:
        with GitHubClient(spec, ctx) as client:
            client.delete_repo()

