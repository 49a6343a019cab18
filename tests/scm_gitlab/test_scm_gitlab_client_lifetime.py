"""Every plugin closes the GitLab clients it makes (their HTTP connection pools), after create, read, update and
delete, and after a call that fails midway.

The plugins' contexts get their HTTP clients from `HttpClients` (http_client_watch.py), which keeps each one it
hands out: a client left open is still open at the end, whatever the garbage collector does. A call fails midway
where the stand-in refuses a request (`GitLabStandIn.refuse`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandIn
from http_client_watch import HttpClients
from plugin_calls import jenkins_options, recorded, scaffolding_context, scaffolding_lifecycle, scaffolding_options

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericOptions, CIGenericPlugin
from devstream.plugins.gitlab_ci import GitLabCIOptions, GitLabCIPlugin
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin
from devstream.plugins.scm.base import RepoSpec
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.gitlab import GitLabClient

TOKEN = "glpat-standin-0123456789"


@pytest.fixture
def http_clients(gitlab: GitLabStandIn) -> HttpClients:
    """dtm's client over the stand-in (as `gitlab.client_factory` makes it), each one kept."""
    return HttpClients(gitlab.client_factory)


@pytest.fixture
def ctx(http_clients: HttpClients, tmp_path: Path) -> PluginContext:
    return scaffolding_context(tmp_path, http_clients, instance_id="web")


# -- the client ------------------------------------------------------------------------------------------------
def test_scm_client_is_a_context_manager_that_closes_on_error(ctx: PluginContext, gitlab: GitLabStandIn,
                                                              http_clients: HttpClients) -> None:
    gitlab.add_project("acme/web", {"README.md": b"# web\n"})
    spec = RepoSpec(scmType="gitlab", org="acme", name="web", branch="main", token=TOKEN)
    with scm_client(spec, ctx) as client:
        assert isinstance(client, GitLabClient)
        assert client.describe_repo() is not None
    http_clients.assert_all_closed()

    with pytest.raises(RuntimeError, match="midway"), scm_client(spec, ctx) as client:
        client.list_files()
        raise RuntimeError("midway")
    http_clients.assert_all_closed()

    client.close()  # twice is harmless
    assert http_clients.clients == []


# -- repo-scaffolding ------------------------------------------------------------------------------------------
SCAFFOLDING = RepoScaffoldingPlugin()


def scaffolding(port: int = 8080) -> RepoScaffoldingOptions:
    shop = {"scmType": "gitlab", "org": "acme", "name": "shop", "branch": "main", "token": TOKEN}
    return scaffolding_options(shop, port)


def test_repo_scaffolding_closes_its_client_after_every_call(ctx: PluginContext, gitlab: GitLabStandIn,
                                                             http_clients: HttpClients) -> None:
    scaffolding_lifecycle(ctx, scaffolding, files=lambda: gitlab.files("acme/shop"),
                          exists=lambda: "acme/shop" in gitlab.projects, after_each_call=http_clients.assert_all_closed)


def test_repo_scaffolding_closes_its_client_when_a_call_fails_midway(ctx: PluginContext, gitlab: GitLabStandIn,
                                                                     http_clients: HttpClients) -> None:
    gitlab.refuse("POST", r"/repository/commits$", 400, "the push is refused")

    with pytest.raises(PermanentError, match="the push is refused"):
        SCAFFOLDING.create(scaffolding(), ctx)  # made the project, the push failed, the project went again
    assert "acme/shop" not in gitlab.projects
    http_clients.assert_all_closed()

    gitlab.add_project("acme/shop", {"LICENSE": b"MIT\n"})
    gitlab.refuse("GET", r"/repository/tree$", 403, "reading the tree is refused")
    with pytest.raises(PermanentError, match="reading the tree is refused"):
        SCAFFOLDING.read(scaffolding(), ctx)
    http_clients.assert_all_closed()


# -- ci-generic ------------------------------------------------------------------------------------------------
CI = CIGenericPlugin()
JENKINS = "https://jenkins.example.com/project/web"


def ci(*webhooks: dict[str, Any]) -> CIGenericOptions:
    return jenkins_options({"scmType": "gitlab", "org": "acme", "name": "web", "token": TOKEN}, *webhooks)


def test_ci_generic_closes_its_client_after_every_call(ctx: PluginContext, gitlab: GitLabStandIn,
                                                       http_clients: HttpClients) -> None:
    gitlab.add_project("acme/web", {"README.md": b"# web\n"})
    hook = {"url": JENKINS, "events": ["push"]}

    status = CI.create(ci(hook), ctx)
    assert gitlab.hook("acme/web", JENKINS) is not None
    http_clients.assert_all_closed()

    assert CI.read(ci(hook), recorded(ctx, status)) == status
    http_clients.assert_all_closed()

    status = CI.update(ci(), recorded(ctx, status))  # the hook dropped: removed
    assert gitlab.hook("acme/web", JENKINS) is None
    http_clients.assert_all_closed()

    CI.delete(ci(), recorded(ctx, status))
    assert gitlab.files("acme/web") == {"README.md": b"# web\n"}
    http_clients.assert_all_closed()


def test_ci_generic_closes_its_client_when_a_call_fails_midway(ctx: PluginContext, gitlab: GitLabStandIn,
                                                               http_clients: HttpClients) -> None:
    with pytest.raises(PermanentError, match="does not exist"):
        CI.create(ci(), ctx)
    http_clients.assert_all_closed()

    gitlab.add_project("acme/web", {"README.md": b"# web\n"})
    gitlab.refuse("POST", r"/hooks$", 422, "the hook is refused")
    with pytest.raises(PermanentError, match="the hook is refused"):
        CI.create(ci({"url": JENKINS}), ctx)
    assert gitlab.files("acme/web") == {"README.md": b"# web\n"}  # the hook comes before the files
    http_clients.assert_all_closed()


# -- gitlab-ci -------------------------------------------------------------------------------------------------
GITLAB_CI = GitLabCIPlugin()


def gitlab_ci() -> GitLabCIOptions:
    return GitLabCIOptions.model_validate({
        "scm": {"scmType": "gitlab", "org": "acme", "name": "web", "branch": "master", "token": TOKEN},
        "pipeline": {"configContents": {".gitlab-ci.yml": "test: {script: [make test]}\n"},
                     "variables": {"DEPLOY_TOKEN": "deploy-token-abcdef"}}})


def test_gitlab_ci_closes_its_client_after_every_call(ctx: PluginContext, gitlab: GitLabStandIn,
                                                      http_clients: HttpClients) -> None:
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")

    status = GITLAB_CI.create(gitlab_ci(), ctx)
    assert gitlab.variable("acme/web", "DEPLOY_TOKEN") is not None
    http_clients.assert_all_closed()

    assert GITLAB_CI.read(gitlab_ci(), recorded(ctx, status)) == status
    http_clients.assert_all_closed()

    GITLAB_CI.update(gitlab_ci(), recorded(ctx, status))
    http_clients.assert_all_closed()

    GITLAB_CI.delete(gitlab_ci(), recorded(ctx, status))
    assert gitlab.variable("acme/web", "DEPLOY_TOKEN") is None
    http_clients.assert_all_closed()


def test_gitlab_ci_closes_its_client_when_a_call_fails_midway(ctx: PluginContext, gitlab: GitLabStandIn,
                                                              http_clients: HttpClients) -> None:
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")
    gitlab.refuse("POST", r"/variables$", 403, "variables are refused")

    with pytest.raises(PermanentError, match="variables are refused"):
        GITLAB_CI.create(gitlab_ci(), ctx)  # the file was committed, then setting the variable failed
    assert ".gitlab-ci.yml" in gitlab.files("acme/web", "master")
    http_clients.assert_all_closed()
