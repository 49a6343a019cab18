"""The OpenAPI v2 document in the protobuf form kubectl and helm ask for.

client-go's `OpenAPISchema()` requests /openapi/v2 as `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
and decodes it as gnostic's `openapi.v2.Document` (google/gnostic `openapiv2/OpenAPIv2.proto`): there is no JSON
fallback. This encodes the JSON description into that message, field numbers as in the .proto, for the parts
clients read: info, paths (operations, parameters, responses, vendor extensions), definitions, parameters and
security. A vendor extension's value goes in `Any.yaml` as JSON (JSON is YAML), as gnostic's own reader fills it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, value: Any) -> bytes:
    return _bytes(number, str(value).encode()) if value not in (None, "") else b""


def _bool(number: int, value: Any) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _int(number: int, value: Any) -> bytes:
    return _varint(number << 3) + _varint(int(value)) if value else b""


def _double(number: int, value: Any) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value)) if value is not None else b""


def _any(number: int, value: Any) -> bytes:
    return _bytes(number, _string(2, json.dumps(value)))  # openapi.v2.Any{yaml}


def _named(number: int, items: Mapping[str, Any], encode: Callable[[Any], bytes]) -> bytes:
    return b"".join(_bytes(number, _string(1, name) + _bytes(2, encode(value))) for name, value in items.items())


def _extensions(number: int, node: Mapping[str, Any]) -> bytes:
    return b"".join(_bytes(number, _string(1, k) + _any(2, v)) for k, v in node.items() if k.startswith("x-"))


def _strings(number: int, values: Iterable[Any]) -> bytes:
    return b"".join(_bytes(number, str(v).encode()) for v in values)


# Schema: field name -> (number, encoder); an unknown keyword (OpenAPI v3's nullable, anyOf...) is left out.
def schema(node: Mapping[str, Any]) -> bytes:
    out = [_string(1, node.get("$ref")), _string(2, node.get("format")), _string(3, node.get("title")),
           _string(4, node.get("description"))]
    if "default" in node:
        out.append(_any(5, node["default"]))
    for key, number in (("multipleOf", 6), ("maximum", 7), ("minimum", 9)):
        out.append(_double(number, node.get(key)))
    out += [_bool(8, node.get("exclusiveMaximum")), _bool(10, node.get("exclusiveMinimum"))]
    for key, number in (("maxLength", 11), ("minLength", 12), ("maxItems", 14), ("minItems", 15),
                        ("maxProperties", 17), ("minProperties", 18)):
        out.append(_int(number, node.get(key)))
    out += [_string(13, node.get("pattern")), _bool(16, node.get("uniqueItems")),
            _strings(19, node.get("required", ())), b"".join(_any(20, v) for v in node.get("enum", ()))]
    extra = node.get("additionalProperties")
    if isinstance(extra, bool):
        out.append(_bytes(21, _bool(2, extra) or _varint(2 << 3) + b"\x00"))
    elif isinstance(extra, Mapping):
        out.append(_bytes(21, _bytes(1, schema(extra))))
    kind = node.get("type")
    if kind:
        out.append(_bytes(22, _strings(1, kind if isinstance(kind, list) else [kind])))
    items = node.get("items")
    if isinstance(items, Mapping):
        out.append(_bytes(23, _bytes(1, schema(items))))
    elif isinstance(items, list):
        out.append(_bytes(23, b"".join(_bytes(1, schema(i)) for i in items)))
    out += [_bytes(24, schema(part)) for part in node.get("allOf", ())]
    if "properties" in node:
        out.append(_bytes(25, _named(1, node["properties"], schema)))
    out += [_string(26, node.get("discriminator")), _bool(27, node.get("readOnly"))]
    if "example" in node:
        out.append(_any(30, node["example"]))
    out.append(_extensions(31, node))
    return b"".join(out)


def _non_body(node: Mapping[str, Any]) -> bytes:
    where = node.get("in")
    common_tail = [_string(7 if where == "query" else 6, node.get("format"))]
    if where == "query":  # QueryParameterSubSchema
        fields = [_bool(1, node.get("required")), _string(2, where), _string(3, node.get("description")),
                  _string(4, node.get("name")), _bool(5, node.get("allowEmptyValue")), _string(6, node.get("type")),
                  *common_tail, _string(9, node.get("collectionFormat")), _bool(20, node.get("uniqueItems")),
                  _extensions(23, node)]
        return _bytes(3, b"".join(fields))
    # PathParameterSubSchema and HeaderParameterSubSchema share their layout
    fields = [_bool(1, node.get("required")), _string(2, where), _string(3, node.get("description")),
              _string(4, node.get("name")), _string(5, node.get("type")), *common_tail,
              _string(8, node.get("collectionFormat")), _bool(19, node.get("uniqueItems")), _extensions(22, node)]
    return _bytes(4 if where == "path" else 1, b"".join(fields))


def parameter(node: Mapping[str, Any]) -> bytes:
    if node.get("in") == "body":
        body = [_string(1, node.get("description")), _string(2, node.get("name")), _string(3, "body"),
                _bool(4, node.get("required")), _bytes(5, schema(node.get("schema", {}))), _extensions(6, node)]
        return _bytes(1, b"".join(body))
    return _bytes(2, _non_body(node))


def _parameters_item(node: Mapping[str, Any]) -> bytes:
    if "$ref" in node:
        return _bytes(2, _string(1, node["$ref"]))  # JsonReference
    return _bytes(1, parameter(node))


def _response(node: Mapping[str, Any]) -> bytes:
    if "$ref" in node:
        return _bytes(2, _string(1, node["$ref"]))
    body = _string(1, node.get("description"))
    if "schema" in node:
        body += _bytes(2, _bytes(1, schema(node["schema"])))
    return _bytes(1, body + _extensions(5, node))


def operation(node: Mapping[str, Any]) -> bytes:
    fields = [_strings(1, node.get("tags", ())), _string(2, node.get("summary")), _string(3, node.get("description")),
              _string(5, node.get("operationId")), _strings(6, node.get("produces", ())),
              _strings(7, node.get("consumes", ())),
              b"".join(_bytes(8, _parameters_item(p)) for p in node.get("parameters", ())),
              _bytes(9, _named(1, node.get("responses", {}), _response)), _strings(10, node.get("schemes", ())),
              _bool(11, node.get("deprecated")), _extensions(13, node)]
    return b"".join(fields)


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def path_item(node: Mapping[str, Any]) -> bytes:
    fields = [_string(1, node.get("$ref"))]
    fields += [_bytes(number, operation(node[m])) for m, number in _METHODS.items() if m in node]
    fields += [_bytes(9, _parameters_item(p)) for p in node.get("parameters", ())]
    fields.append(_extensions(10, node))
    return b"".join(fields)


def document(doc: Mapping[str, Any]) -> bytes:
    """A whole openapi.v2.Document. Repeated fields of an embedded message merge when a message is sent twice, so
    `extra_definitions`/`extra_paths` (CRDs) can be appended later with `definitions()`/`paths()`."""
    info = doc.get("info", {})
    security = b"".join(_bytes(12, _named(1, req, lambda scopes: _strings(1, scopes)))
                        for req in doc.get("security", ()))
    security_definitions = b""
    for name, item in doc.get("securityDefinitions", {}).items():
        api_key = (_string(1, item.get("type")) + _string(2, item.get("name")) + _string(3, item.get("in"))
                   + _string(4, item.get("description")))
        security_definitions += _bytes(1, _string(1, name) + _bytes(2, _bytes(2, api_key)))
    return b"".join([
        _string(1, doc.get("swagger", "2.0")),
        _bytes(2, _string(1, info.get("title")) + _string(2, info.get("version"))),
        paths(doc.get("paths", {})),
        definitions(doc.get("definitions", {})),
        _bytes(10, _named(1, doc.get("parameters", {}), parameter)),
        security,
        _bytes(13, security_definitions) if security_definitions else b"",
    ])


def paths(items: Mapping[str, Any]) -> bytes:
    return _bytes(8, _named(2, items, path_item))


def definitions(items: Mapping[str, Any]) -> bytes:
    return _bytes(9, _named(1, items, schema))
