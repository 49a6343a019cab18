"""The Kubernetes client against the stand-in API server (which validates every object against Kubernetes'
official OpenAPI description and serves HTTPS with its own CA and a bearer token, as a cluster does)."""

from __future__ import annotations

import json
import logging

import pytest

from devstream.errors import KubernetesError, KubernetesTimeoutError
from devstream.plugins.kube import FIELD_MANAGER, KubeClient, resolve_target


@pytest.fixture
def kube(kube_cluster):
    with KubeClient(resolve_target(kubeconfig=str(kube_cluster.kubeconfig))) as client:
        yield client


def _config_map(name: str, data: dict, namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": data}


def test_server_side_apply_as_dtm_is_idempotent_and_leaves_other_managers_fields(kube, kube_cluster):
    live = kube.apply(_config_map("settings", {"a": "1"}))
    assert live["data"] == {"a": "1"}
    assert [m["manager"] for m in live["metadata"]["managedFields"]] == [FIELD_MANAGER]
    applies = [r for r in kube_cluster.requests if r.method == "PATCH"]
    assert applies[-1].content_type == "application/apply-patch+yaml"
    assert applies[-1].query == {"fieldManager": ["dtm"], "force": ["true"]}
    assert applies[-1].user_agent.startswith("dtm/")

    # Someone else adds a key with kubectl; dtm's next apply keeps it and changes only what dtm owns.
    kube_cluster.kubectl("patch", "configmap", "settings", "--type", "merge", "-p", '{"data": {"b": "2"}}')
    again = kube.apply(_config_map("settings", {"a": "3"}))
    assert again["data"] == {"a": "3", "b": "2"}
    assert kube.get("v1", "ConfigMap", "settings", "default")["data"] == {"a": "3", "b": "2"}


def test_get_list_with_selectors_and_delete(kube, kube_cluster):
    assert kube.get("v1", "ConfigMap", "nothing", "default") is None
    for name, team in (("one", "a"), ("two", "b"), ("three", "a")):
        obj = _config_map(name, {})
        obj["metadata"]["labels"] = {"team": team}
        kube.apply(obj)
    assert sorted(o["metadata"]["name"] for o in kube.list("v1", "ConfigMap", "default", labels={"team": "a"})) == \
        ["one", "three"]
    named = kube.list("v1", "ConfigMap", "default", fields={"metadata.name": "two"})
    assert [(o["kind"], o["metadata"]["name"]) for o in named] == [("ConfigMap", "two")]
    assert kube.delete("v1", "ConfigMap", "two", "default") is True
    assert kube.delete("v1", "ConfigMap", "two", "default") is False  # gone already
    assert kube_cluster.get("v1", "ConfigMap", "two", "default") is None


def test_the_server_s_status_message_is_the_error(kube):
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"replicas": "three"}}
    with pytest.raises(KubernetesError) as caught:
        kube.apply(bad)
    assert caught.value.code == 422 and caught.value.reason == "Invalid"
    with pytest.raises(KubernetesError, match="namespaces \"nope\" not found|nope") as missing:
        kube.apply(_config_map("x", {}, namespace="nope"))
    assert missing.value.code == 404
    with pytest.raises(KubernetesError, match="no kind Widget in example.com/v1.*CustomResourceDefinition"):
        kube.get("example.com/v1", "Widget", "w")


def test_waits_are_bounded_and_say_what_they_waited_for(kube, kube_cluster, caplog):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}},
                      "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    kube.apply(deployment)
    with caplog.at_level(logging.INFO, logger="devstream.kube"):
        rolled = kube.wait_rollout("web", "default", timeout=30)
    assert rolled["status"]["availableReplicas"] == 2
    with pytest.raises(KubernetesTimeoutError, match="the rollout of Deployment default/gone .*within 0.5 s"):
        kube.wait_rollout("gone", "default", timeout=0.5)


def test_a_new_crd_is_served_once_established(kube, kube_cluster):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": {"type": "object", "properties": {
                            "size": {"type": "integer"}}}}}}}]}}
    with pytest.raises(KubernetesError):
        kube.get("example.com/v1", "Widget", "w", "default")  # discovery cached without it...
    kube.apply(crd)
    kube.wait_established("widgets.example.com", timeout=30)
    widget = kube.apply({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 3}})
    assert widget["spec"] == {"size": 3}  # ...and asked again once the CRD is there
    assert json.loads(json.dumps(kube.get("example.com/v1", "Widget", "w", "default")))["spec"]["size"] == 3
