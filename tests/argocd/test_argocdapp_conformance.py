"""The conformance suite (devstream.testing) run against argocdapp, like every built-in plugin: on the
Kubernetes stand-in with Argo CD's CRD, a simulated Argo CD finishing deletions, and a local git repository.

Only the checks that read or change the cluster get one (installing Argo CD's large CRD is the costly part of
a test); the others look at the class, or at failures the test double makes without any cluster.

The snapshot is what dtm could change: the Application's spec, labels and finalizers (its resourceVersion too,
so an update that re-applies the same object must leave it alone) and the repository's files and commits. The
cluster's failures are its answers: 503 (transient) and 403 (permanent) to every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_cd import ArgoCD
from argocdapp_testkit import git, repo_files

from devstream.plugin import PluginContext
from devstream.plugins.argocdapp import ArgocdAppPlugin
from devstream.testing import CHECKS, Harness, PluginConformance, http_failures

NEED_A_CLUSTER = {f"test_{c.name}" for c in CHECKS if c.needs_system} - {"test_transient_failure",
                                                                          "test_permanent_failure"}


class TestArgocdAppConformance(PluginConformance):
    @pytest.fixture
    def harness(self, request: pytest.FixtureRequest, app_repo: Path, tmp_path: Path) -> Iterator[Harness]:
        ctx = PluginContext(name="argocdapp", instance_id="hello", workdir=tmp_path)
        options = {"app": {"name": "hello"},
                   "source": {"repoURL": str(app_repo), "path": "helm/hello", "token": "ghp_conformance"},
                   "imageRepo": {"user": "team", "password": "registry-conformance"}}
        if request.node.originalname not in NEED_A_CLUSTER:
            options["kubeconfig"] = str(_unreachable_kubeconfig(tmp_path))
            yield Harness(plugin=ArgocdAppPlugin(), options=options, context=ctx,
                          failures=http_failures(options, ctx))
            return
        cluster = request.getfixturevalue("argo_cluster")
        argo_cd: ArgoCD = request.getfixturevalue("argo_cd")
        options["kubeconfig"] = str(cluster.kubeconfig)

        def snapshot() -> dict[str, Any]:
            live = cluster.get("argoproj.io/v1alpha1", "Application", "hello", "argocd") or {}
            metadata = live.get("metadata") or {}
            return {"spec": live.get("spec"), "labels": metadata.get("labels"),
                    "finalizers": metadata.get("finalizers"), "resourceVersion": metadata.get("resourceVersion"),
                    "files": repo_files(app_repo), "commits": git("rev-list", "--count", "main", cwd=app_repo)}

        with argo_cd.running():
            yield Harness(plugin=ArgocdAppPlugin(), options=options, context=ctx, snapshot=snapshot,
                          failures=http_failures(options, ctx), import_id="argocd/hello")


def _unreachable_kubeconfig(folder: Path) -> Path:
    """A kubeconfig naming a server nobody runs: the failure checks' test double answers every request instead."""
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "double", "user": {"token": "double-token"}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "double"}}]}))
    return path
