"""gitlab-ci's `runner.enable`: a GitLab Runner for the project, installed on Kubernetes with the GitLab Runner Helm
chart through dtm's Helm layer (the same code as helm-installer), as DevStream did.

What DevStream did, kept: the chart gitlab/gitlab-runner from https://charts.gitlab.io, release `<project>-runner`
in namespace `gitlab`, its values DevStream's (Kubernetes executor, tag `ci`, untagged jobs, privileged for
docker-in-docker) with the project's GitLab address, and the instance's shared runners turned off for the project
once its own runner is there.

How the runner joins the project (`runner.registration`): DevStream reset the project's registration token and
gave it to the chart (`runnerRegistrationToken`), which GitLab deprecated in 15.6 and refuses from 17.0 unless an
administrator allows it; dtm by default creates the runner through GitLab's API (`POST /user/runners`, its tags
and untagged flag set there) and gives the chart the runner's authentication token (`runnerToken`), removing the
runner from GitLab when it replaces or uninstalls the release. `registrationToken` keeps DevStream's way. A
runner already installed is kept whichever way made it; the choice applies when dtm (re)installs one.

Better than DevStream: the chart, its repository, version, namespace, release and extra values can be set
(`runner.repo`, `runner.chart`, e.g. a mirror of the chart repository); the runner is read back (uninstalled,
rolled back or changed by hand is drift), a token is reset only when the release must be (re)made, and delete
uninstalls the runner dtm installed (DevStream left it). The token goes to helm on standard input only; the
status keeps a fingerprint of the values and the runner's id in GitLab, not its token (a runner deleted in
GitLab's settings is drift too).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final, Literal

import yaml
from pydantic import ConfigDict, Field

from devstream.errors import PluginError
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


AUTHENTICATION_TOKEN: Final = "authenticationToken"
REGISTRATION_TOKEN: Final = "registrationToken"


class RunnerOptions(KubeOptions):
    """DevStream's `runner` (enable), where the runner's chart comes from and goes, and which cluster
    (`kubeconfig`, `context`; default KUBECONFIG, ~/.kube/config, in-cluster)."""

    model_config = ConfigDict(extra="forbid")

    enable: bool = Field(default=False, description="Install a GitLab Runner for the project on Kubernetes (Helm "
                         "chart gitlab/gitlab-runner), registered with the project; shared runners are turned off.")
    registration: Literal["authenticationToken", "registrationToken"] = Field(
        default=AUTHENTICATION_TOKEN, description="How the runner joins the project: authenticationToken (GitLab "
        "15.10 and later; the access token needs the create_runner or api scope) creates it through GitLab's API "
        "and gives the chart runnerToken; registrationToken (DevStream's way, refused by GitLab 17 and later unless "
        "an administrator allows it) resets the project's registration token and gives the chart "
        "runnerRegistrationToken.")
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


def runner_values(gitlab_url: str, token: str, extra_yaml: str = "",
                  registration: str = REGISTRATION_TOKEN) -> dict[str, Any]:
    """DevStream's runner values for this GitLab and token, the user's values merged over them."""
    token_key = "runnerToken" if registration == AUTHENTICATION_TOKEN else "runnerRegistrationToken"
    values = _merged(_VALUES, {"gitlabUrl": gitlab_url, token_key: token})
    values = _merged(values, yaml.safe_load(extra_yaml) or {} if extra_yaml.strip() else {})
    if registration == AUTHENTICATION_TOKEN:
        # Set on the runner in GitLab instead: a runner registering with an authentication token may not send them.
        for key in ("tags", "runUntagged"):
            values["runners"].pop(key, None)
    return values


def _tags(runner: RunnerOptions) -> tuple[list[str], bool]:
    """The runner's tags and whether it takes untagged jobs: DevStream's (`ci`, yes) unless the values set them."""
    runners = runner_values("", "", runner.chart.valuesYaml)["runners"]
    tags = [tag.strip() for tag in str(runners.get("tags") or "").split(",") if tag.strip()]
    return tags, bool(runners.get("runUntagged", True))


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


def _registered(gitlab: GitLabClient, prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """The recorded runner id while GitLab still has that runner (nothing when none was recorded)."""
    runner_id = (prior or {}).get("runnerId")
    if not isinstance(runner_id, int):
        return {}
    return {"runnerId": runner_id if gitlab.runner_exists(runner_id) else None}


def ensure_runner(runner: RunnerOptions, gitlab: GitLabClient, gitlab_url: str, project: str, ctx: PluginContext,
                  prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """Install the runner, or leave it as it is when it is the one dtm made for these options; return its status."""
    spec = runner_spec(runner, project)
    helm = Helm.for_cluster(runner, ctx.workdir)
    live = helm.status(spec.release, spec.namespace)
    if live is not None and prior:
        current = {**_status(live, spec, runner, gitlab_url), **_registered(gitlab, prior)}
        if current["status"] == "deployed" and all(current.get(k) == prior.get(k) for k in (
                "revision", "valuesDigest", "source", "chartVersion", "config", "runnerId")):
            ctx.logger.info("%s: the GitLab Runner (release %s in %s) is as dtm made it", ctx.key, spec.release,
                            spec.namespace)
            return current
    runner_id: int | None = None
    if runner.registration == REGISTRATION_TOKEN:
        token = gitlab.reset_runner_registration_token()
    else:
        tags, untagged = _tags(runner)
        runner_id, token = gitlab.create_runner(f"{spec.release} in {spec.namespace} (dtm {ctx.key})", tags, untagged)
    values = runner_values(gitlab_url, token, runner.chart.valuesYaml, runner.registration)
    try:
        live = ensure_release(helm, replace(spec, values_yaml=yaml.safe_dump(values)), ctx.logger)
    except BaseException:
        if runner_id is not None:  # not left in GitLab with no runner behind it
            _forget(gitlab, runner_id, ctx)
        raise
    replaced = (prior or {}).get("runnerId")
    if isinstance(replaced, int) and replaced != runner_id:
        _forget(gitlab, replaced, ctx)
    gitlab.set_shared_runners(False)
    ctx.logger.info("%s: GitLab Runner %s registers with %s; the project's shared runners are off", ctx.key,
                    spec.release, project)
    status = _status(live, spec, runner, gitlab_url)
    return status if runner_id is None else {**status, "runnerId": runner_id}


def _forget(gitlab: GitLabClient, runner_id: int, ctx: PluginContext) -> None:
    """Remove a runner dtm created from GitLab; a failure is only warned about (the runner is idle in GitLab)."""
    try:
        gitlab.delete_runner(runner_id)
    except PluginError as exc:
        ctx.logger.warning("%s: could not remove runner %d from GitLab (%s); remove it in the project's CI/CD "
                           "settings", ctx.key, runner_id, exc)


def read_runner(runner: RunnerOptions, gitlab: GitLabClient, gitlab_url: str, project: str, ctx: PluginContext,
                prior: Mapping[str, Any] | None) -> dict[str, Any] | None:
    spec = runner_spec(runner, project)
    live = Helm.for_cluster(runner, ctx.workdir).status(spec.release, spec.namespace)
    return None if live is None else {**_status(live, spec, runner, gitlab_url), **_registered(gitlab, prior)}


def delete_runner(runner: RunnerOptions | None, gitlab: GitLabClient, recorded: Mapping[str, Any],
                  ctx: PluginContext) -> None:
    """Uninstall the recorded runner's release, from the cluster the options name (the environment's when they name
    none), and remove the runner from GitLab when dtm created it there."""
    helm = Helm.for_cluster(runner, ctx.workdir)
    release = ReleaseSpec(release=str(recorded["release"]), namespace=str(recorded["namespace"]), chart="")
    remove_release(helm, release, ctx.logger)
    if isinstance(recorded.get("runnerId"), int):
        gitlab.delete_runner(int(recorded["runnerId"]))
