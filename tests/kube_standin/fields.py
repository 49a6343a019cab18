"""Field ownership (metadata.managedFields, FieldsV1) and server-side apply, after structured-merge-diff: every
write records which fields its manager set; an apply (PATCH application/apply-patch+yaml) merges the manager's
configuration into the live object, conflicts (409) where another manager owns a field with another value unless
force=true, and removes the fields the manager applied before and no longer applies (when no one else owns them).

Lists whose schema names map keys (x-kubernetes-list-map-keys, or the patch merge key) are merged by key
(`k:{"name":"web"}`), sets (x-kubernetes-list-type: set) by value (`v:...`), other lists are atomic.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from .discovery import ApiError, now
from .validation import _definitions

if TYPE_CHECKING:
    from .api import Api, Target
    from .catalogue import Resource

Path = tuple[str, ...]
_METADATA_TRACKED = ("labels", "annotations", "finalizers", "ownerReferences")


def _resolve(schema: Mapping[str, Any] | None) -> Mapping[str, Any]:
    schema = schema or {}
    while "$ref" in schema:
        schema = _definitions().get(schema["$ref"].split("/")[-1], {})
    return schema


def _child(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    schema = _resolve(schema)
    if key in (schema.get("properties") or {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else {}


def _list_keys(schema: Mapping[str, Any]) -> list[str] | None:
    schema = _resolve(schema)
    if schema.get("x-kubernetes-list-map-keys"):
        return list(schema["x-kubernetes-list-map-keys"])
    if schema.get("x-kubernetes-patch-merge-key") and schema.get("x-kubernetes-list-type") != "atomic":
        return [schema["x-kubernetes-patch-merge-key"]]
    return None


def root_schema(resource: Resource) -> dict[str, Any]:
    from .openapi import crd_schema
    return crd_schema(resource) if resource.crd is not None else {"$ref": f"#/definitions/{resource.definition}"}


_KEY_DEFAULTS = {"protocol": "TCP"}  # a map key the API server defaults (ports by port and protocol)


def _item_key(item: Mapping[str, Any], keys: list[str]) -> str:
    found = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys if k in item or k in _KEY_DEFAULTS}
    return "k:" + json.dumps(found, separators=(",", ":"), sort_keys=True)


def paths(obj: Mapping[str, Any], schema: Mapping[str, Any]) -> set[Path]:
    """The fields `obj` sets, as FieldsV1 paths, minus the identity and bookkeeping fields."""
    found: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            meta_schema = _child(schema, "metadata")
            for field in _METADATA_TRACKED:
                if field in value:
                    _walk(value[field], _child(meta_schema, field), ("f:metadata", f"f:{field}"), found)
            continue
        _walk(value, _child(schema, key), (f"f:{key}",), found)
    return found


def _walk(value: Any, schema: Mapping[str, Any], at: Path, found: set[Path]) -> None:
    schema = _resolve(schema)
    if isinstance(value, dict) and value and schema.get("x-kubernetes-map-type") != "atomic":
        for key, item in value.items():
            _walk(item, _child(schema, key), (*at, f"f:{key}"), found)
    elif isinstance(value, list) and value and (keys := _list_keys(schema)):
        for item in value:
            if isinstance(item, dict):
                item_at = (*at, _item_key(item, keys))
                found.add((*item_at, "."))
                _walk(item, schema.get("items") or {}, item_at, found)
    elif isinstance(value, list) and value and schema.get("x-kubernetes-list-type") == "set":
        for item in value:
            found.add((*at, "v:" + json.dumps(item, separators=(",", ":"))))
    else:
        found.add(at)


def value_at(obj: Any, path: Path) -> Any:
    node = obj
    for part in path:
        if part == ".":
            return node
        if part.startswith("f:"):
            node = node.get(part[2:]) if isinstance(node, dict) else None
        elif part.startswith("k:"):
            wanted = json.loads(part[2:])
            node = next((i for i in node or () if isinstance(i, dict)
                         and all(i.get(k) == v for k, v in wanted.items())), None)
        elif part.startswith("v:"):
            wanted = json.loads(part[2:])
            node = wanted if isinstance(node, list) and wanted in node else None
        if node is None:
            return None
    return node


def remove_path(obj: Any, path: Path) -> None:
    if path and path[-1] == ".":
        path = path[:-1]
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if isinstance(parent, dict) and last.startswith("f:"):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        target = value_at(obj, path)
        if target is not None:
            parent.remove(target)


def to_fields_v1(found: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(found):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def from_fields_v1(tree: Mapping[str, Any], at: Path = ()) -> set[Path]:
    found: set[Path] = set()
    for key, sub in tree.items():
        if sub:
            found |= from_fields_v1(sub, (*at, key))
        else:
            found.add((*at, key))
    return found


def _entries(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(e) for e in (obj.get("metadata") or {}).get("managedFields") or () if e.get("manager")]


def _entry(manager: str, operation: str, api_version: str, owned: set[Path]) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now(),
            "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(owned)}


def record_update(new: dict[str, Any], old: dict[str, Any] | None, manager: str, operation: str,
                  resource: Resource) -> None:
    """An Update: the fields it changed become `manager`'s, no longer anyone else's."""
    schema = root_schema(resource)
    new_paths = paths(new, schema)
    old_paths = paths(old, schema) if old else set()
    changed = {p for p in new_paths if p not in old_paths or value_at(new, p) != value_at(old, p)}
    gone = old_paths - new_paths
    entries = _entries(old) if old else []
    mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Update"), None)
    kept = []
    for entry in entries:
        if entry is mine:
            continue
        owned = from_fields_v1(entry.get("fieldsV1") or {}) - changed - gone
        if owned:
            kept.append({**entry, "fieldsV1": to_fields_v1(owned)})
    owned = ((from_fields_v1(mine.get("fieldsV1") or {}) if mine else set()) | changed) - gone
    if owned:
        kept.append(mine | {"fieldsV1": to_fields_v1(owned), "time": now()} if mine and changed == set() else
                    _entry(manager, "Update", resource.group_version, owned))
    new.setdefault("metadata", {})["managedFields"] = kept
    if not kept:
        new["metadata"].pop("managedFields")


def server_side_apply(api: Api, target: Target, body: bytes, query: dict[str, list[str]],
                      manager: str) -> dict[str, Any]:
    resource = target.resource
    if not query.get("fieldManager"):
        raise ApiError(400, "BadRequest", "PATCH apply requests require a fieldManager query parameter")
    try:
        config = load_yaml(body)
    except yaml.YAMLError as error:
        raise ApiError(400, "BadRequest", f"error decoding YAML: {error}") from None
    if not isinstance(config, dict):
        raise ApiError(400, "BadRequest", "the body of an apply request must be an object")
    meta = config.setdefault("metadata", {})
    if meta.get("name") not in (None, target.name):
        raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
    meta["name"] = target.name
    force = (query.get("force") or [""])[0].lower() in ("true", "1")
    schema = root_schema(resource)
    applied = paths(config, schema)
    with api.store.lock:
        live = api.store.get(api.key(target))
        if live is None:
            obj = copy.deepcopy(config)
            obj["metadata"]["managedFields"] = [_entry(manager, "Apply", resource.group_version, applied)]
            return api.create(target, obj, query, manager, operation="Apply")
        entries = _entries(live)
        conflicts = []
        for entry in entries:
            if entry["manager"] == manager and entry["operation"] == "Apply":
                continue
            for path in sorted(from_fields_v1(entry.get("fieldsV1") or {}) & applied):
                if path[-1] != "." and value_at(live, path) != value_at(config, path):
                    conflicts.append((entry, path))
        if conflicts and not force:
            causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{e["manager"]}"'
                       + (f' using {e["apiVersion"]}' if e.get("operation") == "Update" else ""),
                       "field": _dotted(p)} for e, p in conflicts]
            listed = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
            raise ApiError(409, "Conflict", f"Apply failed with {len(causes)} conflict"
                           f"{'s' if len(causes) > 1 else ''}: {listed}" if len(causes) > 1 else
                           f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}",
                           {"name": target.name, "group": resource.group, "kind": resource.plural,
                            "causes": causes})
        mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Apply"), None)
        before = from_fields_v1(mine.get("fieldsV1") or {}) if mine else set()
        others: list[dict[str, Any]] = []
        owned_by_others: set[Path] = set()
        for entry in entries:
            if entry is mine:
                continue
            owned = from_fields_v1(entry.get("fieldsV1") or {})
            if force:  # forced: the conflicting fields change hands; fields applied with equal values are shared
                owned -= {path for conflicting, path in conflicts if conflicting is entry}
            if owned:
                others.append({**entry, "fieldsV1": to_fields_v1(owned)})
                owned_by_others |= owned
        merged = _merge(live, config, schema)
        for path in sorted(before - applied, key=len, reverse=True):
            if not any(o[:len(path) - (path[-1] == ".")] == path[:len(path) - (path[-1] == ".")]
                       for o in owned_by_others):
                remove_path(merged, path)
        merged["metadata"]["managedFields"] = [*others, _entry(manager, "Apply", resource.group_version, applied)]
        merged["metadata"]["resourceVersion"] = config["metadata"].get("resourceVersion") or \
            live["metadata"]["resourceVersion"]
        return api.replace(target, merged, query, manager, operation="Apply")


def load_yaml(body: bytes) -> Any:
    """An apply body: YAML, which clients send as JSON (parsed as such first: pure-Python YAML is slow)."""
    try:
        return json.loads(body or b"null")
    except ValueError:
        return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def _dotted(path: Path) -> str:
    return "".join("." + p[2:] if p.startswith("f:") else f"[{p[2:]}]" for p in path if p != ".")


def _merge(live: Any, config: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(live, dict) and isinstance(config, dict) and _resolve(schema).get("x-kubernetes-map-type") != \
            "atomic":
        result = copy.deepcopy(live)
        for key, value in config.items():
            result[key] = _merge(live.get(key), value, _child(schema, key)) if key in live else copy.deepcopy(value)
        return result
    keys = _list_keys(schema)
    if isinstance(live, list) and isinstance(config, list) and keys:
        result = copy.deepcopy(live)
        item_schema = _resolve(schema).get("items") or {}
        for item in config:
            key = _item_key(item, keys) if isinstance(item, dict) else None
            index = next((i for i, old in enumerate(result) if isinstance(old, dict) and key is not None
                          and _item_key(old, keys) == key), None)
            if index is None:
                result.append(copy.deepcopy(item))
            else:
                result[index] = _merge(result[index], item, item_schema)
        return result
    return copy.deepcopy(config)
