"""What clients rely on below kubectl's and helm's surface, read over HTTPS as any client would: watches (resume
from a resourceVersion, selections entering and leaving, 410 after compaction), the OpenAPI documents the stand-in
serves, authentication, and Status errors shaped as the API server shapes them."""

from __future__ import annotations

import json
import ssl
import threading
from typing import Any

import httpx
import pytest
from kube_cluster import ARGOCD_APPLICATION_CRD, KubeCluster


def _client(kube_cluster: KubeCluster, token: str | None = None) -> httpx.Client:
    context = ssl.create_default_context(cadata=kube_cluster.standin.certificates.ca_pem.decode())
    return httpx.Client(base_url=kube_cluster.url, verify=context, timeout=30,
                        headers={"Authorization": f"Bearer {token or kube_cluster.standin.token}"})


def _config_map(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": "v"}}


def test_a_watch_replays_from_its_resource_version_and_follows_its_selection(kube_cluster: KubeCluster) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    with _client(kube_cluster) as client:
        start = client.get(base).json()["metadata"]["resourceVersion"]
        client.post(base, json=_config_map("a", tier="front"))
        client.post(base, json=_config_map("b", tier="back"))
        # `a` leaves the selection, `b` enters it, then `b` is deleted
        client.patch(f"{base}/a", content=json.dumps({"metadata": {"labels": {"tier": "back"}}}),
                     headers={"Content-Type": "application/merge-patch+json"})
        client.patch(f"{base}/b", content=json.dumps({"metadata": {"labels": {"tier": "front"}}}),
                     headers={"Content-Type": "application/merge-patch+json"})
        client.delete(f"{base}/b")
        seen = []
        with client.stream("GET", base, params={"watch": "true", "resourceVersion": start,
                                                "labelSelector": "tier=front", "timeoutSeconds": "1"}) as events:
            for line in events.iter_lines():
                event = json.loads(line)
                seen.append((event["type"], event["object"]["metadata"]["name"]))
    assert seen == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "b"), ("DELETED", "b")]


def test_a_watch_gets_changes_made_while_it_waits(kube_cluster: KubeCluster) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    with _client(kube_cluster) as client:
        start = client.get(base).json()["metadata"]["resourceVersion"]
        seen: list[str] = []

        def watch() -> None:
            with _client(kube_cluster) as watcher, watcher.stream(
                    "GET", base, params={"watch": "1", "resourceVersion": start,
                                         "fieldSelector": "metadata.name=late", "timeoutSeconds": "20"}) as events:
                for line in events.iter_lines():
                    seen.append(json.loads(line)["type"])
                    if len(seen) == 2:
                        return

        watching = threading.Thread(target=watch)
        watching.start()
        client.post(base, json=_config_map("late"))
        client.delete(f"{base}/late")
        watching.join(timeout=30)
    assert seen == ["ADDED", "DELETED"]


def test_a_watch_from_a_compacted_revision_is_told_to_list_again(kube_cluster: KubeCluster,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_cluster.standin.cluster.store, "history", 2)
    base = "/api/v1/namespaces/default/configmaps"
    with _client(kube_cluster) as client:
        start = client.get(base).json()["metadata"]["resourceVersion"]
        for name in ("a", "b", "c"):
            client.post(base, json=_config_map(name))
        with client.stream("GET", base, params={"watch": "1", "resourceVersion": start}) as events:
            first = json.loads(next(events.iter_lines()))
    assert first["type"] == "ERROR"
    assert first["object"]["code"] == 410 and first["object"]["reason"] == "Expired"


def test_errors_are_kubernetes_status_objects(kube_cluster: KubeCluster) -> None:
    with _client(kube_cluster) as client:
        missing = client.get("/api/v1/namespaces/default/configmaps/nothing")
        assert missing.status_code == 404 and missing.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'configmaps "nothing" not found', "reason": "NotFound",
            "details": {"name": "nothing", "group": "", "kind": "configmaps"}, "code": 404}
        no_namespace = client.post("/api/v1/namespaces/ghost/configmaps", json=_config_map("x"))
        assert no_namespace.status_code == 404 and no_namespace.json()["message"] == 'namespaces "ghost" not found'
        client.post("/api/v1/namespaces/default/configmaps", json=_config_map("x"))
        again = client.post("/api/v1/namespaces/default/configmaps", json=_config_map("x"))
        assert again.status_code == 409 and again.json()["reason"] == "AlreadyExists"
        stale = client.put("/api/v1/namespaces/default/configmaps/x",
                           json={**_config_map("x"), "metadata": {"name": "x", "resourceVersion": "1"}})
        assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
        # what the official description does not declare is refused, so a client's typo shows at once
        typo = client.post("/api/v1/namespaces/default/configmaps", params={"fieldManger": "dtm"},
                           json=_config_map("y"))
        assert typo.status_code == 400 and "unknown query parameter 'fieldManger' for post" in typo.json()["message"]
        bad_policy = client.request("DELETE", "/api/v1/namespaces/default/configmaps/x",
                                    json={"propagationPolicy": "Eventually"})
        assert bad_policy.status_code == 422 and 'Unsupported value: "Eventually"' in bad_policy.json()["message"]
        assert kube_cluster.standin.problems and kube_cluster.get("v1", "ConfigMap", "x") is not None
    with _client(kube_cluster, token="wrong") as stranger:
        assert stranger.get("/api/v1/namespaces").status_code == 401


def test_openapi_documents_carry_installed_crds(kube_cluster: KubeCluster) -> None:
    kube_cluster.install_crd(ARGOCD_APPLICATION_CRD)
    with _client(kube_cluster) as client:
        index = client.get("/openapi/v3").json()["paths"]
        assert {"api/v1", "apis/apps/v1", "apis/argoproj.io/v1alpha1"} <= set(index)
        group = client.get(index["apis/argoproj.io/v1alpha1"]["serverRelativeURL"]).json()
        schema = group["components"]["schemas"]["io.argoproj.v1alpha1.Application"]
        assert schema["x-kubernetes-group-version-kind"] == [
            {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"}]
        assert "spec" in schema["properties"]
        v2 = client.get("/openapi/v2", headers={"Accept": "application/json"}).json()
        assert "io.argoproj.v1alpha1.Application" in v2["definitions"]
        assert "io.k8s.api.apps.v1.Deployment" in v2["definitions"]
        protobuf = client.get("/openapi/v2", headers={
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
        assert protobuf.headers["Content-Type"].startswith("application/com.github.proto-openapi.spec.v2")
        assert b"io.argoproj.v1alpha1.Application" in protobuf.content
