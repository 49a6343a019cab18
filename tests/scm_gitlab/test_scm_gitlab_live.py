"""Opt-in: the GitLab client and the gitlab-ci plugin against a real GitLab.

Runs only when DTM_LIVE_GITLAB_TOKEN (a token with the `api` scope) and DTM_LIVE_GITLAB_NAMESPACE (a group,
or the token's own user, that may hold a throwaway project) are set; DTM_LIVE_GITLAB_URL points at a
self-hosted GitLab (default https://gitlab.com). It creates a private project named `dtm-live-<random>`,
works on it, and deletes it (on gitlab.com the deletion may only be scheduled). The app test goes through
`dtm apply`, drift and `dtm destroy` as a user would.
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
from devstream.plugin.base import PluginContext
from devstream.plugins.gitlab_ci import GitLabCIOptions, GitLabCIPlugin
from devstream.plugins.scm.base import RepoSpec, Webhook, git_blob_sha
from devstream.plugins.scm.gitlab import GitLabClient

TOKEN = os.environ.get("DTM_LIVE_GITLAB_TOKEN", "")
NAMESPACE = os.environ.get("DTM_LIVE_GITLAB_NAMESPACE", "")
URL = os.environ.get("DTM_LIVE_GITLAB_URL", "https://gitlab.com")

pytestmark = pytest.mark.skipif(not (TOKEN and NAMESPACE),
                                reason="set DTM_LIVE_GITLAB_TOKEN and DTM_LIVE_GITLAB_NAMESPACE to run against GitLab")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[RepoSpec, PluginContext]]:
    spec = RepoSpec(scmType="gitlab", org=NAMESPACE, name=f"dtm-live-{uuid.uuid4().hex[:8]}", branch="master",
                    baseURL=URL, token=SecretStr(TOKEN))
    ctx = PluginContext(name="gitlab-ci", instance_id="live", workdir=tmp_path)
    client = GitLabClient(spec, ctx)
    try:
        yield spec, ctx
    finally:
        client.delete_repo()
        client.close()


def test_the_client_and_the_plugin_on_a_real_project(live: tuple[RepoSpec, PluginContext]) -> None:
    spec, ctx = live
    with GitLabClient(spec, ctx) as client:
        assert client.describe_repo() is None
        info = client.create_repo(description="dtm live test; safe to delete")
        assert info.full_name.endswith(spec.name or "")
        assert client.create_repo().id == info.id  # "has already been taken" -> described
        assert client.list_files() == {}

        first = client.push_files({"README.md": b"# live\n", "ci/a.sh": b"echo a\n"}, "dtm live: init")
        assert client.push_files({"README.md": b"# live\n"}, "dtm live: no-op") == first
        assert client.list_files() == {"README.md": git_blob_sha(b"# live\n"), "ci/a.sh": git_blob_sha(b"echo a\n")}
        found = client.get_file("ci/a.sh")
        assert found is not None and found.content == b"echo a\n"
        client.push_files({"README.md": b"# live 2\n"}, "dtm live: change", delete=["ci/a.sh"])
        assert set(client.list_files()) == {"README.md"}

        client.put_secret("DTM_LIVE_SECRET", "live-secret-value-123")
        client.put_secret("DTM_LIVE_SECRET", "live-secret-value-456")
        assert "DTM_LIVE_SECRET" in client.list_secrets()
        client.delete_secret("DTM_LIVE_SECRET")
        client.delete_secret("DTM_LIVE_SECRET")
        assert "DTM_LIVE_SECRET" not in client.list_secrets()

    options = GitLabCIOptions.model_validate({
        "scm": spec.model_dump() | {"token": TOKEN},
        "pipeline": {"configContents": {".gitlab-ci.yml": "test:\n  script: [echo [[ AppName ]]]\n"},
                     "variables": {"DTM_LIVE_VAR": "live-variable-value-789"}},
    })
    plugin = GitLabCIPlugin()
    status = plugin.create(options, ctx)
    assert plugin.read(options, ctx) == status
    assert plugin.update(options, ctx) == status
    plugin.delete(options, ctx)
    after = plugin.read(options, ctx)
    assert after is not None and after["files"] == {} and after["variables"] == []
    plugin.delete(options, ctx)


def test_webhooks_on_a_real_project(live: tuple[RepoSpec, PluginContext]) -> None:
    spec, ctx = live
    hook = Webhook(url="https://ci.example.com/dtm-live", events=["push"], secret=SecretStr("live-hook-secret"))
    with GitLabClient(spec, ctx) as client:
        client.create_repo(description="dtm live test; safe to delete")
        made = client.put_webhook(hook)
        again = client.put_webhook(hook.model_copy(update={"events": ["pull_request", "push"]}))
        assert again.id == made.id and again.events == ["pull_request", "push"]
        assert [h.url for h in client.list_webhooks()] == [hook.url]
        client.delete_webhook(hook.url)
        client.delete_webhook(hook.url)  # already gone: success
        assert client.list_webhooks() == []


@pytest.mark.usefixtures("prefect_server")
def test_an_app_through_apply_drift_and_destroy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's story on a real GitLab: an app from a template with a gitlab-ci pipeline."""
    name = f"dtm-live-app-{uuid.uuid4().hex[:8]}"
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "README.md.tpl").write_text("# [[ AppName ]]\n")
    monkeypatch.setenv("DTM_LIVE_TOKEN_FOR_CONFIG", TOKEN)
    token = '[[ env "DTM_LIVE_TOKEN_FOR_CONFIG" ]]'
    config = write_app_config(
        tmp_path / "dtm.yaml", app=name,
        repo={"scmType": "gitlab", "org": NAMESPACE, "branch": "master", "baseURL": URL, "token": token},
        pipeline={"name": "gl", "type": "gitlab-ci", "options": {
            "configContents": {".gitlab-ci.yml": "test:\n  script: [echo [[ appName ]]]\n"},
            "variables": {"DTM_LIVE_VAR": "live-variable-value"}}})
    spec = RepoSpec(scmType="gitlab", org=NAMESPACE, name=name, branch="master", baseURL=URL, token=SecretStr(TOKEN))
    ctx = PluginContext(name="repo-scaffolding", instance_id="live", workdir=tmp_path)
    try:
        assert run.apply(config_path=config, yes=True) == 0
        with GitLabClient(spec, ctx) as client:
            assert set(client.list_files()) == {"README.md", ".gitlab-ci.yml"}
            assert "DTM_LIVE_VAR" in client.list_secrets()
            assert Workspace.open(config).current_plan().empty

            client.push_files({".gitlab-ci.yml": b"edited:\n  script: [true]\n"}, "edited by hand")
            (change,) = Workspace.open(config).current_plan().changes
            assert change.key.startswith("gitlab-ci.") and change.action == "update"
            assert run.apply(config_path=config, yes=True) == 0
            got = client.get_file(".gitlab-ci.yml")
            assert got is not None and name.encode() in (got.content or b"")
            assert Workspace.open(config).current_plan().empty

            assert run.destroy(config_path=config, yes=True) == 0
            assert client.describe_repo() is None  # deleted, or scheduled for deletion (gitlab.com)
    finally:
        with GitLabClient(spec, ctx) as client:
            client.delete_repo()

