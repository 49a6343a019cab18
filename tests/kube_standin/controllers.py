"""What the API server and the controllers of a healthy cluster do to objects, only where clients wait on it:
defaulting (a Deployment's replicas and strategy, a Service's clusterIP), a Deployment's ReplicaSet and ready
status (helm --wait, kubectl rollout status), Pods running, PVCs bound, Jobs complete, namespaces Active, CRDs
Established. Everything happens at once, in the request that made the change (no background threads).
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from .catalogue import Resource
from .discovery import now

_service_ips = itertools.count(10)
_HASH_LETTERS = "bcdfghjklmnpqrstvwxz2456789"


def _container_defaults(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = ":" not in tag or tag.endswith(":latest")
    container.setdefault("imagePullPolicy", "Always" if latest and "@" not in tag else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports", ()):
        port.setdefault("protocol", "TCP")


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in [*spec.get("containers", ()), *spec.get("initContainers", ())]:
        _container_defaults(container)


def default(resource: Resource, obj: dict[str, Any]) -> None:
    """The API server's defaulting, for the kinds whose defaults clients read."""
    spec = obj.setdefault("spec", {}) if resource.key in _WITH_SPEC else obj.get("spec")
    kind = resource.key
    if kind == ("", "namespaces"):
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Terminating" if obj["metadata"].get("deletionTimestamp") else "Active"}
    elif kind in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")) and spec is not None:
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == ("apps", "deployments"):
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
            if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                strategy.setdefault("type", "RollingUpdate")
                strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", "25%")
                strategy["rollingUpdate"].setdefault("maxSurge", "25%")
        if kind == ("apps", "statefulsets"):
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        _pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
    elif kind == ("apps", "daemonsets") and spec is not None:
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if spec["updateStrategy"].get("type") == "RollingUpdate":
            spec["updateStrategy"].setdefault("rollingUpdate", {}).setdefault("maxUnavailable", 1)
            spec["updateStrategy"]["rollingUpdate"].setdefault("maxSurge", 0)
        _pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
    elif kind == ("batch", "jobs") and spec is not None:
        for field, value in (("completions", 1), ("parallelism", 1), ("backoffLimit", 6),
                             ("completionMode", "NonIndexed"), ("suspend", False), ("manualSelector", False),
                             ("podReplacementPolicy", "TerminatingOrFailed")):
            spec.setdefault(field, value)
        _pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
    elif kind == ("", "pods") and spec is not None:
        _pod_spec_defaults(spec)
    elif kind == ("", "services") and spec is not None:
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if not spec.get("clusterIP"):
                index = next(_service_ips)
                spec["clusterIP"] = f"10.96.{index // 250}.{index % 250 + 1}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for index, port in enumerate(spec.get("ports", ())):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer"):
                port.setdefault("nodePort", 30000 + (hash((obj["metadata"]["name"], index)) % 2000))
        if spec["type"] == "LoadBalancer":  # a load balancer controller (MetalLB, a cloud's) gives an address
            spec.setdefault("allocateLoadBalancerNodePorts", True)
            spec.setdefault("externalTrafficPolicy", "Cluster")
            obj["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.255.200", "ipMode": "VIP"}]}}
        else:
            obj["status"] = {"loadBalancer": {}}
    elif kind == ("", "secrets"):
        obj.setdefault("type", "Opaque")
    elif kind == ("", "persistentvolumeclaims") and spec is not None:
        spec.setdefault("volumeMode", "Filesystem")
    elif kind == ("apiextensions.k8s.io", "customresourcedefinitions") and spec is not None:
        names = spec.get("names", {})
        names.setdefault("singular", str(names.get("kind", "")).lower())
        names.setdefault("listKind", f"{names.get('kind')}List")
        for version in spec.get("versions", ()):
            version.setdefault("served", True)
            version.setdefault("storage", True)
        spec.setdefault("conversion", {"strategy": "None"})


_WITH_SPEC = {("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets"), ("apps", "daemonsets"),
              ("batch", "jobs"), ("", "pods"), ("", "services"), ("", "persistentvolumeclaims")}


def pod_template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(repr(sorted(_flatten(template))).encode()).digest()
    return "".join(_HASH_LETTERS[b % len(_HASH_LETTERS)] for b in digest[:10])


def _flatten(value: Any, at: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flatten(v, f"{at}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _flatten(v, f"{at}[{i}]")]
    return [(at, repr(value))]


def owner_reference(owner: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def _condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    stamp = now()
    return {"type": kind, "status": "True", "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def deployment_status(deployment: dict[str, Any], replicaset_name: str) -> dict[str, Any]:
    replicas = int(deployment["spec"].get("replicas", 1))
    status = {"observedGeneration": deployment["metadata"].get("generation", 1), "replicas": replicas,
              "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
              "conditions": [
                  _condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                  _condition("Progressing", "NewReplicaSetAvailable",
                             f'ReplicaSet "{replicaset_name}" has successfully progressed.')]}
    return {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}  # zero counts are omitted


def replicaset_status(replicaset: dict[str, Any]) -> dict[str, Any]:
    replicas = int(replicaset["spec"].get("replicas", 1))
    status: dict[str, Any] = {"observedGeneration": replicaset["metadata"].get("generation", 1), "replicas": replicas}
    if replicas:
        status |= {"fullyLabeledReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
    return status


def statefulset_status(statefulset: dict[str, Any]) -> dict[str, Any]:
    replicas = int(statefulset["spec"].get("replicas", 1))
    revision = f"{statefulset['metadata']['name']}-{pod_template_hash(statefulset['spec'].get('template', {}))}"
    return {"observedGeneration": statefulset["metadata"].get("generation", 1), "replicas": replicas,
            "readyReplicas": replicas, "currentReplicas": replicas, "updatedReplicas": replicas,
            "availableReplicas": replicas, "currentRevision": revision, "updateRevision": revision,
            "collisionCount": 0}



ADMIN = {"username": "kube-standin-admin", "groups": ["system:masters", "system:authenticated"]}


def review(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The answer to a review: the stand-in's one user (the kubeconfig's token) may do everything."""
    if resource.kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
        return {"allowed": True, "reason": "the stand-in's user is a cluster administrator"}
    if resource.kind == "SelfSubjectRulesReview":
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    if resource.kind == "SelfSubjectReview":
        return {"userInfo": ADMIN}
    if resource.kind == "TokenReview":
        return {"authenticated": False, "error": "the stand-in reviews no tokens"}
    return {}


NODE = "standin-node"
_pod_ips = itertools.count(2)


def pod_status(pod: dict[str, Any], succeeded: bool = False) -> dict[str, Any]:
    """A pod the kubelet started (its containers running and ready), or, for a Job's pod, ran to completion."""
    stamp = now()
    index = next(_pod_ips)
    containers = (pod.get("spec") or {}).get("containers", [])
    state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": stamp, "finishedAt": stamp}} \
        if succeeded else {"running": {"startedAt": stamp}}
    ready = "False" if succeeded else "True"
    return {"phase": "Succeeded" if succeeded else "Running", "hostIP": "172.18.0.2",
            "podIP": f"10.244.{index // 250}.{index % 250 + 1}", "startTime": stamp, "qosClass": "BestEffort",
            "conditions": [{"type": t, "status": "True" if t in ("Initialized", "PodScheduled") else ready,
                            "lastTransitionTime": stamp}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "",
                                   "ready": not succeeded, "restartCount": 0, "started": not succeeded,
                                   "state": state} for c in containers]}


def node() -> dict[str, Any]:
    """The cluster's one node, ready (where the simulated pods run)."""
    stamp = now()
    return {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                 "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status", "lastHeartbeatTime": stamp,
                                   "lastTransitionTime": stamp}],
                   "addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                                 {"type": "Hostname", "address": NODE}],
                   "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://1.7",
                                "kernelVersion": "6.1", "kubeProxyVersion": "v1.36.0", "kubeletVersion": "v1.36.0",
                                "machineID": "", "operatingSystem": "linux", "osImage": "kube-standin",
                                "systemUUID": ""}}}
