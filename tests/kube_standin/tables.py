"""Server-side printing (`kubectl get` asks for `application/json;as=Table`): the columns the API server prints
for the common built-in kinds, a CRD's additionalPrinterColumns (JSONPath), NAME and AGE for everything else."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from .catalogue import Resource

Cell = Callable[[dict[str, Any]], Any]


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    seconds = int((datetime.datetime.now(datetime.UTC) - then).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _get(obj: Any, path: str) -> Any:
    """A JSONPath of the simple kind printer columns use (`.status.sync.status`, `.spec.ports[0].port`)."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path.lstrip(".")):
        if part.startswith("["):
            obj = obj[int(part[1:-1])] if isinstance(obj, list) and int(part[1:-1]) < len(obj) else None
        else:
            obj = obj.get(part) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def _status(path: str, default: Any = 0) -> Cell:
    return lambda obj: _get(obj, path) if _get(obj, path) is not None else default


def _ready(obj: dict[str, Any]) -> str:
    return f"{_get(obj, '.status.readyReplicas') or 0}/{_get(obj, '.spec.replicas') or 0}"


def _pod_ready(obj: dict[str, Any]) -> str:
    statuses = _get(obj, ".status.containerStatuses") or []
    return f"{sum(1 for c in statuses if c.get('ready'))}/{len(_get(obj, '.spec.containers') or [])}"


def _ports(obj: dict[str, Any]) -> str:
    ports = _get(obj, ".spec.ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


BUILTIN: dict[tuple[str, str], list[tuple[str, str, Cell]]] = {
    ("apps", "deployments"): [("Ready", "string", _ready),
                              ("Up-to-date", "integer", _status(".status.updatedReplicas")),
                              ("Available", "integer", _status(".status.availableReplicas"))],
    ("apps", "replicasets"): [("Desired", "integer", _status(".spec.replicas")),
                              ("Current", "integer", _status(".status.replicas")),
                              ("Ready", "integer", _status(".status.readyReplicas"))],
    ("apps", "statefulsets"): [("Ready", "string", _ready)],
    ("", "pods"): [("Ready", "string", _pod_ready), ("Status", "string", _status(".status.phase", "Pending")),
                   ("Restarts", "string", lambda obj: "0")],
    ("", "services"): [("Type", "string", _status(".spec.type", "")),
                       ("Cluster-IP", "string", _status(".spec.clusterIP", "<none>")),
                       ("External-IP", "string", lambda obj: (_get(obj, ".status.loadBalancer.ingress[0].ip")
                                                              or "<none>")),
                       ("Port(s)", "string", _ports)],
    ("", "configmaps"): [("Data", "integer", lambda obj: len(obj.get("data") or {}) + len(obj.get("binaryData")
                                                                                          or {}))],
    ("", "secrets"): [("Type", "string", _status(".type", "")),
                      ("Data", "integer", lambda obj: len(obj.get("data") or {}))],
    ("", "namespaces"): [("Status", "string", _status(".status.phase", ""))],
    ("", "persistentvolumeclaims"): [("Status", "string", _status(".status.phase", "Pending"))],
}


def _printer_cell(column: dict[str, Any]) -> Cell:
    path, kind = column["jsonPath"], column.get("type")
    return lambda obj: _age(_get(obj, path)) if kind == "date" else _get(obj, path)


def _columns(resource: Resource) -> list[tuple[str, str, Cell, int]]:
    if resource.crd is not None:
        version = next((v for v in resource.crd["spec"]["versions"] if v["name"] == resource.version), {})
        printed = version.get("additionalPrinterColumns")
        if printed:
            return [(c["name"], c.get("type", "string"), _printer_cell(c), int(c.get("priority", 0)))
                    for c in printed]
    columns = [(name, kind, cell, 0) for name, kind, cell in BUILTIN.get(resource.key, [])]
    return [*columns, ("Age", "string", lambda obj: _age(_get(obj, ".metadata.creationTimestamp")), 0)]


def table(resource: Resource, objects: list[dict[str, Any]], list_meta: dict[str, Any], include: str
          ) -> dict[str, Any]:
    """Each row carries the object, its metadata only (includeObject=Metadata, the default), or nothing."""
    columns = _columns(resource)
    rows = []
    for obj in objects:
        meta = obj.get("metadata", {})
        if include == "None":
            row_object = None
        elif include == "Object":
            row_object = obj
        else:
            row_object = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
        rows.append({"cells": [meta.get("name"), *(cell(obj) for _, _, cell, _ in columns)], "object": row_object})
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique "
                    "within a namespace.", "priority": 0}]
    definitions += [{"name": name, "type": kind, "format": "", "description": name, "priority": priority}
                    for name, kind, _, priority in columns]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": definitions,
            "rows": rows}
