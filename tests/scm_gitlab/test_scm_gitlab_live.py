"""Opt-in: the GitLab client and the gitlab-ci plugin against a real GitLab.

Runs only when DTM_LIVE_GITLAB_TOKEN (a token with the `api` scope) and DTM_LIVE_GITLAB_NAMESPACE (a group,
or the token's own user, that may hold a throwaway project) are set; DTM_LIVE_GITLAB_URL points at a
self-hosted GitLab (default https://gitlab.com). It creates a private project named `dtm-live-<random>`,
works on it, and deletes it (on gitlab.com the deletion may only be scheduled).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from devstream.plugin.base import PluginContext
from devstream.plugins.gitlab_ci import GitLabCIOptions, GitLabCIPlugin
from devstream.plugins.scm.base import RepoSpec, git_blob_sha
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
