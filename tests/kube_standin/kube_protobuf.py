"""Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), as helm's release
storage sends its Secrets and ConfigMaps: the `k8s\\0` envelope holding a runtime.Unknown (typeMeta, raw), the raw
bytes being the object's message from k8s.io/api's generated.proto. Decoded to the JSON form for the kinds clients
send this way; any other kind is refused (415), never guessed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: an int for varints, bytes for length-delimited fields."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            yield number, value
        elif wire == 2:
            length, at = _varint(data, at)
            yield number, data[at:at + length]
            at += length
        elif wire == 1:
            yield number, data[at:at + 8]
            at += 8
        elif wire == 5:
            yield number, data[at:at + 4]
            at += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def _map_entry(data: bytes) -> tuple[str, bytes]:
    parts = dict(fields(data))
    return bytes(parts.get(1, b"")).decode(), bytes(parts.get(2, b""))  # type: ignore[arg-type]


def _object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    for number, value in fields(data):
        if number in names and isinstance(value, bytes):
            meta[names[number]] = value.decode()
        elif number == 7 and isinstance(value, int):
            meta["generation"] = value
        elif number in (11, 12) and isinstance(value, bytes):
            key, item = _map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14 and isinstance(value, bytes):
            meta.setdefault("finalizers", []).append(value.decode())
    return meta


def _secret(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            obj["metadata"] = _object_meta(value)
        elif number == 2 and isinstance(value, bytes):
            key, item = _map_entry(value)
            obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
        elif number == 3 and isinstance(value, bytes):
            obj["type"] = value.decode()
        elif number == 4 and isinstance(value, bytes):
            key, item = _map_entry(value)
            obj.setdefault("stringData", {})[key] = item.decode()
        elif number == 5 and isinstance(value, int):
            obj["immutable"] = bool(value)
    return obj


def _config_map(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            obj["metadata"] = _object_meta(value)
        elif number in (2, 3) and isinstance(value, bytes):
            key, item = _map_entry(value)
            if number == 2:
                obj.setdefault("data", {})[key] = item.decode()
            else:
                obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
        elif number == 4 and isinstance(value, int):
            obj["immutable"] = bool(value)
    return obj


def _delete_options(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(data):
        if number == 1 and isinstance(value, int):
            obj["gracePeriodSeconds"] = value
        elif number == 2 and isinstance(value, bytes):
            names = {1: "uid", 2: "resourceVersion"}
            obj["preconditions"] = {names[n]: bytes(v).decode() for n, v in fields(value)  # type: ignore[arg-type]
                                    if n in names}
        elif number == 3 and isinstance(value, int):
            obj["orphanDependents"] = bool(value)
        elif number == 4 and isinstance(value, bytes):
            obj["propagationPolicy"] = value.decode()
        elif number == 5 and isinstance(value, bytes):
            obj.setdefault("dryRun", []).append(value.decode())
    return obj


_KINDS = {("v1", "Secret"): _secret, ("v1", "ConfigMap"): _config_map, ("v1", "DeleteOptions"): _delete_options}


def decode(body: bytes) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body (no k8s\\0 prefix)")
    unknown = dict(fields(body[len(MAGIC):]))
    type_meta = dict(fields(bytes(unknown.get(1, b""))))  # type: ignore[arg-type]
    api_version = bytes(type_meta.get(1, b"")).decode()  # type: ignore[arg-type]
    kind = bytes(type_meta.get(2, b"")).decode()  # type: ignore[arg-type]
    decoder = _KINDS.get((api_version, kind))
    if decoder is None:
        raise ProtobufError(f"the stand-in decodes protobuf bodies of {sorted(k for _, k in _KINDS)} only, "
                            f"not {api_version} {kind}")
    return {"apiVersion": api_version, "kind": kind, **decoder(bytes(unknown.get(2, b"")))}  # type: ignore[arg-type]
