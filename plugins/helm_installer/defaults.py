"""DevStream's ten helm-installer instances (internal/pkg/plugin/helminstaller/defaults): the chart, repository,
release and namespace each instanceID prefix stands for, and the outputs its status getter adds.

A tool's instance is the longest name its instanceID starts with (`jenkins-001` is jenkins,
`kube-prometheus-stack` is kube-prometheus); an instanceID matching none gets only `GENERIC`'s settings and
must name its chart itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstream.plugins.helm import ReleaseSpec, release_resources
from devstream.plugins.helm_installer.options import Chart, HelmInstallerOptions, Repo

__all__ = ["GENERIC", "INSTANCES", "Instance", "instance_for"]

Outputs = Callable[[ReleaseSpec, Mapping[str, Any]], dict[str, Any]]

# What every release gets unless its instance or its options say otherwise: DevStream's instance settings.
GENERIC = Chart(wait=True, timeout="10m", upgradeCRDs=True, createNamespace=True)


def jenkins_outputs(spec: ReleaseSpec, live: Mapping[str, Any]) -> dict[str, Any]:
    """DevStream's GetJenkinsStatus: jenkins_url, the in-cluster URL of the Jenkins controller's service. The
    service is named as the Jenkins chart names it (`jenkins.fullname`: the release name when it contains the
    chart's name, else release-chart, cut to 63 characters); DevStream compared with the whole `repo/chart`
    text, which only worked for the default names."""
    chart = spec.chart.rsplit("/", 1)[-1].removesuffix(".tgz")
    name = spec.release if chart in spec.release else f"{spec.release}-{chart}"
    return {"jenkins_url": f"http://{name[:63].rstrip('-')}.{spec.namespace}:8080"}


DEVLAKE_SERVICE = "devlake-lake"


def devlake_outputs(spec: ReleaseSpec, live: Mapping[str, Any]) -> dict[str, Any]:
    """DevStream's GetDevLakeStatus: devlake_url, http://<cluster IP of the devlake-lake service>:8080. Where the
    service has no cluster IP (yet, or headless), its in-cluster DNS name stands in, rather than failing."""
    for obj in release_resources(live):
        if obj.get("kind") == "Service" and obj.get("metadata", {}).get("name") == DEVLAKE_SERVICE:
            ip = (obj.get("spec") or {}).get("clusterIP")
            if ip and ip != "None":
                return {"devlake_url": f"http://{ip}:8080"}
    return {"devlake_url": f"http://{DEVLAKE_SERVICE}.{spec.namespace}:8080"}


@dataclass(frozen=True)
class Instance:
    name: str
    options: HelmInstallerOptions
    outputs: Outputs | None = None
    output_keys: frozenset[str] = field(default_factory=frozenset)


def _instance(name: str, chart: str, release: str, namespace: str, repo: str, url: str,
              outputs: Outputs | None = None, keys: frozenset[str] = frozenset()) -> Instance:
    options = HelmInstallerOptions(
        repo=Repo(name=repo, url=url),
        chart=Chart(chartName=chart, releaseName=release, namespace=namespace, timeout="10m", wait=True,
                    upgradeCRDs=True))
    return Instance(name, options, outputs, keys)


INSTANCES: dict[str, Instance] = {i.name: i for i in [
    _instance("argocd", "argo/argo-cd", "argocd", "argocd", "argo", "https://argoproj.github.io/argo-helm"),
    _instance("artifactory", "jfrog/artifactory", "artifactory", "artifactory", "jfrog", "https://charts.jfrog.io"),
    _instance("devlake", "devlake/devlake", "devlake", "devlake", "devlake",
              "https://apache.github.io/incubator-devlake-helm-chart", devlake_outputs, frozenset({"devlake_url"})),
    _instance("harbor", "harbor/harbor", "harbor", "harbor", "harbor", "https://helm.goharbor.io"),
    _instance("jenkins", "jenkins/jenkins", "jenkins", "jenkins", "jenkins", "https://charts.jenkins.io",
              jenkins_outputs, frozenset({"jenkins_url"})),
    _instance("kube-prometheus", "prometheus-community/kube-prometheus-stack", "prometheus", "prometheus",
              "prometheus-community", "https://prometheus-community.github.io/helm-charts"),
    _instance("openldap", "helm-openldap/openldap-stack-ha", "openldap", "openldap", "helm-openldap",
              "https://jp-gouin.github.io/helm-openldap/"),
    _instance("sonarqube", "sonarqube/sonarqube", "sonarqube", "sonarqube", "sonarqube",
              "https://SonarSource.github.io/helm-chart-sonarqube"),
    _instance("tekton", "tekton/tekton-pipeline", "tekton", "tekton", "tekton",
              "https://steinliber.github.io/tekton-helm-chart/"),
    _instance("vault", "hashicorp/vault", "vault", "vault", "hashicorp", "https://helm.releases.hashicorp.com"),
]}


def instance_for(instance_id: str) -> Instance | None:
    """DevStream's GetDefaultHelmAppInstanceByInstanceID: the longest instance name the instanceID starts with."""
    matches = [name for name in INSTANCES if instance_id.startswith(name)]
    return INSTANCES[max(matches, key=len)] if matches else None
