"""Compare config, state and live status as JSON, so that types never cause false drift."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["diff_paths", "normalize"]


def normalize(value: Any) -> Any:
    """`value` as JSON would carry it: tuples become lists, keys strings, odd types their str()."""
    return json.loads(json.dumps(value, default=str))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def diff_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """The field paths where two normalized values differ; nil and empty count as equal (as DevStream did)."""
    if before in (None, {}, [], "") and after in (None, {}, [], ""):
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for k in list(before) + [k for k in after if k not in before]:
            out += diff_paths(before.get(k), after.get(k), _join(path, k))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [p for i, (b, a) in enumerate(zip(before, after, strict=True)) for p in diff_paths(b, a, _join(path, i))]
    # JSON tells true from 1 although Python does not.
    same = before == after and isinstance(before, bool) == isinstance(after, bool)
    return [] if same else [path or "(all)"]
