"""Compare config, state and live status as JSON, so that types never cause false drift."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["diff_items", "diff_paths", "normalize"]


def normalize(value: Any) -> Any:
    """`value` as JSON would carry it: tuples become lists, keys strings, odd types their str()."""
    return json.loads(json.dumps(value, default=str))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def diff_items(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) wherever two normalized values differ; nil and empty count as equal (as
    DevStream did). Paths are for people: keys holding dots (file names) make them ambiguous to parse, so
    callers that need the values take them from here rather than walking a path back."""
    if before in (None, {}, [], "") and after in (None, {}, [], ""):
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple[str, Any, Any]] = []
        for k in list(before) + [k for k in after if k not in before]:
            out += diff_items(before.get(k), after.get(k), _join(path, k))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for i, (b, a) in enumerate(zip(before, after, strict=True)) for d in diff_items(b, a, _join(path, i))]
    # JSON tells true from 1 although Python does not.
    same = before == after and isinstance(before, bool) == isinstance(after, bool)
    return [] if same else [(path or "(all)", before, after)]


def diff_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """The field paths where two normalized values differ (see diff_items)."""
    return [p for p, _, _ in diff_items(before, after, path)]
