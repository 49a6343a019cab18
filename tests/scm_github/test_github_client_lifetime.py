"""Every plugin closes the GitHub clients it makes (their HTTP connection pools), after create, read, update and
delete, and after a call that fails midway.

The plugins' contexts get their HTTP clients from `HttpClients` (http_client_watch.py), which keeps each one it
hands out: a client left open is still open at the end, whatever the garbage collector does. A call fails midway
where the stand-in refuses a request (`GitHubStandIn.inject`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN, client_factory
from http_client_watch import HttpClients
from plugin_calls import jenkins_options, recorded, scaffolding_context, scaffolding_lifecycle, scaffolding_options

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericOptions, CIGenericPlugin
from devstream.plugins.github_actions import GitHubActionsOptions, GitHubActionsPlugin
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin
from devstream.plugins.scm.base import RepoSpec
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.github import GitHubClient


@pytest.fixture
def http_clients(standin: GitHubStandIn) -> HttpClients:
    """dtm's client and retrying transport around the stand-in (as `ctx` has it), each one kept."""
    return HttpClients(client_factory(standin))


@pytest.fixture
def ctx(http_clients: HttpClients, tmp_path: Path) -> PluginContext:
    return scaffolding_context(tmp_path, http_clients, instance_id="web")


# -- the client ------------------------------------------------------------------------------------------------
def test_scm_client_is_a_context_manager_that_closes_on_error(ctx: PluginContext, standin: GitHubStandIn,
                                                              http_clients: HttpClients) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    spec = RepoSpec(scmType="github", owner="octo", name="web", token=TOKEN)
    with scm_client(spec, ctx) as client:
        assert isinstance(client, GitHubClient)
        assert client.describe_repo() is not None
    http_clients.assert_all_closed()

    with pytest.raises(RuntimeError, match="midway"), scm_client(spec, ctx) as client:
        client.list_files()
        raise RuntimeError("midway")
    http_clients.assert_all_closed()


# -- repo-scaffolding ------------------------------------------------------------------------------------------
SCAFFOLDING = RepoScaffoldingPlugin()


def scaffolding(port: int = 8080) -> RepoScaffoldingOptions:
    return scaffolding_options({"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN}, port)


def test_repo_scaffolding_closes_its_client_after_every_call(ctx: PluginContext, standin: GitHubStandIn,
                                                             http_clients: HttpClients) -> None:
    scaffolding_lifecycle(ctx, scaffolding, files=lambda: standin.files("octo/shop"),
                          exists=lambda: "octo/shop" in standin.repos, after_each_call=http_clients.assert_all_closed)


def test_repo_scaffolding_closes_its_client_when_the_push_fails(ctx: PluginContext, standin: GitHubStandIn,
                                                                http_clients: HttpClients) -> None:
    standin.add_repo("octo/shop", files={"LICENSE": b"MIT\n"})  # adopted: the push writes a tree on top
    standin.inject("POST", r"/git/trees$", 403, message="the tree is refused")

    with pytest.raises(PermanentError, match="the tree is refused"):
        SCAFFOLDING.create(scaffolding(), ctx)

    assert standin.files("octo/shop") == {"LICENSE": b"MIT\n"}
    http_clients.assert_all_closed()


# -- ci-generic ------------------------------------------------------------------------------------------------
CI = CIGenericPlugin()
JENKINS = "https://jenkins.example.com/github-webhook/"


def ci(*webhooks: dict[str, Any]) -> CIGenericOptions:
    return jenkins_options({"scmType": "github", "owner": "octo", "name": "web", "token": TOKEN}, *webhooks)


def test_ci_generic_closes_its_client_after_every_call(ctx: PluginContext, standin: GitHubStandIn,
                                                       http_clients: HttpClients) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    hook = {"url": JENKINS, "events": ["push"]}

    status = CI.create(ci(hook), ctx)
    assert "Jenkinsfile" in standin.files("octo/web")
    http_clients.assert_all_closed()

    assert CI.read(ci(hook), recorded(ctx, status)) == status
    http_clients.assert_all_closed()

    status = CI.update(ci(), recorded(ctx, status))  # the hook dropped: removed
    assert standin.repo("octo/web").hooks == {}
    http_clients.assert_all_closed()

    CI.delete(ci(), recorded(ctx, status))
    assert standin.files("octo/web") == {"README.md": b"# web\n"}
    http_clients.assert_all_closed()


def test_ci_generic_closes_its_client_when_a_call_fails_midway(ctx: PluginContext, standin: GitHubStandIn,
                                                               http_clients: HttpClients) -> None:
    with pytest.raises(PermanentError, match="does not exist"):
        CI.create(ci(), ctx)
    http_clients.assert_all_closed()

    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    standin.inject("POST", r"/hooks$", 403, message="the hook is refused")
    with pytest.raises(PermanentError, match="the hook is refused"):
        CI.create(ci({"url": JENKINS}), ctx)
    assert standin.files("octo/web") == {"README.md": b"# web\n"}  # the hook comes before the files
    http_clients.assert_all_closed()

    standin.inject("POST", r"/git/trees$", 403, message="the tree is refused")
    with pytest.raises(PermanentError, match="the tree is refused"):
        CI.create(ci(), ctx)
    http_clients.assert_all_closed()


# -- github-actions --------------------------------------------------------------------------------------------
ACTIONS = GitHubActionsPlugin()


def actions() -> GitHubActionsOptions:
    return GitHubActionsOptions.model_validate({
        "scm": {"scmType": "github", "owner": "octo", "name": "web", "branch": "main", "token": TOKEN},
        "pipeline": {"configContents": {"ci.yml": "on: [push]\n"},
                     "imageRepo": {"url": "docker.io", "user": "octo", "password": "dckr_pat_s3cr3t"}}})


def test_github_actions_closes_its_client_after_every_call(ctx: PluginContext, standin: GitHubStandIn,
                                                           http_clients: HttpClients) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    status = ACTIONS.create(actions(), ctx)
    assert standin.files("octo/web")[".github/workflows/ci.yml"] == b"on: [push]\n"
    http_clients.assert_all_closed()

    assert ACTIONS.read(actions(), recorded(ctx, status)) == status
    http_clients.assert_all_closed()

    ACTIONS.update(actions(), recorded(ctx, status))
    http_clients.assert_all_closed()

    ACTIONS.delete(actions(), recorded(ctx, status))
    assert standin.files("octo/web") == {"README.md": b"# web\n"}
    http_clients.assert_all_closed()


def test_github_actions_closes_its_client_when_a_call_fails_midway(ctx: PluginContext, standin: GitHubStandIn,
                                                                   http_clients: HttpClients) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    standin.inject("POST", r"/git/trees$", 403, message="the tree is refused")

    with pytest.raises(PermanentError, match="the tree is refused"):
        ACTIONS.create(actions(), ctx)

    assert standin.files("octo/web") == {"README.md": b"# web\n"}
    http_clients.assert_all_closed()
