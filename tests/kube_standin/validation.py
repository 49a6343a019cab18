"""Every object the stand-in receives is checked against its official schema: the 1.36 description's definition
for a built-in kind, the CRD's openAPIV3Schema for a custom one. Schema violations become the causes of a 422
Invalid Status; fields the schema does not declare are reported apart, for the request's fieldValidation
(Strict: 400, Warn: a warning, Ignore: silently dropped, as the API server does).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

from .catalogue import Resource, swagger
from .openapi import OBJECT_META, crd_schema

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                             r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
ANNOTATIONS_LIMIT = 262144  # bytes of all keys and values (the API server's TotalAnnotationSizeLimitB)
DATA_LIMIT = 1048576  # bytes of a ConfigMap's or Secret's data (MaxSecretSize)


@dataclass
class Cause:
    field: str
    reason: str  # FieldValueRequired, FieldValueInvalid, FieldValueTypeInvalid, FieldValueNotSupported
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def strip_nulls(value: Any) -> Any:
    """A null field is an absent one (Go decodes it to the zero value; a CRD prunes it)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


@functools.cache
def _definitions() -> dict[str, Any]:
    """The description's definitions as the API server decodes them: a Quantity may be sent as a number, an
    IntOrString as either; base64 (`format: byte`) is checked apart."""
    found = copy.deepcopy(swagger()["definitions"])
    found["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] = ["string", "number"]
    found["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] = ["string", "integer"]
    return found


def _relax_v3(node: Any) -> Any:
    """A CRD schema in Draft 4 terms: x-kubernetes-int-or-string is a type union."""
    if isinstance(node, dict):
        node = {k: _relax_v3(v) for k, v in node.items()}
        if node.get("x-kubernetes-int-or-string"):
            node.pop("type", None)
            node["type"] = ["integer", "string"]
        return node
    if isinstance(node, list):
        return [_relax_v3(v) for v in node]
    return node


@functools.cache
def _builtin_validator(definition: str) -> Draft4Validator:
    return Draft4Validator({"$ref": f"#/definitions/{definition}", "definitions": _definitions()})


def _schema_for(resource: Resource) -> dict[str, Any]:
    if resource.crd is not None:
        return _relax_v3(crd_schema(resource))
    return {"$ref": f"#/definitions/{resource.definition}"}


def _validator(resource: Resource) -> Draft4Validator:
    if resource.crd is None:
        return _builtin_validator(str(resource.definition))
    return Draft4Validator({**_schema_for(resource), "definitions": _definitions()})


def _field(error: ValidationError) -> str:
    parts: list[str] = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts)


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), "null")


def _causes(error: ValidationError) -> Iterator[Cause]:
    where = _field(error)
    if error.validator == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        name = missing[1] if missing else "?"
        yield Cause(f"{where}.{name}" if where else name, "FieldValueRequired", "Required value")
    elif error.validator == "type":
        got = _json_type(error.instance)
        wanted = error.validator_value if isinstance(error.validator_value, str) else error.validator_value[0]
        yield Cause(where, "FieldValueTypeInvalid",
                    f'Invalid value: "{got}": {where or "body"} in body must be of type {wanted}: "{got}"')
    elif error.validator == "enum":
        values = ", ".join(json.dumps(v) for v in error.validator_value)
        yield Cause(where, "FieldValueNotSupported",
                    f"Unsupported value: {json.dumps(error.instance)}: supported values: {values}")
    elif error.validator in ("anyOf", "oneOf", "allOf") and error.context:
        for sub in error.context:
            yield from _causes(sub)
    else:
        yield Cause(where, "FieldValueInvalid", f"Invalid value: {json.dumps(error.instance)}: {error.message}")


def schema_causes(resource: Resource, obj: Mapping[str, Any]) -> list[Cause]:
    """What makes `obj` invalid for its schema (types, required fields, enums, patterns, names, base64)."""
    causes = [c for e in _validator(resource).iter_errors(obj) for c in _causes(e)]
    causes += _name_causes(resource, obj)
    causes += list(_bytes_causes(obj, _schema_for(resource), ""))
    seen: set[str] = set()
    return [c for c in causes if not (str(c) in seen or seen.add(str(c)))]  # type: ignore[func-returns-value]


def _metadata_causes(obj: Mapping[str, Any]) -> Iterator[Cause]:
    meta = obj.get("metadata") or {}
    for key, value in (meta.get("labels") or {}).items():
        if not _QUALIFIED_NAME.fullmatch(str(key)):
            yield Cause("metadata.labels", "FieldValueInvalid", f"Invalid value: {json.dumps(key)}: name part must "
                        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            yield Cause("metadata.labels", "FieldValueInvalid", f"Invalid value: {json.dumps(value)}: a valid label "
                        "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                        "start and end with an alphanumeric character (at most 63 characters)")
    annotations = meta.get("annotations") or {}
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        yield Cause("metadata.annotations", "FieldValueTooLong",
                    f"Too long: may not be more than {ANNOTATIONS_LIMIT} bytes")


def _size_causes(resource: Resource, obj: Mapping[str, Any]) -> Iterator[Cause]:
    if resource.key not in (("", "configmaps"), ("", "secrets")):
        return
    size = 0
    for field in ("data", "binaryData", "stringData"):
        for key, value in (obj.get(field) or {}).items():
            encoded = field in ("binaryData",) or (field == "data" and resource.plural == "secrets")
            size += len(str(key)) + (len(str(value)) * 3 // 4 if encoded else len(str(value).encode()))
    if size > DATA_LIMIT:
        yield Cause("[]" if resource.plural == "configmaps" else "data", "FieldValueTooLong",
                    f"Too long: must have at most {DATA_LIMIT} bytes")


def definition_problems(definition: str, obj: Any) -> list[str]:
    """What makes `obj` invalid for one of the description's definitions (DeleteOptions in a DELETE's body)."""
    found = [str(c) for e in _builtin_validator(definition).iter_errors(obj) for c in _causes(e)]
    return found + [f'unknown field "{u}"' for u in _unknown(obj, {"$ref": f"#/definitions/{definition}"}, "")]


def _name_causes(resource: Resource, obj: Mapping[str, Any]) -> list[Cause]:
    causes = [*_metadata_causes(obj), *_size_causes(resource, obj)]
    if resource.verbs == {"create"}:
        return causes  # a review has no name
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        return [*causes, Cause("metadata.name", "FieldValueRequired",
                               "Required value: name or generateName is required")]
    pattern, what = ((_DNS_LABEL, "a lowercase RFC 1123 label") if resource.plural == "namespaces"
                     else (_DNS_SUBDOMAIN, "a lowercase RFC 1123 subdomain"))
    if name and (not pattern.fullmatch(name) or len(name) > 253):
        return [*causes, Cause("metadata.name", "FieldValueInvalid",
                      f"Invalid value: {json.dumps(name)}: {what} must consist of lower case alphanumeric "
                      "characters, '-' or '.', and must start and end with an alphanumeric character")]
    return causes


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _definitions()[schema["$ref"].split("/")[-1]]
    return schema


def _bytes_causes(value: Any, schema: Mapping[str, Any], at: str) -> Iterator[Cause]:
    schema = _resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _bytes_causes(item, sub, f"{at}.{key}" if at else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _bytes_causes(item, schema["items"], f"{at}[{index}]")
    elif isinstance(value, str) and schema.get("format") == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            yield Cause(at, "FieldValueInvalid", f"Invalid value: {json.dumps(value)}: illegal base64 data")


def unknown_fields(resource: Resource, obj: Any) -> list[str]:
    """Paths of the fields the schema does not declare (`spec.replica`), at any depth."""
    return list(_unknown(obj, _schema_for(resource), ""))


def _unknown(value: Any, schema: Mapping[str, Any], at: str) -> Iterator[str]:
    schema = _resolve(schema)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = dict(schema.get("properties") or {})
        for part in schema.get("allOf", ()):
            props.update(_resolve(part).get("properties") or {})
        extra = schema.get("additionalProperties")
        if not props and extra is None and schema.get("type") in ("object", None):
            if schema.get("x-kubernetes-embedded-resource") or at == "":
                pass
            return  # a free-form object (RawExtension, FieldsV1...)
        for key, item in value.items():
            where = f"{at}.{key}" if at else key
            if key in props:
                yield from _unknown(item, props[key], where)
            elif isinstance(extra, dict):
                yield from _unknown(item, extra, where)
            elif extra is not True:
                yield where
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _unknown(item, schema["items"], f"{at}[{index}]")


def drop_fields(obj: dict[str, Any], paths: list[str]) -> None:
    """Remove the unknown fields (Warn and Ignore keep the rest of the object)."""
    for path in paths:
        node: Any = obj
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.get(part)
            if node is None:
                break
        else:
            if isinstance(node, dict):
                node.pop(parts[-1], None)


__all__ = ["OBJECT_META", "Cause", "drop_fields", "schema_causes", "strip_nulls", "unknown_fields"]
