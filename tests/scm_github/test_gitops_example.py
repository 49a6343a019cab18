"""examples/gitops/gitops.yaml, DevStream's GitOps flow, applied and destroyed offline by the installed `dtm`
in a process of its own, its vars pointed at stand-ins: GitHub (served on 127.0.0.1 as a GitHub Enterprise,
every request checked against GitHub's OpenAPI description), Kubernetes (the real helm installs Argo CD's
stand-in chart, CRDs included, into it) and Argo CD's chart repository (built with the real helm).

The story: one apply installs Argo CD, scaffolds the app's repository, commits its CI, pushes the Helm chart
and creates the Application, in that order; a second plan is empty; a destroy takes them away dependents
first: Argo CD (simulated: it finishes the Application's deletion) sees the repository and its own release
still there when it deletes the app, and is itself uninstalled last.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from argo_cd import ArgoCD
from github_openapi import OpenAPIChecker
from github_standin import GitHubStandIn
from github_testkit import TOKEN, make_standin
from http_standin import served

pytestmark = pytest.mark.usefixtures("prefect_server")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitops"
DTM = shutil.which("dtm", path=str(Path(sys.executable).parent)) or "dtm"
REGISTRY_PASSWORD = "dckr_pat_gitops_example"
ARGOCD_RELEASE = ("v1", "Secret", "sh.helm.release.v1.argocd.v1", "argocd")  # helm's record of the release


@pytest.fixture
def github(openapi: OpenAPIChecker) -> Iterator[GitHubStandIn]:
    routes: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
    with served(lambda r: routes["github"](r)) as url:
        standin = make_standin(openapi, api=f"{url}/api/v3")
        routes["github"] = standin.handler
        yield standin


def test_the_gitops_example_applies_and_destroys_offline(
        github: GitHubStandIn, kube_cluster: Any, chart_repository: Any, kube_binaries: Any, tmp_path: Path) -> None:
    example = tmp_path / "gitops"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("build"))
    config = example / "gitops.yaml"
    text = yaml.safe_load(config.read_text())
    text["vars"] = {"githubUser": "octo", "githubApiURL": str(github.api).rstrip("/"), "dockerUser": "team",
                    "argoHelmRepo": chart_repository.url}
    config.write_text(yaml.safe_dump(text, sort_keys=False))
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "IMAGE_REPO_PASSWORD": REGISTRY_PASSWORD,
           "KUBECONFIG": str(kube_cluster.kubeconfig), "DTM_HELM": str(kube_binaries.helm),
           "DTM_HELM_HOME": str(tmp_path / "helm-home")}

    def dtm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DTM, *args, "-f", str(config)], capture_output=True, text=True, env=env, timeout=600)

    applied = dtm("apply", "-y")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert REGISTRY_PASSWORD not in applied.stdout + applied.stderr

    # Argo CD, by helm-installer: its release and CRDs.
    assert kube_cluster.get(*ARGOCD_RELEASE) is not None
    # The repository, then CI, then the chart: three commits, in that order.
    messages = [c["message"] for c in reversed(github.history("octo/hello"))]
    tools = ("repo-scaffolding.hello", "github-actions.hello", "argocdapp.hello")
    assert len(messages) == 3 and all(tool in m for tool, m in zip(tools, messages, strict=True)), messages
    files = github.files("octo/hello")
    assert {"app.py", "Dockerfile", ".github/workflows/main.yml", "helm/hello/values.yaml"} <= set(files)
    assert yaml.safe_load(files["helm/hello/values.yaml"])["image"]["repository"] == "team/hello"
    assert github.secret_value("octo/hello", "IMAGE_REPO_PASSWORD") == REGISTRY_PASSWORD
    # The Application, deploying the chart from the app's repository.
    app = kube_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd")
    assert app["spec"]["source"]["repoURL"].endswith("/octo/hello")
    assert app["spec"]["source"]["path"] == "helm/hello"
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]

    planned = dtm("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout + planned.stderr

    seen: list[tuple[bool, bool]] = []

    def argo_deletes(_app: dict[str, Any]) -> None:  # what exists when Argo CD deletes the app
        seen.append(("octo/hello" in github.repos, kube_cluster.get(*ARGOCD_RELEASE) is not None))

    argo = ArgoCD(kube_cluster.kubeconfig)
    try:
        with argo.running(on_delete=argo_deletes):
            destroyed = dtm("destroy", "-y")
    finally:
        argo.close()
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert seen == [(True, True)]  # dependents first: the Application before its repository and Argo CD
    assert kube_cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd") is None
    assert "octo/hello" not in github.repos
    assert kube_cluster.get(*ARGOCD_RELEASE) is None
