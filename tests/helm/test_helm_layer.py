"""The Helm layer runs the real helm with a home of dtm's own: chart repositories go into dtm's repository
config and cache, never the user's, and helm's failures come out as dtm's transient or permanent errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_charts import CHARTS, ChartRepository

from devstream.errors import PermanentError, TransientError
from devstream.plugins.helm import Helm


def test_the_stand_in_repository_serves_every_chart_at_two_versions(
        kube_binaries: Any, chart_repository: ChartRepository, tmp_path: Path) -> None:
    helm = Helm(home=tmp_path / "dtm-helm", executable=str(kube_binaries.helm))
    helm.add_repository("standin", chart_repository.url)
    found = yaml.safe_load(helm.run(["search", "repo", "standin/", "--versions", "-o", "yaml"], cluster=False))
    assert {(entry["name"], entry["version"]) for entry in found} == {
        (f"standin/{name}", version) for name in CHARTS for version in ("1.0.0", "1.1.0")}
    assert "kind: CustomResourceDefinition" in helm.show_crds("standin/argo-cd", "1.0.0")


def test_repositories_go_into_dtms_own_config_never_the_users(
        kube_binaries: Any, chart_repository: ChartRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "user" / "repositories.yaml"
    users.parent.mkdir()
    users.write_text("apiVersion: ''\nrepositories: []\n")
    monkeypatch.setenv("HELM_REPOSITORY_CONFIG", str(users))
    monkeypatch.setenv("HELM_CONFIG_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("DTM_HELM_HOME", str(tmp_path / "dtm-helm"))
    monkeypatch.setenv("DTM_HELM", str(kube_binaries.helm))

    helm = Helm()
    helm.add_repository("argo", chart_repository.url)
    helm.add_repository("argo", chart_repository.url + "/")  # pointed again: --force-update, no error

    assert users.read_text() == "apiVersion: ''\nrepositories: []\n"
    ours = yaml.safe_load((tmp_path / "dtm-helm" / "repositories.yaml").read_text())
    assert [(r["name"], r["url"]) for r in ours["repositories"]] == [("argo", chart_repository.url + "/")]
    assert list((tmp_path / "dtm-helm" / "repository").glob("argo-index.yaml"))


def test_failures_are_transient_when_retrying_may_help_and_permanent_otherwise(
        kube_binaries: Any, chart_repository: ChartRepository, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "gone", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}]}))
    helm = Helm(kubeconfig=str(kubeconfig), home=tmp_path / "h", executable=str(kube_binaries.helm))
    with pytest.raises(TransientError, match="connection refused"):
        helm.status("argocd", "argocd")
    with pytest.raises(PermanentError, match='context "elsewhere" does not exist'):
        Helm(kubeconfig=str(kubeconfig), context="elsewhere", home=tmp_path / "h",
             executable=str(kube_binaries.helm)).status("argocd", "argocd")
    helm.add_repository("standin", chart_repository.url)
    with pytest.raises(PermanentError, match="no-such-chart"):
        helm.show_crds("standin/no-such-chart", None)
    with pytest.raises(PermanentError, match="helm 3 command is not installed"):
        Helm(executable=str(tmp_path / "no-helm"))


def test_a_charts_crds_are_read_from_the_package_each_whole(chart_repository: ChartRepository) -> None:
    """`helm show crds` runs the CRD files together with no separator; dtm reads them from the chart itself."""
    from devstream.plugins.helm.release import chart_crds

    crds = chart_crds(chart_repository.folder / "argo-cd-1.0.0.tgz")
    assert sorted(c["metadata"]["name"] for c in crds) == ["applications.argoproj.io", "appprojects.argoproj.io"]
    assert chart_crds(chart_repository.folder / "vault-1.0.0.tgz") == []
