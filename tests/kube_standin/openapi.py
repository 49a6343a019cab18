"""The descriptions the stand-in serves: /openapi/v2 (JSON, or protobuf as client-go asks) and /openapi/v3 (an
index, then one document per group-version, as the API server publishes them), both the official 1.36 description
plus what the installed CRDs add (their openAPIV3Schema under the name the API server gives it).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

from . import protobuf
from .catalogue import Resource, swagger

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def crd_definition_name(resource: Resource) -> str:
    """`com.example.v1.Widget` for group example.com (the API server's reversed-domain naming)."""
    return ".".join([*reversed(resource.group.split(".")), resource.version, resource.kind])


def crd_schema(resource: Resource) -> dict[str, Any]:
    assert resource.crd is not None
    for version in resource.crd["spec"]["versions"]:
        if version["name"] == resource.version:
            found = copy.deepcopy((version.get("schema") or {}).get("openAPIV3Schema") or {})
            break
    else:
        found = {}
    found.setdefault("type", "object")
    props = found.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"$ref": f"#/definitions/{OBJECT_META}"}
    found["x-kubernetes-group-version-kind"] = [
        {"group": resource.group, "version": resource.version, "kind": resource.kind}]
    return found


def _crd_paths(resource: Resource, v3: bool) -> dict[str, Any]:
    """The item path of a custom resource, with the PATCH operation clients look for (fieldValidation)."""
    prefix = f"/apis/{resource.group}/{resource.version}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    ref = f"#/definitions/{crd_definition_name(resource)}"
    query = [{"in": "query", "name": n, "type": "string", "uniqueItems": True}
             for n in ("dryRun", "fieldManager", "fieldValidation")]
    body = {"in": "body", "name": "body", "required": True, "schema": {"type": "object"}}
    ok = {"200": {"description": "OK", "schema": {"$ref": ref}}}
    ops = {method: {"operationId": f"{method}{resource.kind}", "parameters": [*(([body]) if method != "get" else []),
                                                                            *query],
                    "responses": ok, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
           for method, action in (("get", "get"), ("put", "put"), ("patch", "patch"), ("delete", "delete"))}
    return {f"{prefix}{scope}/{resource.plural}/{{name}}": {
        **ops, "parameters": [{"in": "path", "name": "name", "required": True, "type": "string"}]}}


class Descriptions:
    """Built per set of installed CRDs (the server rebuilds it when that set changes)."""

    def __init__(self, custom: list[Resource]) -> None:
        self.custom = custom
        self.definitions = {crd_definition_name(r): crd_schema(r) for r in custom}
        self.paths: dict[str, Any] = {}
        self._v3: dict[str, dict[str, Any] | None] = {}
        for resource in custom:
            self.paths.update(_crd_paths(resource, v3=False))

    # -- v2 ---------------------------------------------------------------------------------------------
    def v2_json(self) -> dict[str, Any]:
        doc = dict(swagger())
        doc["paths"] = {**doc["paths"], **self.paths}
        doc["definitions"] = {**doc["definitions"], **self.definitions}
        return doc

    @functools.cached_property
    def _v2_protobuf(self) -> bytes:
        return _base_protobuf() + protobuf.paths(self.paths) + protobuf.definitions(self.definitions)

    def v2_protobuf(self) -> bytes:
        return self._v2_protobuf

    # -- v3 ---------------------------------------------------------------------------------------------
    def v3_index(self) -> dict[str, Any]:
        names = {_gv_path(p) for p in swagger()["paths"]} | {_gv_path(p) for p in self.paths}
        return {"paths": {name: {"serverRelativeURL": f"/openapi/v3/{name}?hash={self._hash(name)}"}
                          for name in sorted(n for n in names if n)}}

    def _hash(self, name: str) -> str:
        """Changes when the document does: built-in ones never, a CRD's group-version with its CRDs' versions."""
        crds = sorted((r.crd or {}).get("metadata", {}).get("resourceVersion", "") for r in self.custom
                      if f"apis/{r.group}/{r.version}" == name)
        return hashlib.sha512(json.dumps([name, crds]).encode()).hexdigest()[:64].upper()

    def v3(self, name: str) -> dict[str, Any] | None:
        """The OpenAPI v3 document of one group-version (`api/v1`, `apis/apps/v1`), or None."""
        if name not in self._v3:
            mine = {p: item for p, item in self.paths.items() if _gv_path(p) == name}
            self._v3[name] = _v3_document(mine, {**swagger()["definitions"], **self.definitions}) if mine else \
                _builtin_v3(name)
        return self._v3[name]


@functools.cache
def _base_protobuf() -> bytes:
    return protobuf.document(swagger())


def _gv_path(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        return "api/v1"
    if parts[0] == "apis" and len(parts) >= 4:
        return "/".join(parts[:3])
    return ""


@functools.cache
def _builtin_v3(name: str) -> dict[str, Any] | None:
    doc = swagger()
    mine = {p: item for p, item in doc["paths"].items() if _gv_path(p) == name}
    return _v3_document(mine, doc["definitions"]) if mine else None


def _v3_document(paths: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    parameters = swagger()["parameters"]
    used: set[str] = set()

    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/definitions/"):
                name = node["$ref"][len("#/definitions/"):]
                used.add(name)
                return {**{k: convert(v) for k, v in node.items() if k != "$ref"},
                        "$ref": f"#/components/schemas/{name}"}
            return {k: convert(v) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    def param(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            node = parameters[node["$ref"].split("/")[-1]]
        out = {k: v for k, v in node.items() if k in ("name", "in", "description", "required")}
        out["schema"] = {k: v for k, v in node.items() if k in ("type", "uniqueItems", "format")}
        return out

    converted: dict[str, Any] = {}
    for path, item in paths.items():
        new: dict[str, Any] = {}
        if item.get("parameters"):
            new["parameters"] = [param(p) for p in item["parameters"] if param(p)["in"] != "body"]
        for method, op in item.items():
            if method == "parameters":
                continue
            op = dict(op)
            params = [param(p) if "$ref" in p else p for p in op.pop("parameters", ())]
            body = [p for p in params if p.get("in") == "body"]
            if body:
                op["requestBody"] = {"content": {"*/*": {"schema": convert(body[0].get("schema", {}))}},
                                     "required": bool(body[0].get("required"))}
            op["parameters"] = [param(p) for p in params if p.get("in") != "body"]
            produces = op.pop("produces", ["application/json"])
            op.pop("consumes", None)
            op.pop("schemes", None)
            op["responses"] = {code: {"description": r.get("description", ""),
                                      **({"content": {m: {"schema": convert(r["schema"])} for m in produces}}
                                         if "schema" in r else {})}
                               for code, r in op.get("responses", {}).items()}
            new[method] = op
        converted[path] = new
    schemas: dict[str, Any] = {}
    pending = list(used)
    while pending:
        name = pending.pop()
        if name in schemas or name not in definitions:
            continue
        before = set(used)
        schemas[name] = convert(definitions[name])
        pending += list(used - before)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0"}, "paths": converted,
            "components": {"schemas": schemas, "securitySchemes": {
                "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}}}}
