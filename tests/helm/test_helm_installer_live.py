"""Opt-in: helm-installer against a real cluster. Set DTM_LIVE_KUBECONFIG to a kubeconfig (its current context is
used) and `helm` on PATH or DTM_HELM; never run by CI. It installs the stand-in vault chart (from the tests' local
chart repository; the cluster pulls no image it needs, as the release is not waited for) into a namespace of its own,
reads it back, uninstalls it and removes the namespace."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from helm_charts import ChartRepository

from devstream.plugin import PluginContext
from devstream.plugins.helm_installer import HelmInstallerOptions, HelmInstallerPlugin
from devstream.plugins.kube import KubeClient, resolve_target

LIVE = os.environ.get("DTM_LIVE_KUBECONFIG")
pytestmark = pytest.mark.skipif(not LIVE, reason="set DTM_LIVE_KUBECONFIG to run against a real cluster")


def test_a_release_installs_reads_back_and_uninstalls_on_a_real_cluster(
        chart_repository: ChartRepository, kube_binaries: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTM_HELM", os.environ.get("DTM_HELM") or str(kube_binaries.helm))
    monkeypatch.setenv("DTM_HELM_HOME", str(tmp_path / "helm"))
    namespace = f"dtm-live-{uuid.uuid4().hex[:8]}"
    options = HelmInstallerOptions.model_validate({
        "kubeconfig": LIVE, "repo": {"url": chart_repository.url},
        "chart": {"namespace": namespace, "wait": False, "timeout": "2m"}})
    ctx = PluginContext(name="helm-installer", instance_id="vault-live", workdir=tmp_path)
    plugin = HelmInstallerPlugin()
    try:
        status = plugin.create(options, ctx)
        assert (status["release"], status["namespace"], status["chart"], status["revision"]) == (
            "vault", namespace, "vault", 1)
        ctx.prior = status
        assert plugin.read(options, ctx) is not None
        plugin.delete(options, ctx)
        assert plugin.read(options, ctx) is None
    finally:
        with KubeClient(resolve_target(kubeconfig=LIVE)) as kube:
            kube.delete("v1", "Namespace", namespace)
