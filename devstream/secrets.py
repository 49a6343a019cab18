"""Secrets in options: find them, fingerprint them for state, scrub them from messages.

A plugin marks a secret by typing the option as pydantic `SecretStr` (or `SecretBytes`). Such values never
reach state, artifacts or logs in clear: state stores a fingerprint, which still changes when the secret
changes, so a rotated token shows as an update.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import deepcopy
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "FINGERPRINT", "fingerprint", "is_fingerprint", "redact", "redact_by_schema", "scrub", "secret_paths",
    "without_fingerprints",
]

Path = tuple[str | int, ...]

# A fixed domain prefix keeps these fingerprints from matching plain sha256 tables of common strings.
_DOMAIN = b"dtm-secret-fingerprint:v1:"
FINGERPRINT = re.compile(r"^<secret sha256:[0-9a-f]{16}>$")


def fingerprint(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return f"<secret sha256:{hashlib.sha256(_DOMAIN + raw).hexdigest()[:16]}>"


def is_fingerprint(value: object) -> bool:
    return isinstance(value, str) and bool(FINGERPRINT.match(value))


def without_fingerprints(value: Any) -> tuple[Any, list[str]]:
    """A copy of stored options with every fingerprinted secret left out, and the dotted paths left out.

    A tool that left the config is deleted with the options state kept, where a secret is only its
    fingerprint: sending that as a token fails. Left out, an optional secret takes its default, and
    plugins look for it where they would without one (the SCM plugins: GITHUB_TOKEN, GITLAB_TOKEN).
    """
    dropped: list[str] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                where = f"{path}.{key}" if path else str(key)
                if is_fingerprint(item):
                    dropped.append(where)
                else:
                    out[key] = walk(item, where)
            return out
        if isinstance(node, list):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(node)]
        return node

    return walk(value, ""), dropped


def _walk(value: Any, path: Path) -> Iterator[tuple[Path, str | bytes]]:
    if isinstance(value, SecretStr | SecretBytes):
        yield path, value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield from _walk(getattr(value, name), (*path, info.alias or name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def secret_paths(model: BaseModel) -> dict[Path, str | bytes]:
    """Where the validated options hold secrets, with the secret values."""
    return dict(_walk(model, ()))


def redact(raw: dict[str, Any], model: BaseModel) -> dict[str, Any]:
    """A copy of the raw options with every secret replaced by its fingerprint."""
    secrets = secret_paths(model)
    if not secrets:
        return raw
    out = deepcopy(raw)
    for path, value in secrets.items():
        node: Any = out
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if node is not None:
            try:
                if not is_fingerprint(node[path[-1]]):
                    node[path[-1]] = fingerprint(value)
            except (KeyError, IndexError, TypeError):
                pass
    return out


def redact_by_schema(raw: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Like `redact`, for options that do not validate (yet): secrets found by the fields' declared types,
    inside nested models, lists and maps too (`secrets: dict[str, SecretStr]`, `webhooks: list[Webhook]`)."""
    out = dict(raw)
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in out:
            out[key] = _redact_as(out[key], info.annotation)
    return out


def _redact_as(value: Any, annotation: Any) -> Any:
    """`value` with what `annotation` declares a secret fingerprinted; values of another shape pass as they are."""
    if value is None or is_fingerprint(value):
        return value
    origin = get_origin(annotation)
    if origin is Annotated:
        return _redact_as(value, get_args(annotation)[0])
    kinds = get_args(annotation) if origin in (Union, UnionType) else (annotation,)
    if isinstance(value, str | bytes) and any(k in (SecretStr, SecretBytes) for k in kinds):
        return fingerprint(value)
    for kind in kinds:
        outer, args = get_origin(kind) or kind, get_args(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(value, dict):
            return redact_by_schema(value, kind)
        if outer in (list, tuple, set, frozenset, Sequence) and isinstance(value, list):
            return [_redact_as(item, args[0] if args else Any) for item in value]
        if outer in (dict, Mapping) and isinstance(value, dict):
            return {k: _redact_as(item, args[1] if len(args) == 2 else Any) for k, item in value.items()}
    return value


def scrub(text: str, secrets: Iterable[str | bytes | None], min_length: int = 4) -> str:
    """`text` with every secret value of `min_length` characters or more replaced by `***`, the longest first.

    The default leaves shorter values alone, so a short option value marked secret ("yes") does not mask
    every "yes" of an unrelated message; a credential dtm holds itself (a token, an API key) passes 1.
    """
    values = {s.decode(errors="ignore") if isinstance(s, bytes) else s for s in secrets if s}
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= max(1, min_length):
            text = text.replace(value, "***")
    return text
