"""Discovery documents (/version, /api, /apis, /api/v1, /apis/G, /apis/G/V), Status objects for errors and
Tables for `kubectl get`, shaped as the API server shapes them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from .catalogue import Resource, version_priority

VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.0", "gitCommit": "kube-standin", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc", "platform": "linux/amd64"}


class ApiError(Exception):
    """Ends a request with a Kubernetes Status (`reason` as the API server names it)."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(resource: Resource) -> str:
    """`deployments.apps`, `configmaps`: how messages name a resource."""
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(resource)} "{name}" not found',
                    {"name": name, "group": resource.group, "kind": resource.plural})


def success(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": meta.get("name"), "group": resource.group, "kind": resource.plural,
                        "uid": meta.get("uid")}}


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def _groups(resources: Iterable[Resource]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for resource in resources:
        if resource.group:
            found.setdefault(resource.group, set()).add(resource.version)
    return {g: sorted(vs, key=version_priority) for g, vs in found.items()}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(resources: Iterable[Resource]) -> dict[str, Any]:
    groups = _groups(resources)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in sorted(groups.items())]}


def api_group(resources: Iterable[Resource], name: str) -> dict[str, Any] | None:
    versions = _groups(resources).get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def api_resource_list(resources: Iterable[Resource], group: str, version: str) -> dict[str, Any] | None:
    mine = [r for r in resources if r.group == group and r.version == version]
    if not mine:
        return None
    entries = [entry for r in sorted(mine, key=lambda r: r.plural) for entry in r.discovery()]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": mine[0].group_version,
            "resources": entries}


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _aggregated_resource(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural, "responseKind": {"group": resource.group, "version": resource.version,
                                                      "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster", "singularResource": resource.kind.lower(),
        "verbs": sorted(resource.verbs)}
    if resource.short_names:
        entry["shortNames"] = resource.short_names
    if resource.categories:
        entry["categories"] = resource.categories
    subresources = []
    for name, kind in sorted(resource.subresources.items()):
        group, version = resource.sub_groups.get(name, (resource.group, resource.version))
        subresources.append({"subresource": name, "responseKind": {"group": group, "version": version, "kind": kind},
                             "verbs": ["get", "patch", "update"]})
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(resources: Iterable[Resource], core: bool) -> dict[str, Any]:
    """Aggregated discovery (apidiscovery.k8s.io/v2), which kubectl 1.30 asks /api and /apis for first: every
    group, version and resource in one answer instead of one request per group-version."""
    groups: dict[str, dict[str, list[Resource]]] = {}
    for resource in resources:
        if (resource.group == "") == core:
            groups.setdefault(resource.group, {}).setdefault(resource.version, []).append(resource)
    items = []
    for name, versions in sorted(groups.items()):
        listed = [{"version": version, "freshness": "Current",
                   "resources": [_aggregated_resource(r) for r in sorted(versions[version], key=lambda r: r.plural)]}
                  for version in sorted(versions, key=version_priority)]
        items.append({"metadata": {"name": name} if name else {}, "versions": listed})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
