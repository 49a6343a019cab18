"""The real helm (3.17) against the Kubernetes API stand-in: a release's whole life with --wait (install, upgrade,
rollback, uninstall), its storage in Secrets, and what `helm status` and `helm get values` report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kube_cluster import ARGOCD_APPLICATION_CRD, KubeCluster
from kube_standin.validation import schema_causes, unknown_fields

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


WORKLOADS = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook}
spec:
  project: default
  source: {repoURL: "https://github.com/argoproj/argocd-example-apps.git", targetRevision: HEAD, path: guestbook}
  destination: {server: "https://kubernetes.default.svc", namespace: guestbook}
---
apiVersion: v1
kind: Service
metadata: {name: edge}
spec:
  type: LoadBalancer
  selector: {app: edge}
  ports: [{port: 443}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "busybox:1.36"}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "busybox:1.36"}]
"""


def test_helm_waits_for_crds_and_every_workload_kind(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    """A chart with a CRD in crds/ and a resource of it, and each kind `helm --wait` checks (a load-balanced
    Service, a StatefulSet, a DaemonSet, a PVC, a Job): the simulated controllers make each one ready."""
    chart = tmp_path / "platform"
    (chart / "templates").mkdir(parents=True)
    (chart / "crds").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: platform\nversion: 0.1.0\n")
    shutil.copy(ARGOCD_APPLICATION_CRD, chart / "crds" / "application-crd.yaml")
    (chart / "templates" / "workloads.yaml").write_text(WORKLOADS)
    kube_cluster.helm("install", "platform", str(chart), "-n", "argocd", "--create-namespace", "--wait",
                      "--wait-for-jobs", "--timeout", "60s")
    assert kube_cluster.get("argoproj.io/v1alpha1", "Application", "guestbook", "argocd") is not None
    assert kube_cluster.get("v1", "Service", "edge", "argocd")["status"]["loadBalancer"]["ingress"]
    assert kube_cluster.get("v1", "PersistentVolumeClaim", "data", "argocd")["status"]["phase"] == "Bound"
    assert kube_cluster.get("batch/v1", "Job", "migrate", "argocd")["status"]["succeeded"] == 1
    # what the simulated controllers wrote is as valid for the official schemas as what clients send
    cluster = kube_cluster.standin.cluster
    for (group, plural, _, name), obj in cluster.store.objects.items():
        resource = next(r for r in cluster.resources() if (r.group, r.plural) == (group, plural))
        assert schema_causes(resource, obj) == [], f"{plural} {name}"
        assert unknown_fields(resource, obj) == [], f"{plural} {name}"
