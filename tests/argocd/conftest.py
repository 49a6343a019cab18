"""Fixtures for the argocdapp tests: the Kubernetes stand-in with Argo CD's Application CRD and namespace, a
simulated Argo CD controller on it, and the app's repository (a local bare git repository: the chart push
goes through plugins/scm/ as it does to GitHub or GitLab)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argo_cd import APPLICATION_CRD, ArgoCD
from argocdapp_testkit import bare_repo

from devstream.plugin import PluginContext


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def argo_cluster(kube_cluster: Any) -> Any:
    """The stand-in with Argo CD's Application CRD installed and its namespace made, as helm-installer's argocd
    instance leaves a cluster."""
    kube_cluster.install_crd(APPLICATION_CRD)
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
    return kube_cluster


@pytest.fixture
def argo_cd(argo_cluster: Any) -> Iterator[ArgoCD]:
    argo = ArgoCD(argo_cluster.kubeconfig)
    yield argo
    argo.close()


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    """The app's repository: a bare repository on branch main with a README."""
    return bare_repo(tmp_path / "hello.git")


@pytest.fixture
def ctx(tmp_path: Path) -> PluginContext:
    return PluginContext(name="argocdapp", instance_id="hello", workdir=tmp_path)
