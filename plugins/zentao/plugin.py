"""zentao: ZenTao (project management) on Kubernetes, the objects DevStream's zentao plugin made, through dtm's
Kubernetes layer.

DevStream created, with client-go: the namespace (when missing), hostPath PersistentVolumes, the claims, a
Deployment (container `zentao`, ports 80 and 3306, label app=zentao) and a NodePort Service on port 80, then waited
up to 120 x 5 s for the Deployment. dtm applies the same objects declaratively (server-side apply, field manager
dtm), so an update changes them in place instead of deleting and recreating the app, and is better where DevStream
was weak:
- the claims are mounted where ZenTao keeps its files and database (DevStream mounted none), and a volume's
  `hostPath` option is honoured (DevStream ignored it);
- `envs` (MYSQL_ROOT_PASSWORD...) go into a Secret the container reads, not into the Deployment in clear;
- read reports each object, so one deleted or changed by hand (kubectl delete, a patched image or replica count,
  a changed Secret) is drift, and the next apply repairs it;
- delete removes the namespace only when this tool created it, and the volumes' data stays on the nodes
  (reclaim policy Retain, as DevStream set it);
- `dtm import KEY namespace/deployment` adopts an install made another way: recorded as the options describe
  it, so the next plan shows what differs as drift and apply takes it over; delete then leaves it all in place
  (unless imported with `--owned`).
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from devstream.plugin import PermanentError, Plugin, PluginContext, ResourceStatus, TransientError
from devstream.plugin.base import still_adopted
from devstream.plugins.kube import SYSTEM, KubeClient, client_for, deployment_ready
from devstream.plugins.zentao.options import ZentaoOptions
from devstream.secrets import fingerprint

__all__ = ["ZentaoPlugin", "manifests"]

APP_LABELS = {"app": "zentao"}  # DevStream's labels and selector, so its installs are adopted
MANAGED_BY = {"app.kubernetes.io/managed-by": "dtm"}
TOOL_ANNOTATION = "dtm.devstream.io/tool"
# DevStream's paths: its defaultPVPath by volume, and where ZenTao's image keeps its files and database.
DEFAULT_PATHS = ("/www/zentaopms", "/var/lib/mysql")
PORTS = [{"name": "zentao", "containerPort": 80, "protocol": "TCP"},
         {"name": "mysql", "containerPort": 3306, "protocol": "TCP"}]


def _secret_name(options: ZentaoOptions) -> str:
    return f"{options.deployment.name}-env"


def _env_data(options: ZentaoOptions) -> dict[str, str]:
    return {e.key: base64.b64encode(e.value.get_secret_value().encode()).decode() for e in options.deployment.envs}


def _meta(name: str, tool: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**APP_LABELS, **MANAGED_BY},
                            "annotations": {TOOL_ANNOTATION: tool}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def manifests(options: ZentaoOptions, tool: str) -> list[dict[str, Any]]:
    """The objects, in the order they are applied (the namespace itself is handled apart: it may not be ours)."""
    ns = options.namespace
    objects: list[dict[str, Any]] = []
    for i, pv in enumerate(options.persistentVolumes):
        path = pv.hostPath or (DEFAULT_PATHS[i] if i < len(DEFAULT_PATHS) else f"/var/lib/zentao/{pv.pvName}")
        objects.append({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": _meta(pv.pvName, tool),
                        "spec": {"capacity": {"storage": pv.pvCapacity}, "accessModes": ["ReadWriteOnce"],
                                 "persistentVolumeReclaimPolicy": "Retain",
                                 "storageClassName": options.storageClassName, "hostPath": {"path": path}}})
    for pvc in options.persistentVolumeClaims:
        objects.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(pvc.pvcName, tool, ns),
                        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": options.storageClassName,
                                 "resources": {"requests": {"storage": pvc.pvcCapacity}}}})
    deployment = options.deployment
    container: dict[str, Any] = {"name": "zentao", "image": deployment.image, "ports": PORTS}
    if deployment.envs:
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": _meta(_secret_name(options), tool, ns),
                        "type": "Opaque", "data": _env_data(options)})
        container["env"] = [{"name": e.key, "valueFrom": {"secretKeyRef": {"name": _secret_name(options),
                                                                           "key": e.key}}}
                            for e in deployment.envs]
    mounts = []
    for i, pvc in enumerate(options.persistentVolumeClaims):
        mount = pvc.mountPath or (DEFAULT_PATHS[i] if i < len(DEFAULT_PATHS) else None)
        if mount:
            mounts.append({"name": pvc.pvcName, "mountPath": mount})
    if mounts:
        container["volumeMounts"] = mounts
    objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(deployment.name, tool, ns),
                    "spec": {"replicas": deployment.replicas, "selector": {"matchLabels": dict(APP_LABELS)},
                             "template": {"metadata": {"labels": dict(APP_LABELS)},
                                          "spec": {"containers": [container], "volumes": [
                                              {"name": pvc.pvcName, "persistentVolumeClaim": {"claimName": pvc.pvcName}}
                                              for pvc in options.persistentVolumeClaims]}}}})
    objects.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta(options.service.name, tool, ns),
                    "spec": {"type": "NodePort", "selector": dict(APP_LABELS), "ports": [
                        {"name": "zentao", "port": 80, "targetPort": 80, "protocol": "TCP",
                         "nodePort": options.service.nodePort}]}})
    return objects


def _live(kube: KubeClient, api_version: str, kind: str, name: str, ns: str | None) -> dict[str, Any] | None:
    """The object, or None when it is gone or going (a deletion waiting on finalizers is gone for dtm)."""
    obj = kube.get(api_version, kind, name, ns)
    return None if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp") else obj


class ZentaoPlugin(Plugin[ZentaoOptions]):
    name: ClassVar[str] = "zentao"
    Options: ClassVar[type[ZentaoOptions]] = ZentaoOptions
    description: ClassVar[str] = "ZenTao on Kubernetes: namespace, volumes and claims, Deployment, NodePort Service."
    import_id: ClassVar[str] = "namespace/deployment, e.g. zentao/zentao-dp"

    def create(self, options: ZentaoOptions, ctx: PluginContext) -> ResourceStatus:
        return self._converge(options, ctx)

    def update(self, options: ZentaoOptions, ctx: PluginContext) -> ResourceStatus:
        return still_adopted(self._converge(options, ctx), ctx.prior)

    def read(self, options: ZentaoOptions, ctx: PluginContext) -> ResourceStatus | None:
        with client_for(options, ctx) as kube:
            status = _status(kube, options, ctx)
        return None if status is None else still_adopted(status, ctx.prior)

    def import_resource(self, resource_id: str, options: ZentaoOptions, ctx: PluginContext
                        ) -> ResourceStatus | None:
        described = f"{options.namespace}/{options.deployment.name}"
        if resource_id.strip().strip("/") != described:
            raise PermanentError(f"{resource_id} is not the ZenTao {ctx.key} describes ({described}); import that "
                                 f"one, or change namespace and deployment.name")
        with client_for(options, ctx) as kube:
            live = _status(kube, options, ctx)
        if live is None:
            return None
        # As create would have made it (whether it runs is what the cluster says): the objects that differ from
        # the options, or are missing, are drift at the next plan.
        objects = manifests(options, ctx.key)
        planned = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        status = _status_of(options, objects, planned, running=live["running"])
        return status if ctx.owned else {**status, "adopted": True}

    def delete(self, options: ZentaoOptions, ctx: PluginContext) -> None:
        ns = options.namespace
        prior = ctx.prior or {}
        if prior.get("adopted"):
            ctx.logger.warning("%s: ZenTao in namespace %s was adopted by dtm import, not made by dtm, so it is left "
                               "in place", ctx.key, ns)
            return
        with client_for(options, ctx) as kube:
            names = {(o["kind"], o["metadata"]["name"]): o["apiVersion"] for o in manifests(options, ctx.key)}
            # Also what an earlier version of the options made (a renamed Service or Deployment).
            for kind, name in _prior_objects(prior):
                names.setdefault((kind, name), "apps/v1" if kind == "Deployment" else "v1")
            order = ("Service", "Deployment", "Secret", "PersistentVolumeClaim", "PersistentVolume")
            for kind in order:
                for (k, name), api_version in names.items():
                    if k == kind and kube.delete(api_version, kind, name, None if kind == "PersistentVolume" else ns):
                        ctx.logger.info("%s: deleted %s %s", ctx.key, kind, name)
            namespace = kube.get("v1", "Namespace", ns)
            if namespace is not None and _ours(namespace, ctx.key):
                kube.delete("v1", "Namespace", ns)
                ctx.logger.info("%s: deleted namespace %s, which it had created", ctx.key, ns)

    def output_keys(self, options: ZentaoOptions) -> set[str] | None:
        return {"namespace", "deployment", "service", "nodePort"}

    def systems(self, options: Any) -> set[str]:
        return {SYSTEM}

    def _converge(self, options: ZentaoOptions, ctx: PluginContext) -> ResourceStatus:
        ns = options.namespace
        with client_for(options, ctx) as kube:
            if kube.get("v1", "Namespace", ns) is None:
                kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, ctx.key)})
                ctx.logger.info("%s: created namespace %s", ctx.key, ns)
            for obj in manifests(options, ctx.key):
                kube.apply(obj)
            if not options.deployment.envs and kube.delete("v1", "Secret", _secret_name(options), ns):
                ctx.logger.info("%s: removed the env Secret: the options have no envs any more", ctx.key)
            self._remove_renamed(kube, options, ctx)
            if options.waitTimeout:
                kube.wait_rollout(options.deployment.name, ns, timeout=options.waitTimeout)
            status = _status(kube, options, ctx)
        if status is None:  # applied a moment ago: gone again means someone else is deleting it
            raise TransientError(f"{ctx.key}: the objects just applied are gone again (is something deleting them?)")
        ctx.logger.info("%s: ZenTao is on node port %d (Service %s/%s)", ctx.key, options.service.nodePort, ns,
                        options.service.name)
        return status

    @staticmethod
    def _remove_renamed(kube: KubeClient, options: ZentaoOptions, ctx: PluginContext) -> None:
        """The Deployment or Service an earlier version of the options named: gone with the rename. Volumes and
        claims dropped from the options are kept (their data), with a warning."""
        current = {(o["kind"], o["metadata"]["name"]) for o in manifests(options, ctx.key)}
        for kind, name in _prior_objects(ctx.prior or {}):
            if (kind, name) in current:
                continue
            if kind in ("Deployment", "Service"):
                kube.delete("apps/v1" if kind == "Deployment" else "v1", kind, name, options.namespace)
                ctx.logger.info("%s: deleted %s %s, which the options no longer name", ctx.key, kind, name)
            elif kind in ("PersistentVolume", "PersistentVolumeClaim"):
                ctx.logger.warning("%s: %s %s is no longer in the options; it is kept with its data: delete it "
                                   "with kubectl when it is not needed", ctx.key, kind, name)


def _ours(obj: dict[str, Any], tool: str) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(TOOL_ANNOTATION) == tool


def _prior_objects(prior: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for entry in prior.get("objects") or []:
        kind, _, name = str(entry).partition("/")
        if kind and name:
            found.append((kind, name))
    return found


def _status(kube: KubeClient, options: ZentaoOptions, ctx: PluginContext) -> ResourceStatus | None:
    """What is live, as a status that changes when anything dtm manages changes; None when none of it exists."""
    ns = options.namespace
    live: dict[tuple[str, str], dict[str, Any]] = {}
    objects = manifests(options, ctx.key)
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        found = _live(kube, obj["apiVersion"], kind, name, ns if kind != "PersistentVolume" else None)
        if found is not None:
            live[(kind, name)] = found
    if not any(k in ("Deployment", "Service") for k, _ in live):
        return None
    deployment = live.get(("Deployment", options.deployment.name))
    return _status_of(options, objects, live,
                      running=deployment is not None and deployment_ready(deployment) is None)


def _status_of(options: ZentaoOptions, objects: list[dict[str, Any]], live: dict[tuple[str, str], dict[str, Any]],
               running: bool) -> ResourceStatus:
    """The status of the objects in `live` (kind and name -> object); those of `objects` (the options') it lacks
    are missing."""
    ns = options.namespace
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    present = [n for n in names if tuple(n.split("/", 1)) in live]
    deployment = live.get(("Deployment", options.deployment.name))
    service = live.get(("Service", options.service.name))
    status: dict[str, Any] = {"namespace": ns, "objects": present, "missing": [n for n in names if n not in present],
                              "running": running}
    if deployment is not None:
        spec = deployment.get("spec") or {}
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        status["deployment"] = {"name": options.deployment.name, "replicas": spec.get("replicas"),
                                "image": containers[0].get("image"),
                                "env": sorted(e.get("name", "") for e in containers[0].get("env") or [])}
    if service is not None:
        ports = (service.get("spec") or {}).get("ports") or [{}]
        status["service"] = {"name": options.service.name, "type": (service.get("spec") or {}).get("type"),
                             "nodePort": ports[0].get("nodePort")}
    secret = live.get(("Secret", _secret_name(options)))
    if secret is not None:
        # The data's fingerprint: a changed value is drift, and no value reaches the state.
        status["envFingerprint"] = fingerprint(json.dumps(secret.get("data") or {}, sort_keys=True))
    status["outputs"] = {"namespace": ns, "deployment": options.deployment.name, "service": options.service.name,
                         "nodePort": options.service.nodePort}
    return status
