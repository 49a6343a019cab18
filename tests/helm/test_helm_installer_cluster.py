"""helm-installer through `dtm apply/plan/drift/destroy` against the Kubernetes stand-in with the real helm: DevStream's
ten instance defaults install, upgrade and uninstall from the local chart repository, and drift made by hand with
the real helm and kubectl (values changed, `helm rollback`, `helm uninstall`, `kubectl patch`, `kubectl delete`) is
found by plan and drift and repaired by apply. And the plugin passes the conformance suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_charts import ChartRepository

from devstream.cli import drift, run
from devstream.plugin import PluginContext
from devstream.plugins.helm_installer import INSTANCES, HelmInstallerPlugin
from devstream.testing import Harness, PluginConformance

# The release, namespace and chart each instance default installs (DevStream's defaults).
EXPECTED = {
    "argocd": ("argocd", "argo-cd"), "artifactory": ("artifactory", "artifactory"), "devlake": ("devlake", "devlake"),
    "harbor": ("harbor", "harbor"), "jenkins": ("jenkins", "jenkins"),
    "kube-prometheus": ("prometheus", "kube-prometheus-stack"), "openldap": ("openldap", "openldap-stack-ha"),
    "sonarqube": ("sonarqube", "sonarqube"), "tekton": ("tekton", "tekton-pipeline"), "vault": ("vault", "vault"),
}


@pytest.fixture
def cluster(kube_cluster: Any, kube_binaries: Any, chart_repository: ChartRepository, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stand-in cluster as dtm's helm reaches it: its kubeconfig, the real helm, a helm home of the test's."""
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    monkeypatch.setenv("DTM_HELM", str(kube_binaries.helm))
    monkeypatch.setenv("DTM_HELM_HOME", str(tmp_path / "dtm-helm"))
    return kube_cluster


def write_config(path: Path, tools: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{"name": "helm-installer", "instanceID": instance, "options": options}
                  for instance, options in tools.items()],
    }, sort_keys=False))
    return path


def releases(cluster: Any) -> dict[str, tuple[str, int, str, str]]:
    """Every release in the cluster, as the real helm lists it: name -> (namespace, revision, chart, status)."""
    listed = json.loads(cluster.helm("list", "--all-namespaces", "--output", "json").stdout)
    return {r["name"]: (r["namespace"], int(r["revision"]), r["chart"], r["status"]) for r in listed}


def plan_changes(config: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, str]]:
    capsys.readouterr()
    assert run.plan(config_path=config, json_out=True) == 0
    return [(c["key"], c["action"], c["reason"]) for c in json.loads(capsys.readouterr().out)["changes"]]


def outputs(config: Path, instance: str) -> dict[str, Any]:
    state = yaml.safe_load((config.parent / "devstream.state").read_text())
    return dict(state[f"helm-installer_{instance}"]["resourceStatus"]["outputs"])


@pytest.mark.usefixtures("prefect_server")
def test_the_ten_instance_defaults_install_upgrade_and_uninstall(
        cluster: Any, chart_repository: ChartRepository, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`instanceID: argocd` and nothing else but where the charts are: each default's chart, release and namespace."""
    mirror = {"repo": {"url": chart_repository.url}}
    config = write_config(tmp_path / "tools.yaml", {name: mirror for name in INSTANCES})
    assert run.apply(config_path=config, yes=True) == 0

    assert releases(cluster) == {release: (release, 1, f"{chart}-1.1.0", "deployed")
                                 for release, chart in EXPECTED.values()}
    assert cluster.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "applications.argoproj.io")
    assert outputs(config, "jenkins")["jenkins_url"] == "http://jenkins.jenkins:8080"
    assert outputs(config, "devlake")["devlake_url"].startswith("http://")
    assert outputs(config, "argocd") == {"release": "argocd", "namespace": "argocd", "revision": 1,
                                         "chart": "argo-cd", "chartVersion": "1.1.0", "appVersion": "v2.6.0"}
    assert plan_changes(config, capsys) == []

    # An upgrade: argocd pinned to the older chart, jenkins given values; the others are left alone.
    write_config(config, {name: mirror for name in INSTANCES} | {
        "argocd": {**mirror, "chart": {"version": "1.0.0"}},
        "jenkins": {**mirror, "valuesYaml": "replicaCount: 2\n"}})
    assert run.apply(config_path=config, yes=True) == 0
    listed = releases(cluster)
    assert listed["argocd"] == ("argocd", 2, "argo-cd-1.0.0", "deployed")
    # upgradeCRDs (the default): the chart's CRDs applied by dtm before the upgrade, which helm alone never does
    crd = cluster.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "applications.argoproj.io")
    assert "dtm" in {entry.get("manager") for entry in crd["metadata"].get("managedFields", [])}
    assert listed["jenkins"][1] == 2 and listed["vault"][1] == 1
    assert json.loads(cluster.helm("get", "values", "jenkins", "-n", "jenkins", "-o", "json").stdout) == {
        "replicaCount": 2}
    assert cluster.get("apps/v1", "Deployment", "jenkins", "jenkins")["spec"]["replicas"] == 2

    assert run.destroy(config_path=config, yes=True) == 0
    assert releases(cluster) == {}


@pytest.mark.usefixtures("prefect_server")
def test_drift_made_by_hand_is_found_and_repaired(
        cluster: Any, chart_repository: ChartRepository, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "jenkins.yaml", {"jenkins-001": {
        "repo": {"url": chart_repository.url}, "valuesYaml": "replicaCount: 1\nimage: registry.invalid/jenkins:2\n"}})
    assert run.apply(config_path=config, yes=True) == 0
    assert plan_changes(config, capsys) == []
    by_hand = ["--namespace", "jenkins", "--repo", chart_repository.url]

    # Values changed by hand: found, and the config's values put back.
    cluster.helm("upgrade", "jenkins", "jenkins", *by_hand, "--reuse-values", "--set", "replicaCount=3")
    [(key, action, reason)] = plan_changes(config, capsys)
    assert (key, action) == ("helm-installer.jenkins-001", "update") and "valuesDigest" in reason
    capsys.readouterr()
    assert drift.drift(config_path=config, json_out=True) == 2
    assert "helm-installer.jenkins-001" in capsys.readouterr().out
    assert run.apply(config_path=config, yes=True) == 0
    assert json.loads(cluster.helm("get", "values", "jenkins", "-n", "jenkins", "-o", "json").stdout) == {
        "replicaCount": 1, "image": "registry.invalid/jenkins:2"}
    assert plan_changes(config, capsys) == []

    # Rolled back by hand to the first revision, an object of the release edited and another deleted with kubectl:
    # found, and one upgrade puts all back.
    revision = releases(cluster)["jenkins"][1]
    cluster.helm("rollback", "jenkins", "1", "--namespace", "jenkins")
    cluster.kubectl("patch", "deployment", "jenkins", "-n", "jenkins", "--type", "merge",
                    "-p", '{"spec":{"replicas":5}}')
    cluster.kubectl("delete", "configmap", "jenkins-values", "-n", "jenkins")
    [(_, action, reason)] = plan_changes(config, capsys)
    assert action == "update" and "revision" in reason and "resources" in reason
    assert run.apply(config_path=config, yes=True) == 0
    assert releases(cluster)["jenkins"][1] == revision + 2
    assert cluster.get("apps/v1", "Deployment", "jenkins", "jenkins")["spec"]["replicas"] == 1
    assert cluster.get("v1", "ConfigMap", "jenkins-values", "jenkins") is not None

    # Uninstalled by hand: recreated.
    cluster.helm("uninstall", "jenkins", "--namespace", "jenkins")
    assert plan_changes(config, capsys) == [("helm-installer.jenkins-001", "create", "deleted outside dtm")]
    assert run.apply(config_path=config, yes=True) == 0
    assert releases(cluster)["jenkins"][3] == "deployed"
    assert plan_changes(config, capsys) == []

    assert run.destroy(config_path=config, yes=True) == 0
    assert releases(cluster) == {}


class TestHelmInstallerConformance(PluginConformance):
    @pytest.fixture
    def harness(self, cluster: Any, chart_repository: ChartRepository, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Harness:
        options: dict[str, Any] = {"repo": {"url": chart_repository.url}, "chart": {"timeout": "2m"},
                                   "valuesYaml": "replicaCount: 1\n"}
        ctx = PluginContext(name="helm-installer", instance_id="jenkins-conformance", workdir=tmp_path)
        down = tmp_path / "down.kubeconfig"
        down.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "down",
            "clusters": [{"name": "down", "cluster": {"server": "http://127.0.0.1:9"}}],
            "users": [{"name": "down", "user": {"token": "t"}}],
            "contexts": [{"name": "down", "context": {"cluster": "down", "user": "down"}}]}))

        def unreachable() -> tuple[dict[str, Any], PluginContext]:
            monkeypatch.setenv("KUBECONFIG", str(down))  # no API server answers there: may pass when retried
            return options, ctx

        return Harness(
            plugin=HelmInstallerPlugin(), options=options, context=ctx, import_id="jenkins/jenkins",
            snapshot=lambda: releases(cluster),
            failures={
                "transient": unreachable,
                # a chart version the repository does not have: retrying cannot help
                "permanent": lambda: ({**options, "chart": {"version": "9.9.9"}}, ctx),
            })
