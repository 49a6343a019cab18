"""What the stand-in serves, read from the official description: every resource (group, version, plural, kind,
scope, verbs, subresources) that Kubernetes 1.36's OpenAPI v2 document declares, plus the resources a created
CustomResourceDefinition adds. Discovery, routing and validation all look resources up here.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The official descriptions, copied unchanged (see reference/README.md for sources and licences).
REFERENCE = Path(__file__).resolve().parent / "reference"
SWAGGER = REFERENCE / "kubernetes-1.36-swagger.json"

# Short names and categories are not in the OpenAPI document; these are the API server's own (its registry).
SHORT_NAMES = {
    ("", "configmaps"): ["cm"], ("", "endpoints"): ["ep"], ("", "events"): ["ev"], ("", "limitranges"): ["limits"],
    ("", "namespaces"): ["ns"], ("", "nodes"): ["no"], ("", "persistentvolumeclaims"): ["pvc"],
    ("", "persistentvolumes"): ["pv"], ("", "pods"): ["po"], ("", "replicationcontrollers"): ["rc"],
    ("", "resourcequotas"): ["quota"], ("", "serviceaccounts"): ["sa"], ("", "services"): ["svc"],
    ("apps", "daemonsets"): ["ds"], ("apps", "deployments"): ["deploy"], ("apps", "replicasets"): ["rs"],
    ("apps", "statefulsets"): ["sts"], ("autoscaling", "horizontalpodautoscalers"): ["hpa"],
    ("batch", "cronjobs"): ["cj"], ("networking.k8s.io", "ingresses"): ["ing"],
    ("networking.k8s.io", "networkpolicies"): ["netpol"], ("policy", "poddisruptionbudgets"): ["pdb"],
    ("storage.k8s.io", "storageclasses"): ["sc"],
    ("apiextensions.k8s.io", "customresourcedefinitions"): ["crd", "crds"],
}
ALL_CATEGORY = {("", "pods"), ("", "services"), ("", "replicationcontrollers"), ("apps", "deployments"),
                ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"),
                ("batch", "cronjobs"), ("autoscaling", "horizontalpodautoscalers")}

_ACTION_VERBS = {"get": "get", "list": "list", "post": "create", "put": "update", "patch": "patch",
                 "delete": "delete", "deletecollection": "deletecollection"}


@dataclass
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: set[str] = field(default_factory=set)
    subresources: dict[str, str] = field(default_factory=dict)  # name -> kind served there ("status" -> Deployment)
    sub_groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # "scale" -> ("autoscaling", "v1")
    definition: str | None = None  # swagger definition name, for built-in kinds
    crd: dict[str, Any] | None = None  # the CustomResourceDefinition serving it
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    def discovery(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"name": self.plural, "singularName": self.kind.lower(), "namespaced": self.namespaced,
                                 "kind": self.kind, "verbs": sorted(self.verbs)}
        if self.short_names:
            entry["shortNames"] = self.short_names
        if self.categories:
            entry["categories"] = self.categories
        entries = [entry]
        for name, kind in sorted(self.subresources.items()):
            sub: dict[str, Any] = {"name": f"{self.plural}/{name}", "singularName": "", "namespaced": self.namespaced,
                                   "kind": kind, "verbs": ["get", "patch", "update"]}
            if name in self.sub_groups:
                sub["group"], sub["version"] = self.sub_groups[name]
            entries.append(sub)
        return entries


@functools.cache
def swagger() -> dict[str, Any]:
    """Kubernetes 1.36's OpenAPI v2 document, loaded once per process (treat as read-only)."""
    return json.loads(SWAGGER.read_text())


_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                   r"(?P<ns>/namespaces/\{namespace\})?/(?P<plural>[^/{]+)(?:/\{name\}(?:/(?P<sub>[^/]+))?)?$")


@functools.cache
def builtin_resources() -> tuple[Resource, ...]:
    """Every resource the description declares a path for (watch/ paths only add the verb)."""
    doc = swagger()
    definitions_by_gvk: dict[tuple[str, str, str], str] = {}
    for name, schema in doc["definitions"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            definitions_by_gvk.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    found: dict[tuple[str, str, str], Resource] = {}
    for path, item in doc["paths"].items():
        watch = "/watch/" in path
        match = _PATH.match(path.replace("/watch/", "/", 1))
        if not match:
            continue
        group = match["group"] or ""
        version = match["core"] or match["version"]
        plural, sub = match["plural"], match["sub"]
        if plural == "namespaces" and match["ns"] is None and sub is None and "{name}" not in path:
            pass
        namespaced = match["ns"] is not None
        for method in ("get", "post", "put", "patch", "delete"):
            op = item.get(method)
            if not op or "x-kubernetes-group-version-kind" not in op:
                continue
            gvk = op["x-kubernetes-group-version-kind"]
            key = (group, version, plural)
            if sub is None and not watch:
                resource = found.get(key)
                if resource is None:
                    resource = found[key] = Resource(group, version, plural, gvk["kind"], namespaced)
                    resource.definition = definitions_by_gvk.get((gvk["group"], gvk["version"], gvk["kind"]))
                resource.namespaced = resource.namespaced or namespaced
                action = op.get("x-kubernetes-action", method)
                verb = _ACTION_VERBS.get(action) or _ACTION_VERBS.get(method)
                if verb:
                    resource.verbs.add(verb)
                if action == "list" and not namespaced and resource.namespaced is False:
                    pass
            elif watch:
                found.setdefault(key, Resource(group, version, plural, gvk["kind"], namespaced)).verbs.add("watch")
            elif sub and method in ("get", "put", "patch"):
                resource = found.setdefault(key, Resource(group, version, plural, gvk["kind"], namespaced))
                resource.subresources[sub] = gvk["kind"]
                if (gvk["group"], gvk["version"]) != (group, version):
                    resource.sub_groups[sub] = (gvk["group"], gvk["version"])
    for resource in found.values():
        # a namespaced resource also has a cluster-wide list path (/apis/apps/v1/deployments): scope is the
        # item path's, which is namespaced whenever a namespaced path exists
        resource.short_names = SHORT_NAMES.get(resource.key, [])
        resource.categories = ["all"] if resource.key in ALL_CATEGORY else []
    return tuple(r for r in found.values() if r.verbs)


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' order of versions: GA before beta before alpha, higher numbers first (sort ascending)."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    stage = {"": 0, "beta": 1, "alpha": 2}[match[2] or ""]
    return (stage, -int(match[1]), -int(match[3] or 0))


def crd_resources(crd: dict[str, Any]) -> list[Resource]:
    """The resources one CustomResourceDefinition serves (one per served version)."""
    spec = crd["spec"]
    names = spec["names"]
    found = []
    for version in spec.get("versions", ()):
        if not version.get("served", True):
            continue
        resource = Resource(spec["group"], version["name"], names["plural"], names["kind"],
                            spec.get("scope", "Namespaced") == "Namespaced",
                            verbs={"get", "list", "create", "update", "patch", "delete", "deletecollection", "watch"},
                            crd=crd, short_names=list(names.get("shortNames", ())),
                            categories=list(names.get("categories", ())))
        subresources = version.get("subresources") or {}
        if "status" in subresources:
            resource.subresources["status"] = names["kind"]
        if "scale" in subresources:
            resource.subresources["scale"] = "Scale"
            resource.sub_groups["scale"] = ("autoscaling", "v1")
        found.append(resource)
    return found


# Query parameters the API server takes that the description does not declare: the request timeout every
# client-go request may carry, TableOptions' includeObject (kubectl get), GetOptions' resourceVersion.
UNDECLARED_QUERY = {"timeout": {"*"}, "includeObject": {"get", "list"}, "resourceVersion": {"get"}}
QUERY_VALUES = {"fieldValidation": {"Strict", "Warn", "Ignore"}, "dryRun": {"All"},
                "propagationPolicy": {"Orphan", "Background", "Foreground"}, "includeObject": {"None", "Metadata",
                                                                                              "Object"},
                "resourceVersionMatch": {"Exact", "NotOlderThan"}}


@functools.cache
def query_parameters() -> dict[str, frozenset[str]]:
    """The query parameters the description declares for each action on a resource (list, get, post, put, patch,
    delete, deletecollection); custom resources take the same."""
    doc = swagger()
    found: dict[str, set[str]] = {}
    for path, item in doc["paths"].items():
        if "/watch/" in path or not _PATH.match(path):
            continue
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict) or "x-kubernetes-action" not in op:
                continue
            for param in [*item.get("parameters", ()), *op.get("parameters", ())]:
                if "$ref" in param:
                    param = doc["parameters"][param["$ref"].split("/")[-1]]
                if param.get("in") == "query":
                    found.setdefault(op["x-kubernetes-action"], set()).add(param["name"])
    for name, actions in UNDECLARED_QUERY.items():
        for action in found if "*" in actions else actions:
            found.setdefault(action, set()).add(name)
    return {action: frozenset(names) for action, names in found.items()}


def query_problems(action: str, query: dict[str, list[str]]) -> list[str]:
    allowed = query_parameters().get(action, frozenset())
    problems = [f"unknown query parameter {name!r} for {action} (the Kubernetes 1.36 description declares "
                f"{', '.join(sorted(allowed))})" for name in query if name not in allowed]
    for name, values in QUERY_VALUES.items():
        for value in query.get(name, ()):
            if value not in values:
                problems.append(f"invalid {name} {value!r}: supported values: {', '.join(sorted(values))}")
    return problems
