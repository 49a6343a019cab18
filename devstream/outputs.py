"""Output references: `${{ name.instanceID.outputs.key }}`.

A reference may stand anywhere in a tool's options (in nested maps and in lists), several may share one
string, and a value that is exactly one reference keeps the output's type (a list stays a list). `key` may
be a dotted path into nested outputs. Each reference is also an implicit dependency (see graph.py).
An output that cannot be found is an error, never a silent skip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devstream.errors import UnresolvedReferenceError

__all__ = ["CI_EXPRESSION_ROOTS", "REFERENCE", "Reference", "find_references", "resolve"]

# Plugin names have no dots; an instanceID is an RFC 1123 subdomain, so it may have dots: it runs up
# to the literal `.outputs.`. GitHub Actions and Gitea use the same brackets for `steps.<id>.outputs.<k>`,
# `needs.<job>.outputs.<k>` and `jobs.<job>.outputs.<k>` in workflow files that tools write: those names
# are reserved for CI expressions and pass through untouched (no plugin may be called so).
CI_EXPRESSION_ROOTS = ("steps", "needs", "jobs")
REFERENCE = re.compile(
    r"\$\{\{\s*(?!(?:steps|needs|jobs)\.)(?P<name>[A-Za-z0-9_-]+)\.(?P<instance>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)"
    r"\.outputs\.(?P<key>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*\}\}"
)


@dataclass(frozen=True)
class Reference:
    name: str
    instance_id: str
    key: str
    path: str  # where in the options it stands, e.g. "env[2].url"

    @property
    def tool_key(self) -> str:
        return f"{self.name}.{self.instance_id}"

    def __str__(self) -> str:
        return f"${{{{ {self.tool_key}.outputs.{self.key} }}}}"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def find_references(options: Any, path: str = "") -> list[Reference]:
    """Every reference in the options, in document order."""
    return [
        Reference(m["name"], m["instance"], m["key"], p)
        for p, text in _walk(options, path)
        for m in REFERENCE.finditer(text)
    ]


def _lookup(ref: Reference, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    if ref.tool_key not in outputs:
        raise UnresolvedReferenceError(ref, f"{ref.tool_key} has no outputs (it has not been applied)")
    value: Any = outputs[ref.tool_key]
    for part in ref.key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            have = ", ".join(sorted(outputs[ref.tool_key])) or "none"
            raise UnresolvedReferenceError(ref, f"{ref.tool_key} has no output '{ref.key}' (outputs: {have})")
        value = value[part]
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def resolve(options: Any, outputs: Mapping[str, Mapping[str, Any]], path: str = "") -> Any:
    """A copy of `options` with every reference replaced from `outputs` (tool key -> outputs map)."""
    if isinstance(options, str):
        matches = list(REFERENCE.finditer(options))
        if not matches:
            return options
        refs = [Reference(m["name"], m["instance"], m["key"], path) for m in matches]
        whole = matches[0]
        if len(matches) == 1 and whole.start() == 0 and whole.end() == len(options):
            return _lookup(refs[0], outputs)
        values = iter([_as_text(_lookup(r, outputs)) for r in refs])
        return REFERENCE.sub(lambda _m: next(values), options)
    if isinstance(options, Mapping):
        return {k: resolve(v, outputs, f"{path}.{k}" if path else str(k)) for k, v in options.items()}
    if isinstance(options, list | tuple):
        return [resolve(v, outputs, f"{path}[{i}]") for i, v in enumerate(options)]
    return options
