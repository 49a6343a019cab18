"""gitlab-ci's `runner.enable`: a GitLab Runner for the project, installed on Kubernetes with the GitLab Runner Helm
chart through dtm's Helm layer (the same code as helm-installer), as DevStream did.

What DevStream did, kept: the chart gitlab/gitlab-runner from https://charts.gitlab.io, release `<project>-runner`
in namespace `gitlab`, its values DevStream's (Kubernetes executor, tag `ci`, untagged jobs, privileged for
docker-in-docker) with the project's GitLab address and a fresh registration token (GitLab's "reset registration
token"), and the instance's shared runners turned off for the project once its own runner is there.

Better than DevStream: the chart, its repository, version, namespace, release and extra values can be set
(`runner.repo`, `runner.chart`, e.g. a mirror of the chart repository); the runner is read back (uninstalled,
rolled back or changed by hand is drift), a token is reset only when the release must be (re)made, and delete
uninstalls the runner dtm installed (DevStream left it). The token goes to helm on standard input only; the
status keeps a fingerprint of the values.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import yaml
from pydantic import ConfigDict, Field

from devstream.plugin.base import PluginContext
from devstream.plugins.helm import Helm, ReleaseSpec, ensure_release, release_status, remove_release, values_digest
from devstream.plugins.helm.options import Chart, Repo
from devstream.plugins.kube import KubeOptions
from devstream.plugins.scm.gitlab import GitLabClient

__all__ = ["RunnerOptions", "delete_runner", "ensure_runner", "read_runner", "runner_spec", "runner_values"]

DEFAULT_REPO = Repo(name="gitlab", url="https://charts.gitlab.io")
DEFAULT_CHART = Chart(chartName="gitlab/gitlab-runner", namespace="gitlab", wait=True, timeout="10m",
                      upgradeCRDs=False, createNamespace=True)

# DevStream's values for the runner (internal/pkg/plugin/gitlabci/tpl/helmValue.tpl.yaml), less its comments.
_VALUES: dict[str, Any] = {
    "image": {"registry": "registry.gitlab.com", "image": "gitlab-org/gitlab-runner"},
    "imagePullPolicy": "IfNotPresent",
    "terminationGracePeriodSeconds": 3600,
    "concurrent": 10,
    "checkInterval": 30,
    "sessionServer": {"enabled": False},
    "rbac": {"create": True, "rules": [], "clusterWideAccess": False,
             "podSecurityPolicy": {"enabled": False, "resourceNames": ["gitlab-runner"]}},
    "metrics": {"enabled": False, "portName": "metrics", "port": 9252, "serviceMonitor": {"enabled": False}},
    "runners": {
        "config": '[[runners]]\n  [runners.kubernetes]\n    namespace = "{{.Release.Namespace}}"\n'
                  '    image = "ubuntu:16.04"\n',
        "imagePullPolicy": "if-not-present", "tags": "ci", "runUntagged": True, "privileged": True,
        "cache": {}, "builds": {}, "services": {}, "helpers": {}},
    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": False, "runAsNonRoot": True,
                        "privileged": False, "capabilities": {"drop": ["ALL"]}},
    "podSecurityContext": {"runAsUser": 100, "fsGroup": 65533},
    "resources": {}, "affinity": {}, "nodeSelector": {}, "tolerations": [],
}


class RunnerOptions(KubeOptions):
    """DevStream's `runner` (enable), where the runner's chart comes from and goes, and which cluster
    (`kubeconfig`, `context`; default KUBECONFIG, ~/.kube/config, in-cluster)."""

    model_config = ConfigDict(extra="forbid")

    enable: bool = Field(default=False, description="Install a GitLab Runner for the project on Kubernetes (Helm "
                         "chart gitlab/gitlab-runner), registered with the project; shared runners are turned off.")
    repo: Repo = Field(default_factory=Repo, description="The runner chart's repository; default gitlab, "
                       "https://charts.gitlab.io.")
    chart: Chart = Field(default_factory=Chart, description="The runner's chart and release: chartName (default "
                         "gitlab/gitlab-runner), version, namespace (default gitlab), releaseName (default "
                         "<project>-runner), wait, timeout, valuesYaml (merged over DevStream's values).")


def _release_name(project: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", project.rsplit("/", 1)[-1].lower()).strip("-") or "project"
    return f"{name[:46].rstrip('-')}-runner"


def _merged(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def runner_values(gitlab_url: str, token: str, extra_yaml: str = "") -> dict[str, Any]:
    """DevStream's runner values for this GitLab and registration token, the user's values merged over them."""
    values = _merged(_VALUES, {"gitlabUrl": gitlab_url, "runnerRegistrationToken": token})
    return _merged(values, yaml.safe_load(extra_yaml) or {} if extra_yaml.strip() else {})


def runner_spec(runner: RunnerOptions, project: str) -> ReleaseSpec:
    """The runner's release, without values (they need a registration token)."""
    repo = Repo.model_validate({**DEFAULT_REPO.model_dump(), **runner.repo.model_dump(exclude_defaults=True)})
    chart = runner.chart.filled(DEFAULT_CHART)
    reference = chart.chartName if "/" in chart.chartName else f"{repo.name}/{chart.chartName}"
    return ReleaseSpec(release=chart.releaseName or _release_name(project), namespace=chart.namespace,
                       chart=reference, version=chart.version or None, repo_name=repo.name, repo_url=repo.url,
                       wait=bool(chart.wait), timeout=chart.timeout,
                       create_namespace=chart.createNamespace is not False, upgrade_crds=False)


def _config_digest(spec: ReleaseSpec, runner: RunnerOptions, gitlab_url: str) -> str:
    """What the options ask of the runner, fingerprinted: a change of it means the release must be remade."""
    return values_digest({"gitlab": gitlab_url, "source": spec.source, "version": spec.version,
                          "values": runner.chart.valuesYaml})


def _status(live: Mapping[str, Any], spec: ReleaseSpec, runner: RunnerOptions, gitlab_url: str) -> dict[str, Any]:
    status = release_status(live, spec.source)
    status.pop("outputs", None)
    status["config"] = _config_digest(spec, runner, gitlab_url)
    return status


def ensure_runner(runner: RunnerOptions, gitlab: GitLabClient, gitlab_url: str, project: str, ctx: PluginContext,
                  prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """Install the runner, or leave it as it is when it is the one dtm made for these options; return its status."""
    spec = runner_spec(runner, project)
    helm = Helm.for_cluster(runner, ctx.workdir)
    live = helm.status(spec.release, spec.namespace)
    if live is not None and prior:
        current = _status(live, spec, runner, gitlab_url)
        if current["status"] == "deployed" and all(current.get(k) == prior.get(k) for k in
                                                   ("revision", "valuesDigest", "source", "chartVersion", "config")):
            ctx.logger.info("%s: the GitLab Runner (release %s in %s) is as dtm made it", ctx.key, spec.release,
                            spec.namespace)
            return current
    token = gitlab.reset_runner_registration_token()
    spec = replace(spec, values_yaml=yaml.safe_dump(runner_values(gitlab_url, token, runner.chart.valuesYaml)))
    live = ensure_release(helm, spec, ctx.logger)
    gitlab.set_shared_runners(False)
    ctx.logger.info("%s: GitLab Runner %s registers with %s; the project's shared runners are off", ctx.key,
                    spec.release, project)
    return _status(live, spec, runner, gitlab_url)


def read_runner(runner: RunnerOptions, gitlab_url: str, project: str, ctx: PluginContext) -> dict[str, Any] | None:
    spec = runner_spec(runner, project)
    live = Helm.for_cluster(runner, ctx.workdir).status(spec.release, spec.namespace)
    return None if live is None else _status(live, spec, runner, gitlab_url)


def delete_runner(runner: RunnerOptions | None, release: str, namespace: str, ctx: PluginContext) -> None:
    """Uninstall the runner's release, from the cluster the options name (the environment's when they name none)."""
    helm = Helm.for_cluster(runner, ctx.workdir)
    remove_release(helm, ReleaseSpec(release=release, namespace=namespace, chart=""), ctx.logger)
