"""gitlab-ci's `runner.enable` on the Kubernetes stand-in with the real helm: the GitLab Runner chart (the stand-in
gitlab-runner chart of tests/helm_charts.py) installed with DevStream's values, shared runners off; left alone by an
update to the same options; reinstalled when uninstalled by hand; uninstalled by delete.

By default the runner is created through GitLab's API and the chart gets its authentication token; with
`registration: registrationToken` the chart gets the project's fresh registration token, as in DevStream."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandIn
from helm_charts import ChartRepository

from devstream.errors import PluginError
from devstream.plugin.base import PluginContext
from devstream.plugins.gitlab_ci import GitLabCIOptions, GitLabCIPlugin

TOKEN = "glpat-standin-0123456789"
PLUGIN = GitLabCIPlugin()


@pytest.fixture
def cluster(kube_cluster: Any, kube_binaries: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    monkeypatch.setenv("DTM_HELM", str(kube_binaries.helm))
    monkeypatch.setenv("DTM_HELM_HOME", str(tmp_path / "dtm-helm"))
    return kube_cluster


def options(chart_repository: ChartRepository, registration: str | None = None, **chart: Any) -> GitLabCIOptions:
    runner = {"enable": True, "repo": {"url": chart_repository.url}, "chart": {"timeout": "2m", **chart}}
    return GitLabCIOptions.model_validate({
        "scm": {"scmType": "gitlab", "org": "acme", "name": "web", "branch": "master", "token": TOKEN},
        "pipeline": {"configContents": {".gitlab-ci.yml": "test: {script: [make]}\n"}},
        "runner": runner if registration is None else {**runner, "registration": registration}})


def runner_values(cluster: Any) -> dict[str, Any]:
    return dict(json.loads(cluster.helm("get", "values", "web-runner", "-n", "gitlab", "-o", "json").stdout))


def test_a_runner_is_installed_registered_kept_repaired_and_uninstalled(
        cluster: Any, chart_repository: ChartRepository, gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")
    project = gitlab.project("acme/web")
    opts = options(chart_repository, registration="registrationToken")

    status = PLUGIN.create(opts, ctx)

    values = runner_values(cluster)
    assert values["gitlabUrl"] == "https://gitlab.com"
    assert values["runnerRegistrationToken"] == project.runners_token != "GR1348941standin-initial"
    assert values["runners"]["tags"] == "ci" and values["rbac"]["create"] is True  # DevStream's values
    secret = cluster.get("v1", "Secret", "web-runner-gitlab-runner", "gitlab")
    assert base64.b64decode(secret["data"]["runner-registration-token"]).decode() == project.runners_token
    assert project.shared_runners_enabled is False
    runner = status["runner"]
    assert (runner["release"], runner["namespace"], runner["chart"], runner["status"]) == (
        "web-runner", "gitlab", "gitlab-runner", "deployed")
    assert project.runners_token not in json.dumps(status)
    assert PLUGIN.read(opts, replace(ctx, prior=status)) == status

    # The same options again: the runner is left as it is, and its token is not reset.
    token = project.runners_token
    again = PLUGIN.update(opts, replace(ctx, prior=status))
    assert again["runner"]["revision"] == 1 and project.runners_token == token

    # Uninstalled by hand: read shows it gone (drift), and update installs it again with a new token.
    cluster.helm("uninstall", "web-runner", "--namespace", "gitlab")
    assert PLUGIN.read(opts, replace(ctx, prior=status))["runner"] is None
    repaired = PLUGIN.update(opts, replace(ctx, prior=status))
    assert repaired["runner"]["status"] == "deployed" and runner_values(cluster)["runnerRegistrationToken"] != token

    PLUGIN.delete(opts, replace(ctx, prior=repaired))
    listed = json.loads(cluster.helm("list", "--all-namespaces", "-o", "json").stdout)
    assert listed == []


# -- the runner made through GitLab's API (the default) ------------------------------------------------------


def test_by_default_the_runner_is_created_in_gitlab_and_the_chart_gets_its_authentication_token(
        cluster: Any, chart_repository: ChartRepository, gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")
    project = gitlab.project("acme/web")
    opts = options(chart_repository)

    status = PLUGIN.create(opts, ctx)

    # One runner of the project in GitLab, with DevStream's tag and untagged jobs; the registration token untouched.
    (made,) = gitlab.runners.values()
    assert made["projects"][0]["id"] == project.id and made["tag_list"] == ["ci"] and made["run_untagged"] is True
    assert project.runners_token == "GR1348941standin-initial" and project.shared_runners_enabled is False
    values = runner_values(cluster)
    assert values["runnerToken"] == made["token"] and "runnerRegistrationToken" not in values
    assert "tags" not in values["runners"] and "runUntagged" not in values["runners"]  # set in GitLab instead
    secret = cluster.get("v1", "Secret", "web-runner-gitlab-runner", "gitlab")
    assert base64.b64decode(secret["data"]["runner-token"]).decode() == made["token"]
    assert status["runner"]["runnerId"] == made["id"] and made["token"] not in json.dumps(status)
    assert PLUGIN.read(opts, replace(ctx, prior=status)) == status

    # The same options again: no second runner.
    assert PLUGIN.update(opts, replace(ctx, prior=status)) == status and len(gitlab.runners) == 1

    # The runner deleted in GitLab's settings is drift; update makes a new one and installs it.
    del gitlab.runners[made["id"]]
    assert PLUGIN.read(opts, replace(ctx, prior=status))["runner"]["runnerId"] is None
    repaired = PLUGIN.update(opts, replace(ctx, prior=status))
    (remade,) = gitlab.runners.values()
    assert repaired["runner"]["runnerId"] == remade["id"] and runner_values(cluster)["runnerToken"] == remade["token"]

    # Uninstalled by hand: the new release gets a new runner, and the one it replaces leaves GitLab.
    cluster.helm("uninstall", "web-runner", "--namespace", "gitlab")
    again = PLUGIN.update(opts, replace(ctx, prior=repaired))
    assert list(gitlab.runners) == [again["runner"]["runnerId"]] != [remade["id"]]

    PLUGIN.delete(opts, replace(ctx, prior=again))
    assert json.loads(cluster.helm("list", "--all-namespaces", "-o", "json").stdout) == []
    assert gitlab.runners == {}


def test_the_runners_own_tags_go_to_gitlab_and_a_failed_install_leaves_no_runner_there(
        cluster: Any, chart_repository: ChartRepository, gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")
    opts = options(chart_repository, valuesYaml="runners: {tags: 'docker, k8s', runUntagged: false}\n")

    status = PLUGIN.create(opts, ctx)
    (made,) = gitlab.runners.values()
    assert made["tag_list"] == ["docker", "k8s"] and made["run_untagged"] is False
    PLUGIN.delete(opts, replace(ctx, prior=status))
    assert gitlab.runners == {}

    # A chart version the repository does not have: helm fails, and the runner made for it is removed again.
    with pytest.raises(PluginError):
        PLUGIN.create(options(chart_repository, version="99.0.0"), ctx)
    assert gitlab.runners == {}
