"""The cluster behind the API: which resources are served (built-in plus installed CRDs), the store, and the
reactions of a healthy cluster to each change (simulated controllers, garbage collection of dependents,
namespace termination, CRDs becoming Established)."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from typing import Any

from . import controllers
from .catalogue import Resource, builtin_resources, crd_resources
from .discovery import now
from .openapi import Descriptions
from .store import Store

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# A namespace's content goes a moment after its deletion, as the namespace controller works (so `kubectl delete
# -f` of a namespace and its objects deletes each of them, as against a real cluster).
NAMESPACE_CLEANUP_DELAY = 0.5


class Cluster:
    def __init__(self) -> None:
        self.store = Store()
        self.custom: dict[tuple[str, str, str], Resource] = {}  # (group, version, plural) of installed CRDs
        self._descriptions: tuple[tuple[Any, ...], Descriptions] | None = None
        self._lock = threading.RLock()
        self._terminating: dict[str, float] = {}  # namespace -> when its content goes (monotonic)
        self.reset()

    def reset(self) -> None:
        """An empty cluster: only the namespaces every cluster has."""
        with self.store.lock:
            self.store.reset()
            self.custom.clear()
            self._terminating.clear()
            for name in INITIAL_NAMESPACES:
                namespace = {"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now()}}
                controllers.default(self.resource("", "v1", "namespaces"), namespace)  # type: ignore[arg-type]
                self.store.write(("", "namespaces", "", name), namespace, "ADDED")
            self.store.write(("", "nodes", "", controllers.NODE), {
                **controllers.node(), "metadata": {**controllers.node()["metadata"], "uid": str(uuid.uuid4()),
                                                   "creationTimestamp": now()}}, "ADDED")

    # -- what is served ---------------------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        return [*builtin_resources(), *self.custom.values()]

    def resource(self, group: str, version: str, plural: str) -> Resource | None:
        found = self.custom.get((group, version, plural))
        if found is not None:
            return found
        return next((r for r in builtin_resources() if (r.group, r.version, r.plural) == (group, version, plural)),
                    None)

    def resource_for_kind(self, api_version: str, kind: str) -> Resource | None:
        group, _, version = api_version.rpartition("/")
        return next((r for r in self.resources() if (r.group, r.version, r.kind) == (group, version, kind)), None)

    def descriptions(self) -> Descriptions:
        key = tuple(sorted((k, r.crd["metadata"]["resourceVersion"]) for k, r in self.custom.items()
                           if r.crd is not None))
        with self._lock:
            if self._descriptions is None or self._descriptions[0] != key:
                self._descriptions = (key, Descriptions(list(self.custom.values())))
            return self._descriptions[1]

    # -- reactions (called with the store locked) -------------------------------------------------------
    def changed(self, resource: Resource, obj: dict[str, Any]) -> None:
        kind = resource.key
        if kind == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._establish(obj)
        elif kind == ("apps", "deployments"):
            self._roll_out(obj)
        elif kind == ("apps", "replicasets"):
            self._run_pods(obj, int(obj["spec"].get("replicas", 1)))
            self._set_status(resource, obj, controllers.replicaset_status(obj))
        elif kind == ("apps", "statefulsets"):
            self._run_pods(obj, int(obj["spec"].get("replicas", 1)), ordinal=True)
            self._set_status(resource, obj, controllers.statefulset_status(obj))
        elif kind == ("apps", "daemonsets"):
            self._run_pods(obj, 1)
            self._set_status(resource, obj, {"currentNumberScheduled": 1, "desiredNumberScheduled": 1,
                                             "numberAvailable": 1, "numberReady": 1, "updatedNumberScheduled": 1,
                                             "numberMisscheduled": 0,
                                             "observedGeneration": obj["metadata"].get("generation", 1)})
        elif kind == ("", "pods") and not obj.get("status", {}).get("phase"):
            obj.setdefault("spec", {}).setdefault("nodeName", controllers.NODE)
            obj["status"] = controllers.pod_status(obj)
            self.store.write(self._key(resource, obj), obj, "MODIFIED")
        elif kind == ("", "persistentvolumeclaims"):
            spec = obj.get("spec", {})
            self._set_status(resource, obj, {"phase": "Bound", "accessModes": spec.get("accessModes", []),
                                             "capacity": (spec.get("resources") or {}).get("requests", {})})
        elif kind == ("", "persistentvolumes"):
            self._set_status(resource, obj, {"phase": "Bound" if (obj.get("spec") or {}).get("claimRef")
                                             else "Available"})
        elif kind == ("batch", "jobs"):
            self._run_pods(obj, 1, succeeded=True)
            self._set_status(resource, obj, {"succeeded": 1, "startTime": obj["metadata"]["creationTimestamp"],
                                             "completionTime": now(), "conditions": [
                                                 {"type": "Complete", "status": "True", "lastProbeTime": now(),
                                                  "lastTransitionTime": now()}]})

    def _set_status(self, resource: Resource, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        current = self.store.get(self._key(resource, obj))
        if current is None or current.get("status") == status or _same_status(current.get("status"), status):
            return current or obj
        current["status"] = status
        return self.store.write(self._key(resource, obj), current, "MODIFIED")

    def _key(self, resource: Resource, obj: dict[str, Any]) -> tuple[str, str, str, str]:
        meta = obj["metadata"]
        return (resource.group, resource.plural, meta.get("namespace", "") if resource.namespaced else "",
                meta["name"])

    def _establish(self, crd: dict[str, Any]) -> None:
        if crd["metadata"].get("deletionTimestamp"):
            return
        for resource in crd_resources(crd):
            self.custom[(resource.group, resource.version, resource.plural)] = resource
        names = crd["spec"]["names"]
        stamp = now()
        status = {"conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": stamp, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": stamp, "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"}],
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]}
        stored = self._set_status(self.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"),  # type: ignore[arg-type]
                                  crd, status)
        for resource in crd_resources(stored):  # the resources keep the CRD as last stored (descriptions key)
            self.custom[(resource.group, resource.version, resource.plural)] = resource

    def _roll_out(self, deployment: dict[str, Any]) -> None:
        """The Deployment controller: a ReplicaSet per pod template, the current one scaled up and ready."""
        spec, meta = deployment.get("spec", {}), deployment["metadata"]
        if spec.get("paused") or meta.get("deletionTimestamp"):
            return
        replicasets = self.resource("apps", "v1", "replicasets")
        assert replicasets is not None
        template = copy.deepcopy(spec.get("template", {}))
        template_hash = controllers.pod_template_hash(template)
        name = f"{meta['name']}-{template_hash}"
        namespace = meta["namespace"]
        owned = [rs for rs in self.store.items("apps", "replicasets", namespace)
                 if any(ref.get("uid") == meta["uid"] for ref in rs["metadata"].get("ownerReferences", ()))]
        revisions = [int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0))
                     for rs in owned]
        current = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
        revision = str(max(revisions, default=0) + (0 if current is not None and max(revisions, default=0) == int(
            current["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0)) else 1))
        for old in owned:
            if old["metadata"]["name"] != name and old["spec"].get("replicas", 0) != 0:
                old["spec"]["replicas"] = 0
                old["status"] = controllers.replicaset_status(old)
                self.store.write(("apps", "replicasets", namespace, old["metadata"]["name"]), old, "MODIFIED")
                self._run_pods(old, 0)
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = template_hash
        selector = copy.deepcopy(spec.get("selector", {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
        if current is None:
            current = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
                "name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": now(),
                "generation": 1, "labels": template["metadata"]["labels"],
                "ownerReferences": [controllers.owner_reference(deployment)]}}
        annotations = current["metadata"].setdefault("annotations", {})
        before = copy.deepcopy(current)
        annotations["deployment.kubernetes.io/revision"] = revision
        annotations["deployment.kubernetes.io/desired-replicas"] = str(spec.get("replicas", 1))
        current["spec"] = {"replicas": spec.get("replicas", 1), "selector": selector, "template": template}
        current["status"] = controllers.replicaset_status(current)
        if current != before:
            self.store.write(("apps", "replicasets", namespace, name), current, "ADDED" if "spec" not in before
                             else "MODIFIED")
        self._run_pods(current, int(spec.get("replicas", 1)))
        live = self.store.get(("apps", "deployments", namespace, meta["name"]))
        if live is None:
            return
        live_annotations = live["metadata"].setdefault("annotations", {})
        status = controllers.deployment_status(live, name)
        if live_annotations.get("deployment.kubernetes.io/revision") != revision or not _same_status(
                live.get("status"), status):
            live_annotations["deployment.kubernetes.io/revision"] = revision
            live["status"] = status
            self.store.write(("apps", "deployments", namespace, meta["name"]), live, "MODIFIED")

    def _run_pods(self, owner: dict[str, Any], count: int, ordinal: bool = False, succeeded: bool = False) -> None:
        """The pods a workload controller keeps: `count` of them, owned by `owner`, running (or completed)."""
        meta = owner["metadata"]
        namespace, template = meta["namespace"], owner["spec"].get("template") or {}
        pods = [p for p in self.store.items("", "pods", namespace)
                if any(ref.get("uid") == meta["uid"] for ref in p["metadata"].get("ownerReferences", ()))]
        for extra in sorted(pods, key=lambda p: p["metadata"]["name"])[count:]:
            removed = self.store.remove(("", "pods", namespace, extra["metadata"]["name"]))
            if removed is not None:
                self.removed(self.resource("", "v1", "pods"), removed)  # type: ignore[arg-type]
        for index in range(len(pods), count):
            name = f"{meta['name']}-{index}" if ordinal else f"{meta['name']}-{uuid.uuid4().hex[:5]}"
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": now(),
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [controllers.owner_reference(owner)]},
                "spec": {**copy.deepcopy(template.get("spec") or {}), "nodeName": controllers.NODE}}
            if not ordinal:
                pod["metadata"]["generateName"] = f"{meta['name']}-"
            pod["status"] = controllers.pod_status(pod, succeeded)
            self.store.write(("", "pods", namespace, name), pod, "ADDED")

    def removed(self, resource: Resource, obj: dict[str, Any], policy: str = "Background") -> None:
        """After an object is gone: its dependents are collected (or orphaned), a CRD's resources go."""
        uid = obj["metadata"].get("uid")
        for key, dependent in list(self.store.objects.items()):
            refs = dependent.get("metadata", {}).get("ownerReferences", [])
            if not any(ref.get("uid") == uid for ref in refs):
                continue
            if policy == "Orphan":
                dependent = copy.deepcopy(dependent)
                dependent["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid] or None
                if dependent["metadata"]["ownerReferences"] is None:
                    del dependent["metadata"]["ownerReferences"]
                self.store.write(key, dependent, "MODIFIED")
            else:
                self._delete(key, "Background")
        if resource.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            for served in crd_resources(obj):
                self.custom.pop((served.group, served.version, served.plural), None)
                for key in [k for k in self.store.objects if k[:2] == (served.group, served.plural)]:
                    self.store.remove(key)
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._finish_namespace(namespace)

    def deleting(self, resource: Resource, obj: dict[str, Any], policy: str) -> None:
        """An object with finalizers got its deletionTimestamp; a namespace empties itself first."""
        if resource.key == ("", "namespaces"):
            name = obj["metadata"]["name"]
            obj["status"] = {"phase": "Terminating"}
            self.store.write(("", "namespaces", "", name), obj, "MODIFIED")
            self._terminating[name] = time.monotonic() + NAMESPACE_CLEANUP_DELAY
        elif policy == "Foreground":
            uid = obj["metadata"]["uid"]
            for key, dependent in list(self.store.objects.items()):
                if any(ref.get("uid") == uid for ref in dependent.get("metadata", {}).get("ownerReferences", [])):
                    self._delete(key, "Foreground")

    def tick(self) -> None:
        """The namespace controller's turn (each request and each watch wake-up calls this)."""
        with self.store.lock:
            for name, due in list(self._terminating.items()):
                if due > time.monotonic():
                    continue
                del self._terminating[name]
                for key in [k for k in self.store.objects if k[2] == name and k[1] != "namespaces"]:
                    self._delete(key, "Background")
                self._finish_namespace(name)

    def _delete(self, key: tuple[str, str, str, str], policy: str) -> None:
        obj = self.store.get(key)
        if obj is None:
            return
        resource = next((r for r in self.resources() if (r.group, r.plural) == key[:2]), None)
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = now()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                stored = self.store.write(key, obj, "MODIFIED")
                if resource is not None:
                    self.deleting(resource, stored, policy)
            return
        removed = self.store.remove(key)
        if removed is not None and resource is not None:
            self.removed(resource, removed, policy)

    def _finish_namespace(self, name: str) -> None:
        namespace = self.store.get(("", "namespaces", "", name))
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        if any(k[2] == name and k[1] != "namespaces" for k in self.store.objects):
            return
        if not namespace["metadata"].get("finalizers"):
            self.store.remove(("", "namespaces", "", name))


def _same_status(old: Any, new: Any) -> bool:
    """Statuses equal but for condition timestamps (a controller does not rewrite an unchanged status)."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if not k.endswith("Time")}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return plain(old) == plain(new)
