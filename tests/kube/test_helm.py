"""The real helm (3.17) against the Kubernetes API stand-in: a release's whole life with --wait (install, upgrade,
rollback, uninstall), its storage in Secrets, and what `helm status` and `helm get values` report."""

from __future__ import annotations

import json
from pathlib import Path

from kube_cluster import KubeCluster

CHART = Path(__file__).parent / "charts" / "hello"


def test_a_release_installs_upgrades_rolls_back_and_uninstalls(kube_cluster: KubeCluster) -> None:
    kube_cluster.helm("install", "demo", str(CHART), "-n", "apps", "--create-namespace", "--wait",
                      "--timeout", "60s")
    assert kube_cluster.get("v1", "ConfigMap", "demo-config", "apps")["data"] == {"message": "hi"}
    deployment = kube_cluster.get("apps/v1", "Deployment", "demo-web", "apps")
    assert deployment["metadata"]["labels"]["app"] == "demo"
    assert deployment["metadata"]["annotations"]["meta.helm.sh/release-name"] == "demo"
    release = kube_cluster.get("v1", "Secret", "sh.helm.release.v1.demo.v1", "apps")
    assert release is not None and release["type"] == "helm.sh/release.v1"  # sent as protobuf, stored as JSON

    kube_cluster.helm("upgrade", "demo", str(CHART), "-n", "apps", "--set", "message=bye", "--set", "replicas=2",
                      "--wait", "--timeout", "60s")
    status = json.loads(kube_cluster.helm("status", "demo", "-n", "apps", "-o", "json").stdout)
    assert status["version"] == 2 and status["info"]["status"] == "deployed"
    assert "message: bye" in kube_cluster.helm("get", "values", "demo", "-n", "apps").stdout
    assert kube_cluster.get("apps/v1", "Deployment", "demo-web", "apps")["status"]["readyReplicas"] == 2

    kube_cluster.helm("rollback", "demo", "1", "-n", "apps", "--wait", "--timeout", "60s")
    assert kube_cluster.get("v1", "ConfigMap", "demo-config", "apps")["data"] == {"message": "hi"}
    history = json.loads(kube_cluster.helm("history", "demo", "-n", "apps", "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "superseded"), (3, "deployed")]

    kube_cluster.helm("uninstall", "demo", "-n", "apps", "--wait")
    assert kube_cluster.get("apps/v1", "Deployment", "demo-web", "apps") is None
    assert kube_cluster.get("v1", "Secret", "sh.helm.release.v1.demo.v1", "apps") is None
    assert kube_cluster.helm("status", "demo", "-n", "apps", check=False).returncode != 0


def test_helm_refuses_a_chart_whose_objects_the_server_rejects(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                                                 "data: {count: 1}\n")  # data values must be strings
    failed = kube_cluster.helm("install", "broken", str(chart), check=False)
    assert failed.returncode != 0 and "data.count" in failed.stderr
    assert kube_cluster.get("v1", "ConfigMap", "x") is None
