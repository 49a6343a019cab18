"""The PATCH flavours the API server takes: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge
patch, which merges lists by the key the description names (`x-kubernetes-patch-merge-key`, e.g. containers by
`name`) and understands the directives kubectl's three-way diff sends ($patch, $retainKeys,
$setElementOrder/..., $deleteFromPrimitiveList/...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

from .validation import _definitions


class PatchError(ValueError):
    """The patch cannot be applied (the API server answers 422 or 400)."""


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(target, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as error:
        raise PatchError(f"the server rejected our request due to an error in our request: {error}") from None


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _resolve(schema: Mapping[str, Any] | None) -> Mapping[str, Any]:
    schema = schema or {}
    while "$ref" in schema:
        schema = _definitions().get(schema["$ref"].split("/")[-1], {})
    return schema


def _child(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    schema = _resolve(schema)
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else {}


def strategic_merge(original: Any, patch: Any, schema: Mapping[str, Any] | None) -> Any:
    """`patch` applied to `original` the strategic way, `schema` the description of `original`."""
    if not isinstance(patch, dict) or not isinstance(original, dict):
        return _strip_directives(copy.deepcopy(patch))
    schema = schema or {}
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return None
    result = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        child = _child(schema, key)
        if isinstance(value, list):
            merged = _merge_list(result.get(key), value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            merged = strategic_merge(result[key], value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            stripped = _strip_directives(copy.deepcopy(value))
            if stripped is not None:
                result[key] = stripped
    for key, order in patch.items():  # $setElementOrder/containers: the list's order after the merge
        if key.startswith("$setElementOrder/") and isinstance(result.get(key.split("/", 1)[1]), list):
            result[key.split("/", 1)[1]] = _ordered(result[key.split("/", 1)[1]], order,
                                                   _resolve(_child(schema, key.split("/", 1)[1])))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(original: Any, patch: list[Any], schema: Mapping[str, Any]) -> list[Any] | None:
    schema = _resolve(schema)
    strategy = str(schema.get("x-kubernetes-patch-strategy", ""))
    key = schema.get("x-kubernetes-patch-merge-key")
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if "merge" not in strategy.split(",") or not isinstance(original, list):
        return _strip_directives(copy.deepcopy(patch))
    result = copy.deepcopy(original)
    if key is None:  # a list of scalars merged as a set
        return result + [v for v in patch if v not in result]
    item_schema = schema.get("items") or {}
    for item in patch:
        if not isinstance(item, dict):
            continue
        index = next((i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item.get(key)),
                     None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(copy.deepcopy(item)))
        else:
            result[index] = strategic_merge(result[index], item, item_schema)
    return result


def _ordered(values: list[Any], order: Any, schema: Mapping[str, Any]) -> list[Any]:
    key = schema.get("x-kubernetes-patch-merge-key")
    if not isinstance(order, list):
        return values

    def identity(value: Any) -> Any:
        return value.get(key) if key and isinstance(value, dict) else value

    wanted = [identity(o) for o in order]
    rank = {repr(w): i for i, w in enumerate(wanted)}
    return sorted(values, key=lambda v: rank.get(repr(identity(v)), len(rank)))


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value
