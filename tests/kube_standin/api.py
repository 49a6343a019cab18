"""The resource API: routing a request to its resource, then get, list, create, update, patch and delete with the
API server's rules (namespaces must exist, resourceVersion conflicts, generation, status subresources,
finalizers, propagation to dependents) and its Status errors."""

from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from . import controllers, fields, patches
from .catalogue import Resource
from .discovery import ApiError, not_found, now, qualified, success
from .selectors import SelectorError, field_selector, label_selector
from .store import Key, Store
from .validation import definition_problems, drop_fields, schema_causes, strip_nulls, unknown_fields


@dataclass
class Target:
    resource: Resource
    namespace: str  # "" for cluster-scoped or all namespaces
    name: str
    subresource: str


@dataclass
class Watch:
    """A watch the server streams: events of `resource` past `revision` that `matches`."""

    target: Target
    revision: int
    matches: Any
    timeout: float
    initial: list[dict[str, Any]]


class Api:
    def __init__(self, store: Store, cluster: Any) -> None:
        self.store = store
        self.cluster = cluster  # resolves resources (built-in and CRDs) and receives CRD changes
        self._request = threading.local()  # per request thread: the warnings it earned

    @property
    def warnings(self) -> list[str]:
        """The current request's warnings (the Warning header of its answer)."""
        if not hasattr(self._request, "warnings"):
            self._request.warnings = []
        return self._request.warnings  # type: ignore[no-any-return]

    def begin_request(self) -> None:
        self._request.warnings = []

    # -- reading ----------------------------------------------------------------------------------------
    def key(self, target: Target, name: str | None = None) -> Key:
        namespace = target.namespace if target.resource.namespaced else ""
        return (target.resource.group, target.resource.plural, namespace, name or target.name)

    def get(self, target: Target) -> dict[str, Any]:
        found = self.store.get(self.key(target))
        if found is None:
            raise not_found(target.resource, target.name)
        return self._as_version(target.resource, found)

    def _as_version(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        obj["apiVersion"] = resource.group_version
        return obj

    def _selected(self, target: Target, query: dict[str, list[str]]) -> Any:
        try:
            labels = label_selector(_one(query, "labelSelector"))
            field = field_selector(_one(query, "fieldSelector"), target.resource.group, target.resource.plural)
        except SelectorError as error:
            raise ApiError(400, "BadRequest", str(error)) from None
        return lambda obj: labels(obj) and field(obj)

    def list(self, target: Target, query: dict[str, list[str]]) -> dict[str, Any]:
        matches = self._selected(target, query)
        namespace = target.namespace if target.resource.namespaced and target.namespace else None
        with self.store.lock:
            items = [self._as_version(target.resource, o)
                     for o in self.store.items(target.resource.group, target.resource.plural, namespace)
                     if matches(o)]
            revision = self.store.revision
        start = int(base64.b64decode(_one(query, "continue")).decode() or 0) if _one(query, "continue") else 0
        limit = int(_one(query, "limit") or 0)
        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if limit and len(items) > start + limit:
            meta["continue"] = base64.b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
            items = items[start:start + limit]
        else:
            items = items[start:]
        if target.resource.crd is None:  # built-in kinds' list items carry no apiVersion and kind; custom ones do
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return {"kind": f"{target.resource.kind}List", "apiVersion": target.resource.group_version,
                "metadata": meta, "items": items}

    def watch(self, target: Target, query: dict[str, list[str]]) -> Watch:
        matches = self._selected(target, query)
        since = _one(query, "resourceVersion")
        namespace = target.namespace if target.resource.namespaced and target.namespace else None
        with self.store.lock:
            initial: list[dict[str, Any]] = []
            if since in ("", "0"):  # "any": start with the current objects as ADDED
                initial = [self._as_version(target.resource, o) for o in
                           self.store.items(target.resource.group, target.resource.plural, namespace) if matches(o)]
                revision = self.store.revision
            else:
                revision = int(since)
        timeout = float(_one(query, "timeoutSeconds") or 1800)
        return Watch(target, revision, matches, timeout, initial)

    # -- writing ----------------------------------------------------------------------------------------
    def _check_body(self, target: Target, body: Any) -> dict[str, Any]:
        resource = target.resource
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        if (body.get("apiVersion"), body.get("kind")) != (resource.group_version, resource.kind):
            raise ApiError(400, "BadRequest", f"the API version in the data ({body.get('apiVersion')}) does not "
                           f"match the expected API version ({resource.group_version}) or the kind "
                           f"({body.get('kind')}) is not {resource.kind}")
        meta = body.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != target.namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                               "namespace sent on the request")
            meta["namespace"] = target.namespace
        else:
            meta.pop("namespace", None)
        return strip_nulls(body)

    def _validate(self, target: Target, obj: dict[str, Any], query: dict[str, list[str]]) -> None:
        resource = target.resource
        unknown = unknown_fields(resource, obj)
        mode = _one(query, "fieldValidation") or "Warn"
        if unknown and mode == "Strict":
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise ApiError(400, "BadRequest", f"strict decoding error: {listed}")
        if unknown and mode == "Warn":
            self.warnings.extend(f'unknown field "{u}"' for u in unknown)
        drop_fields(obj, unknown)
        causes = schema_causes(resource, obj)
        if causes:
            name = obj.get("metadata", {}).get("name") or obj.get("metadata", {}).get("generateName", "")
            kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
            listed = str(causes[0]) if len(causes) == 1 else "[" + ", ".join(map(str, causes)) + "]"
            raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {listed}',
                           {"name": name, "group": resource.group, "kind": resource.kind,
                            "causes": [c.as_dict() for c in causes]})

    def _namespace_ready(self, target: Target) -> None:
        if not target.resource.namespaced:
            return
        namespace = self.store.get(("", "namespaces", "", target.namespace))
        if namespace is None:
            raise ApiError(404, "NotFound", f'namespaces "{target.namespace}" not found',
                           {"name": target.namespace, "kind": "namespaces"})
        if namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"{qualified(target.resource)} is forbidden: unable to create new "
                           f"content in namespace {target.namespace} because it is being terminated")

    def create(self, target: Target, body: Any, query: dict[str, list[str]], manager: str,
               operation: str = "Update") -> dict[str, Any]:
        obj = self._check_body(target, body)
        self._namespace_ready(target)
        meta = obj["metadata"]
        if target.resource.verbs == {"create"}:  # a review (access, token): answered, never stored
            self._validate(target, obj, query)
            obj.setdefault("status", {}).update(controllers.review(target.resource, obj))
            return obj
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        self._validate(target, obj, query)
        with self.store.lock:
            key = self.key(target, meta["name"])
            if self.store.get(key) is not None:
                raise ApiError(409, "AlreadyExists", f'{qualified(target.resource)} "{meta["name"]}" already exists',
                               {"name": meta["name"], "group": target.resource.group, "kind": target.resource.plural})
            for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if "status" in target.resource.subresources:
                obj.pop("status", None)
            controllers.default(target.resource, obj)
            if _has_generation(target.resource, obj):
                meta["generation"] = 1
            if operation == "Update":
                fields.record_update(obj, None, manager, "Update", target.resource)
            if _one(query, "dryRun") == "All":
                return obj
            stored = self.store.write(key, obj, "ADDED")
            self.cluster.changed(target.resource, stored)
            return self._as_version(target.resource, self.store.get(key) or stored)

    def replace(self, target: Target, body: Any, query: dict[str, list[str]], manager: str,
                operation: str = "Update") -> dict[str, Any]:
        obj = self._check_body(target, body)
        if obj["metadata"].get("name") not in (None, target.name):
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        obj["metadata"]["name"] = target.name
        with self.store.lock:
            key = self.key(target)
            current = self.store.get(key)
            if current is None:
                raise not_found(target.resource, target.name)
            sent_version = obj["metadata"].get("resourceVersion")
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(target.resource)} '
                               f'"{target.name}": the object has been modified; please apply your changes to the '
                               "latest version and try again",
                               {"name": target.name, "group": target.resource.group, "kind": target.resource.plural})
            obj = self._merge_scopes(target, current, obj)
            self._validate(target, obj, query)
            controllers.default(target.resource, obj)
            meta, old_meta = obj["metadata"], current["metadata"]
            for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if _has_generation(target.resource, obj):
                changed = _spec_of(obj) != _spec_of(current)
                meta["generation"] = int(old_meta.get("generation") or 1) + (1 if changed else 0)
            if operation == "Update":
                fields.record_update(obj, current, manager, "Update", target.resource)
            if _one(query, "dryRun") == "All":
                return obj
            if _unchanged(obj, current):
                return self._as_version(target.resource, current)  # no change: no new resourceVersion
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                self.store.remove(key)
                self.cluster.removed(target.resource, obj)
                return self._as_version(target.resource, obj)
            stored = self.store.write(key, obj, "MODIFIED")
            self.cluster.changed(target.resource, stored)
            return self._as_version(target.resource, self.store.get(key) or stored)

    def _merge_scopes(self, target: Target, current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        """A write to the main resource keeps the live status; a write to /status changes only the status."""
        if target.subresource == "status":
            merged = copy.deepcopy(current)
            if "status" in sent:
                merged["status"] = sent["status"]
            else:
                merged.pop("status", None)
            merged["metadata"]["resourceVersion"] = sent["metadata"].get("resourceVersion")
            return merged
        if "status" in target.resource.subresources:
            sent = dict(sent)
            if "status" in current:
                sent["status"] = current["status"]
            else:
                sent.pop("status", None)
        return sent

    def patch(self, target: Target, body: bytes, content_type: str, query: dict[str, list[str]],
              manager: str) -> dict[str, Any]:
        kind = content_type.split(";")[0].strip()
        if kind == "application/apply-patch+yaml":
            return fields.server_side_apply(self, target, body, query, manager)
        try:
            patch = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format") from None
        with self.store.lock:
            current = self.get(target)
            try:
                if kind == "application/json-patch+json":
                    patched = patches.json_patch(current, patch)
                elif kind == "application/merge-patch+json":
                    patched = patches.merge_patch(current, patch)
                elif kind == "application/strategic-merge-patch+json":
                    if target.resource.crd is not None:
                        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                       "format - accepted media types include: application/json-patch+json, "
                                       "application/merge-patch+json, application/apply-patch+yaml")
                    patched = patches.strategic_merge(current, patch, {"$ref": f"#/definitions/"
                                                                       f"{target.resource.definition}"})
                else:
                    raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format "
                                   "- accepted media types include: application/json-patch+json, application/"
                                   "merge-patch+json, application/apply-patch+yaml")
            except patches.PatchError as error:
                raise ApiError(422, "Invalid", str(error)) from None
            if not isinstance(patched, dict):
                raise ApiError(400, "BadRequest", "the patch does not produce an object")
            return self.replace(target, patched, query, manager)

    def delete(self, target: Target, body: Any, query: dict[str, list[str]]) -> dict[str, Any]:
        options = body if isinstance(body, dict) else {}
        problems = definition_problems("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", options)
        if problems:
            raise ApiError(400, "BadRequest", f"invalid DeleteOptions: {'; '.join(problems)}")
        policy = options.get("propagationPolicy") or _one(query, "propagationPolicy") or "Background"
        if policy not in ("Foreground", "Background", "Orphan"):
            message = f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", ' \
                      '"Background", "Orphan"'
            raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: {message}',
                           {"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [
                               {"reason": "FieldValueNotSupported", "message": message.split(": ", 1)[1],
                                "field": "propagationPolicy"}]})
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        with self.store.lock:
            key = self.key(target)
            current = self.store.get(key)
            if current is None:
                raise not_found(target.resource, target.name)
            precondition = (options.get("preconditions") or {}).get("resourceVersion")
            if precondition and precondition != current["metadata"]["resourceVersion"]:
                live = current["metadata"]["resourceVersion"]
                raise ApiError(409, "Conflict", f"Precondition failed: ResourceVersion in precondition: "
                               f"{precondition}, ResourceVersion in object meta: {live}")
            if _one(query, "dryRun") == "All":
                return self._as_version(target.resource, current)
            meta = current["metadata"]
            if meta.get("finalizers") or target.resource.plural == "namespaces":
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now()
                    meta["deletionGracePeriodSeconds"] = 0
                    stored = self.store.write(key, current, "MODIFIED")
                    self.cluster.deleting(target.resource, stored, policy)
                found = self.store.get(key)
                if found is not None:
                    return self._as_version(target.resource, found)
                return success(target.resource, current)
            removed = self.store.remove(key)
            assert removed is not None
            self.cluster.removed(target.resource, removed, policy)
            return success(target.resource, removed)

    def delete_collection(self, target: Target, body: Any, query: dict[str, list[str]]) -> dict[str, Any]:
        listed = self.list(target, query)
        for item in listed["items"]:
            meta = item["metadata"]
            self.delete(Target(target.resource, meta.get("namespace", ""), meta["name"], ""), body, query)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[0] if values else ""


def _has_generation(resource: Resource, obj: dict[str, Any]) -> bool:
    return resource.crd is not None or "spec" in obj or resource.plural in ("deployments", "statefulsets")


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _unchanged(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """A write that changes nothing but bookkeeping keeps the resourceVersion (the API server skips it)."""
    def content(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
        meta["managedFields"] = [{k: v for k, v in m.items() if k != "time"} for m in meta.get("managedFields", ())]
        return {**obj, "metadata": meta}
    return content(new) == content(old)
