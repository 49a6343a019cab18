"""helm-installer's options are DevStream's: its documented configs validate unchanged through `dtm validate`,
what they leave out comes from the instance default the instanceID starts with, and bad input is refused at
load time, naming the file, the line and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.helm_installer import INSTANCES, HelmInstallerOptions, instance_for, release_spec

DTM = str(Path(sys.executable).with_name("dtm"))

# The configs of DevStream v0.12.1's docs/plugins/helm-installer/*.md and examples/gitops.yaml, as written there.
DEVSTREAM_DOCS = """
tools:
- name: helm-installer
  instanceID: argocd
- name: helm-installer
  instanceID: harbor-001
  dependsOn: [ ]
  options:
    valuesYaml: |
      externalURL: http://127.0.0.1
      expose:
        type: nodePort
        tls:
          enabled: false
      chartmuseum:
        enabled: false
      notary:
        enabled: false
      trivy:
        enabled: false
- name: helm-installer
  instanceID: jenkins-001
  dependsOn: [ ]
  options:
    chart:
      chartPath: ""
      chartName: jenkins/jenkins
      version: ""
      timeout: 5m
      upgradeCRDs: true
      releaseName: jenkins
      namespace: jenkins
      wait: true
      valuesYaml: |
        persistence:
          storageClass: ""
        controller:
          adminUser: "admin"
    repo:
      url: https://charts.jenkins.io
      name: jenkins
- name: helm-installer
  instanceID: kube-prometheus
- name: helm-installer
  instanceID: vault-001
  options:
    valuesYaml: |
      server:
        dev:
          enabled: true
"""


def dtm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *map(str, args)], capture_output=True, text=True, timeout=120)


def ctx(tmp_path: Path, instance_id: str) -> PluginContext:
    return PluginContext(name="helm-installer", instance_id=instance_id, workdir=tmp_path)


def test_devstreams_documented_configs_validate_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "tools.yaml"
    config.write_text(DEVSTREAM_DOCS)
    done = dtm("validate", "-f", config)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_options_are_refused_at_load_naming_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("tools:\n- name: helm-installer\n  instanceID: argocd\n  options:\n    chart:\n"
                      "      timeout: ten minutes\n      releaseName: Argo_CD\n      valueYaml: 'a: 1'\n")
    done = dtm("validate", "-f", config)
    assert done.returncode == 1
    problems = sorted(" ".join(done.stderr.split()).split(" - ")[1:])
    assert len(problems) == 3, done.stderr
    timeout, release, extra = sorted(problems, key=lambda p: ("timeout" not in p, "release" not in p))
    assert "bad.yaml:6:" in timeout and "chart.timeout must be a duration" in timeout
    assert "bad.yaml:7:" in release and "not a valid Helm release name" in release
    assert "options.chart.valueYaml" in extra and "no option 'valueYaml'" in extra


def test_values_yaml_that_is_not_a_map_is_refused() -> None:
    with pytest.raises(ValueError, match="valuesYaml is not valid YAML"):
        HelmInstallerOptions.model_validate({"valuesYaml": "a: [1, 2"})
    with pytest.raises(ValueError, match="must be a YAML map"):
        HelmInstallerOptions.model_validate({"chart": {"valuesYaml": "- a: 1\n- b: 2\n"}})


@pytest.mark.parametrize(("instance_id", "chart", "repo_url", "release"), [
    ("argocd", "argo/argo-cd", "https://argoproj.github.io/argo-helm", "argocd"),
    ("artifactory", "jfrog/artifactory", "https://charts.jfrog.io", "artifactory"),
    ("devlake", "devlake/devlake", "https://apache.github.io/incubator-devlake-helm-chart", "devlake"),
    ("harbor-001", "harbor/harbor", "https://helm.goharbor.io", "harbor"),
    ("jenkins-ci", "jenkins/jenkins", "https://charts.jenkins.io", "jenkins"),
    ("kube-prometheus", "prometheus-community/kube-prometheus-stack",
     "https://prometheus-community.github.io/helm-charts", "prometheus"),
    ("openldap", "helm-openldap/openldap-stack-ha", "https://jp-gouin.github.io/helm-openldap/", "openldap"),
    ("sonarqube-prod", "sonarqube/sonarqube", "https://SonarSource.github.io/helm-chart-sonarqube", "sonarqube"),
    ("tekton", "tekton/tekton-pipeline", "https://steinliber.github.io/tekton-helm-chart/", "tekton"),
    ("vault-2", "hashicorp/vault", "https://helm.releases.hashicorp.com", "vault"),
])
def test_each_instance_default_comes_from_the_instance_id_prefix(
        tmp_path: Path, instance_id: str, chart: str, repo_url: str, release: str) -> None:
    spec, instance = release_spec(HelmInstallerOptions(), ctx(tmp_path, instance_id))
    assert instance is not None and instance_id.startswith(instance.name)
    assert (spec.chart, spec.repo_url, spec.release, spec.namespace) == (chart, repo_url, release, release)
    assert (spec.wait, spec.timeout, spec.upgrade_crds, spec.create_namespace) == (True, "10m", True, True)
    assert len(INSTANCES) == 10


def test_the_longest_instance_name_wins_and_the_options_override_the_default(tmp_path: Path) -> None:
    assert instance_for("kube-prometheus-stack-1").name == "kube-prometheus"  # type: ignore[union-attr]
    assert instance_for("my-argocd") is None
    options = HelmInstallerOptions.model_validate({
        "chart": {"namespace": "ci", "wait": False, "timeout": "90s", "version": "5.1.0"},
        "valuesYaml": "controller:\n  adminUser: root\n"})
    spec, _ = release_spec(options, ctx(tmp_path, "jenkins-001"))
    assert (spec.chart, spec.release, spec.namespace, spec.wait, spec.timeout, spec.version) == (
        "jenkins/jenkins", "jenkins", "ci", False, "90s", "5.1.0")
    assert spec.values == {"controller": {"adminUser": "root"}}


def test_values_yaml_may_be_a_file_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "argocd.yaml").write_text("server:\n  replicas: 2\n")
    spec, _ = release_spec(HelmInstallerOptions(valuesYaml="values/argocd.yaml"), ctx(tmp_path, "argocd"))
    assert spec.values == {"server": {"replicas": 2}}
    with pytest.raises(PermanentError, match="cannot read the values file .*missing.yaml"):
        release_spec(HelmInstallerOptions(valuesYaml="missing.yaml"), ctx(tmp_path, "argocd"))


def test_a_tool_outside_the_ten_instances_names_its_chart(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="repo.name, repo.url and chart.chartName must all be set"):
        release_spec(HelmInstallerOptions(), ctx(tmp_path, "nginx"))
    options = HelmInstallerOptions.model_validate({
        "repo": {"name": "bitnami", "url": "https://charts.bitnami.com/bitnami"},
        "chart": {"chartName": "nginx", "releaseName": "web"}})
    spec, instance = release_spec(options, ctx(tmp_path, "nginx"))
    assert instance is None
    assert (spec.chart, spec.release, spec.namespace, spec.wait, spec.timeout) == (
        "bitnami/nginx", "web", "default", True, "10m")
    with pytest.raises(PermanentError, match="chart.chartPath .*does not exist"):
        release_spec(HelmInstallerOptions.model_validate({"chart": {"chartPath": "web.tgz", "releaseName": "web"}}),
                     ctx(tmp_path, "web"))
