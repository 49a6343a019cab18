"""Label selectors (`app=web,tier in (a,b),!legacy`) and field selectors (`metadata.name=x`) as the API server
parses them; a field selector names only the fields the server supports for the kind."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Match = Callable[[Mapping[str, Any]], bool]

# Fields every kind supports, and those the API server adds per kind (its field label conversion functions).
COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
KIND_FIELDS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                   "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    ("", "namespaces"): {"status.phase"},
    ("", "secrets"): {"type"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    ("", "replicationcontrollers"): {"status.replicas"},
    ("apps", "replicasets"): {"status.replicas"},
    ("batch", "jobs"): {"status.successful"},
    ("certificates.k8s.io", "certificatesigningrequests"): {"spec.signerName"},
}


class SelectorError(ValueError):
    pass


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


_SET = re.compile(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_EQ = re.compile(r"^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$")
_EXISTS = re.compile(r"^(!?)\s*([\w./-]+)$")


def label_selector(text: str) -> Match:
    tests: list[Match] = []
    for part in _split(text or ""):
        if match := _SET.match(part):
            key, op, values = match[1], match[2], {v.strip() for v in match[3].split(",") if v.strip()}
            if op == "in":
                tests.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                tests.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := _EQ.match(part):
            key, op, value = match[1], match[2], match[3]
            if op == "!=":
                tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif match := _EXISTS.match(part):
            negate, key = bool(match[1]), match[2]
            tests.append(lambda labels, k=key, n=negate: (k in labels) != n)
        else:
            raise SelectorError(f"unable to parse requirement: {part!r}")
    return lambda obj: all(test((obj.get("metadata") or {}).get("labels") or {}) for test in tests)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return str(node).lower()
    return str(node)


def field_selector(text: str, group: str, plural: str) -> Match:
    tests: list[Match] = []
    allowed = COMMON_FIELDS | KIND_FIELDS.get((group, plural), set())
    for part in _split(text or ""):
        match = _EQ.match(part)
        if not match:
            raise SelectorError(f"invalid selector: {part!r}; can't understand {part!r}")
        key, op, value = match[1], match[2], match[3]
        if key not in allowed:
            raise SelectorError(f'field label not supported: {key}')
        if op == "!=":
            tests.append(lambda obj, k=key, v=value: _field_value(obj, k) != v)
        else:
            tests.append(lambda obj, k=key, v=value: _field_value(obj, k) == v)
    return lambda obj: all(test(obj) for test in tests)
