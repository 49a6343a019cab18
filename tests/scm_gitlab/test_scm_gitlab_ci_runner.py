"""gitlab-ci's `runner.enable` on the Kubernetes stand-in with the real helm: the GitLab Runner chart (the stand-in
gitlab-runner chart of tests/helm_charts.py) installed with DevStream's values and the project's fresh registration
token, shared runners off; left alone by an update to the same options; reinstalled when uninstalled by hand;
uninstalled by delete."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandIn
from helm_charts import ChartRepository

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


def options(chart_repository: ChartRepository, **chart: Any) -> GitLabCIOptions:
    return GitLabCIOptions.model_validate({
        "scm": {"scmType": "gitlab", "org": "acme", "name": "web", "branch": "master", "token": TOKEN},
        "pipeline": {"configContents": {".gitlab-ci.yml": "test: {script: [make]}\n"}},
        "runner": {"enable": True, "repo": {"url": chart_repository.url}, "chart": {"timeout": "2m", **chart}}})


def runner_values(cluster: Any) -> dict[str, Any]:
    return dict(json.loads(cluster.helm("get", "values", "web-runner", "-n", "gitlab", "-o", "json").stdout))


def test_a_runner_is_installed_registered_kept_repaired_and_uninstalled(
        cluster: Any, chart_repository: ChartRepository, gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")
    project = gitlab.project("acme/web")
    opts = options(chart_repository)

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
