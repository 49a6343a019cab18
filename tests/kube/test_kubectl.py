"""The real kubectl (1.30) against the Kubernetes API stand-in: what a platform engineer does by hand with a
cluster works the same here, so dtm's Kubernetes plugins can be tested with the same client behaviour."""

from __future__ import annotations

import json

import pytest
from kube_cluster import ARGOCD_APPLICATION_CRD, KubeCluster

SHOP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop, labels: {app: web}}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def test_apply_get_rollout_and_delete_a_small_app(kube_cluster: KubeCluster) -> None:
    created = kube_cluster.kubectl("apply", "-f", "-", input=SHOP).stdout
    assert "namespace/shop created" in created and "deployment.apps/web created" in created
    assert "unchanged" in kube_cluster.kubectl("apply", "-f", "-", input=SHOP).stdout  # idempotent

    deployment = json.loads(kube_cluster.kubectl("get", "deployment", "web", "-n", "shop", "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 1  # defaulted as the API server does
    assert deployment["metadata"]["generation"] == 1 and deployment["metadata"]["uid"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in deployment["metadata"]["annotations"]
    service = kube_cluster.get("v1", "Service", "web", "shop")
    assert service is not None and service["spec"]["clusterIP"] and service["spec"]["ports"][0]["targetPort"] == 80

    assert kube_cluster.kubectl("auth", "can-i", "delete", "deployments", "-n", "shop").stdout.strip() == "yes"
    rollout = kube_cluster.kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=30s").stdout
    assert 'deployment "web" successfully rolled out' in rollout
    kube_cluster.kubectl("wait", "--for=condition=Available", "deployment/web", "-n", "shop", "--timeout=30s")

    deleted = kube_cluster.kubectl("delete", "-f", "-", input=SHOP).stdout
    assert 'deployment.apps "web" deleted' in deleted
    assert kube_cluster.get("apps/v1", "Deployment", "web", "shop") is None
    assert kube_cluster.get("v1", "Namespace", "shop") is None  # the namespace went with its content
    assert kube_cluster.get("apps/v1", "ReplicaSet", "web", "shop") is None


def test_a_list_of_objects_applies_as_on_a_cluster(kube_cluster: KubeCluster) -> None:
    # kubectl validates a `List` against /openapi/v2 in protobuf, and parses the answer's Content-Type.
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
                "data": {"k": name}} for name in ("first", "second")]
    applied = kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": objects})).stdout
    assert "configmap/first created" in applied and "configmap/second created" in applied
    assert kube_cluster.get("v1", "ConfigMap", "second", "default")["data"] == {"k": "second"}


def test_label_and_field_selectors(kube_cluster: KubeCluster) -> None:
    for name, tier in (("a", "front"), ("b", "back"), ("c", "front")):
        kube_cluster.kubectl("create", "configmap", name, "--from-literal=k=v")
        kube_cluster.kubectl("label", "configmap", name, f"tier={tier}")
    front = kube_cluster.kubectl("get", "configmaps", "-l", "tier=front", "-o", "name").stdout.split()
    assert front == ["configmap/a", "configmap/c"]
    assert kube_cluster.kubectl("get", "cm", "-l", "tier in (back),tier!=front", "-o", "name").stdout.split() == [
        "configmap/b"]
    by_name = kube_cluster.kubectl("get", "cm", "--field-selector", "metadata.name=c", "-o", "name").stdout
    assert by_name.split() == ["configmap/c"]
    refused = kube_cluster.kubectl("get", "cm", "--field-selector", "data.k=v", check=False)
    assert refused.returncode != 0 and "field label not supported: data.k" in refused.stderr


def test_patches_merge_lists_by_key(kube_cluster: KubeCluster) -> None:
    kube_cluster.kubectl("apply", "-f", "-", input=SHOP)
    sidecar = json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox"}]}}}})
    kube_cluster.kubectl("patch", "deployment", "web", "-n", "shop", "-p", sidecar)  # strategic: by name
    containers = kube_cluster.get("apps/v1", "Deployment", "web", "shop")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "log"]
    kube_cluster.kubectl("patch", "deployment", "web", "-n", "shop", "--type=json",
                         "-p", '[{"op": "replace", "path": "/spec/replicas", "value": 3}]')
    deployment = kube_cluster.get("apps/v1", "Deployment", "web", "shop")
    assert deployment["spec"]["replicas"] == 3 and deployment["metadata"]["generation"] == 3
    assert deployment["status"]["readyReplicas"] == 3  # the simulated controller caught up
    kube_cluster.kubectl("scale", "deployment", "web", "-n", "shop", "--replicas=2")
    assert kube_cluster.get("apps/v1", "Deployment", "web", "shop")["spec"]["replicas"] == 2
    # the simulated ReplicaSet controller and kubelet: two pods of the current template, running and ready
    ready = kube_cluster.kubectl("wait", "--for=condition=Ready", "pod", "-l", "app=web", "-n", "shop",
                                 "--timeout=30s").stdout.splitlines()
    assert len(ready) == 2 and all(line.endswith("condition met") for line in ready)


def test_stale_resource_version_is_a_conflict(kube_cluster: KubeCluster) -> None:
    kube_cluster.kubectl("create", "configmap", "settings", "--from-literal=color=blue")
    stale = kube_cluster.kubectl("get", "configmap", "settings", "-o", "json").stdout
    kube_cluster.kubectl("patch", "configmap", "settings", "-p", '{"data": {"color": "red"}}')
    replaced = kube_cluster.kubectl("replace", "-f", "-", input=stale, check=False)
    assert replaced.returncode != 0
    assert "the object has been modified; please apply your changes to the latest version" in replaced.stderr
    assert kube_cluster.get("v1", "ConfigMap", "settings")["data"] == {"color": "red"}


def test_server_side_apply_owns_fields_and_reports_conflicts(kube_cluster: KubeCluster) -> None:
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {color: %s, size: L}\n"
    kube_cluster.kubectl("apply", "--server-side", "--field-manager=team-a", "-f", "-", input=config % "blue")
    live = kube_cluster.get("v1", "ConfigMap", "owned")
    assert [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]] == [("team-a", "Apply")]
    assert live["metadata"]["managedFields"][0]["fieldsV1"]["f:data"] == {"f:color": {}, "f:size": {}}

    clash = kube_cluster.kubectl("apply", "--server-side", "--field-manager=team-b", "-f", "-",
                                 input=config % "red", check=False)
    assert clash.returncode != 0 and 'conflict with "team-a"' in clash.stderr and ".data.color" in clash.stderr
    kube_cluster.kubectl("apply", "--server-side", "--field-manager=team-b", "--force-conflicts", "-f", "-",
                         input=config % "red")
    live = kube_cluster.get("v1", "ConfigMap", "owned")
    assert live["data"]["color"] == "red"
    owners = {m["manager"]: m["fieldsV1"]["f:data"] for m in live["metadata"]["managedFields"]}
    assert owners == {"team-a": {"f:size": {}}, "team-b": {"f:color": {}, "f:size": {}}}

    # team-a stops applying `size`: team-b still owns it, so it stays
    kube_cluster.kubectl("apply", "--server-side", "--field-manager=team-a", "-f", "-",
                         input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\n")
    assert kube_cluster.get("v1", "ConfigMap", "owned")["data"] == {"color": "red", "size": "L"}
    # team-b stops applying it too: now it goes
    kube_cluster.kubectl("apply", "--server-side", "--field-manager=team-b", "-f", "-",
                         input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {color: red}\n")
    assert kube_cluster.get("v1", "ConfigMap", "owned")["data"] == {"color": "red"}


def test_finalizers_hold_a_deleted_object_until_emptied(kube_cluster: KubeCluster) -> None:
    kube_cluster.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n"
                         "  finalizers: [example.com/cleanup]\n")
    kube_cluster.kubectl("delete", "configmap", "held", "--wait=false")
    held = kube_cluster.get("v1", "ConfigMap", "held")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    kube_cluster.kubectl("patch", "configmap", "held", "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
    assert kube_cluster.get("v1", "ConfigMap", "held") is None


def test_custom_resources_are_served_and_validated_once_their_crd_is_installed(kube_cluster: KubeCluster) -> None:
    crd = kube_cluster.install_crd(ARGOCD_APPLICATION_CRD)
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    kube_cluster.kubectl("create", "namespace", "argocd")
    application = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook, namespace: argocd}
spec:
  project: default
  source: {repoURL: "https://github.com/argoproj/argocd-example-apps.git", targetRevision: HEAD, path: guestbook}
  destination: {server: "https://kubernetes.default.svc", namespace: guestbook}
"""
    assert "application.argoproj.io/guestbook created" in kube_cluster.kubectl(
        "apply", "-f", "-", input=application).stdout
    names = kube_cluster.kubectl("get", "applications", "-n", "argocd", "-o", "name").stdout.split()
    assert names == ["application.argoproj.io/guestbook"]

    # the CRD's openAPIV3Schema is the contract: a wrong type and a missing required field are refused
    broken = ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: broken, namespace: argocd}\n"
              "spec: {project: 42, source: {repoURL: 'https://example.com/x.git'}}\n")
    refused = kube_cluster.kubectl("apply", "-f", "-", input=broken, check=False)
    assert refused.returncode != 0
    assert 'spec.project: Invalid value: "integer": spec.project in body must be of type string' in refused.stderr
    assert "spec.destination: Required value" in refused.stderr
    posted = [r for r in kube_cluster.requests if r.method == "POST" and r.path.endswith("/applications")]
    assert posted[-1].query.get("fieldValidation") == ["Strict"]  # kubectl let the server validate
    assert kube_cluster.get("argoproj.io/v1alpha1", "Application", "broken", "argocd") is None

    # no Argo CD runs here: its finalizer holds the Application until someone removes it
    kube_cluster.kubectl("patch", "application", "guestbook", "-n", "argocd", "--type=merge", "-p",
                         '{"metadata": {"finalizers": ["resources-finalizer.argocd.argoproj.io"]}}')
    kube_cluster.kubectl("delete", "application", "guestbook", "-n", "argocd", "--wait=false")
    pending = kube_cluster.get("argoproj.io/v1alpha1", "Application", "guestbook", "argocd")
    assert pending["metadata"]["deletionTimestamp"] and "status" not in pending
    kube_cluster.kubectl("patch", "application", "guestbook", "-n", "argocd", "--type=json", "-p",
                         '[{"op": "remove", "path": "/metadata/finalizers"}]')
    assert kube_cluster.get("argoproj.io/v1alpha1", "Application", "guestbook", "argocd") is None


@pytest.mark.parametrize(("manifest", "expected"), [
    pytest.param("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  replicas: two\n"
                 "  template: {spec: {containers: [{name: web, image: nginx}]}}\n",
                 ['The Deployment "bad" is invalid', 'spec.replicas: Invalid value: "string": spec.replicas in '
                  'body must be of type integer', "spec.selector: Required value"], id="built-in kind"),
    pytest.param("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
                 ['metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'], id="name"),
    pytest.param("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndatum: {a: b}\n",
                 ['unknown field "datum"'], id="unknown field"),
    pytest.param("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata: {blob: %s}\n" % ("x" * 1048577),
                 ["Too long: must have at most 1048576 bytes"], id="too big"),
])
def test_invalid_objects_are_refused_with_the_api_servers_message(kube_cluster: KubeCluster, manifest: str,
                                                                  expected: list[str]) -> None:
    refused = kube_cluster.kubectl("apply", "-f", "-", input=manifest, check=False)
    assert refused.returncode != 0
    for text in expected:
        assert text in refused.stderr
    assert kube_cluster.get("apps/v1", "Deployment", "bad") is None
    assert kube_cluster.get("v1", "ConfigMap", "typo") is None and kube_cluster.get("v1", "ConfigMap", "huge") is None
