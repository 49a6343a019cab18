"""The Go and Sprig template functions DevStream's templates call (`printf`, `default`, `eq`..., `range`), for
templates that devstream/gotemplate.py translated into jinja: `register` puts them on the sandboxed environment
as `dtm_go_NAME`, and the translated template calls them there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import jinja2

__all__ = ["GO_FUNCTIONS", "PREFIX", "go_printf", "register"]

PREFIX = "dtm_go_"


def _go_text(value: Any) -> str:
    """A value as Go's fmt prints it with %v."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_go_text(k)}:{_go_text(value[k])}" for k in sorted(value, key=str)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    return str(value)


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def go_printf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use: %s %v %d %f %g %e %t %q %x %X %o %c %%, with flags, width
    and precision."""
    values = list(args)
    used = 0

    def one(m: re.Match[str]) -> str:
        nonlocal used
        flags, width, precision, verb = m.groups()
        if verb == "%":
            return "%"
        if used >= len(values):
            return f"%!{verb}(MISSING)"
        value = values[used]
        used += 1
        spec = flags + (width or "") + (f".{precision}" if precision is not None else "")
        if verb in "sv":
            return ("%" + spec + "s") % _go_text(value)
        if verb == "q":
            return ("%" + flags + (width or "") + "s") % json.dumps(_go_text(value), ensure_ascii=False)
        if verb == "t":
            return ("%" + flags + (width or "") + "s") % _go_text(value)
        if verb in "dxXoc" and isinstance(value, int) and not isinstance(value, bool):
            return ("%" + spec + verb) % value
        if verb in "feEgG" and isinstance(value, int | float) and not isinstance(value, bool):
            return ("%" + spec + verb) % value
        return f"%!{verb}({type(value).__name__}={_go_text(value)})"

    text = _VERB.sub(one, fmt)
    if used < len(values):
        text += "%!(EXTRA " + ", ".join(f"{type(v).__name__}={_go_text(v)}" for v in values[used:]) + ")"
    return text


def _empty(value: Any) -> bool:
    return value is None or value is False or value == 0 and not isinstance(value, str) or (
        isinstance(value, str | list | dict | tuple) and len(value) == 0)


def go_default(fallback: Any, *given: Any) -> Any:
    """Sprig's `default FALLBACK VALUE`: VALUE unless it is empty (or not given)."""
    return fallback if not given or _empty(given[0]) else given[0]


def go_eq(first: Any, *others: Any) -> bool:
    return any(first == other for other in others)


def go_and(*values: Any) -> Any:
    for value in values:
        if _empty(value):
            return value
    return values[-1]


def go_or(*values: Any) -> Any:
    for value in values:
        if not _empty(value):
            return value
    return values[-1]


def go_index(value: Any, *keys: Any) -> Any:
    for key in keys:
        value = value[key]
    return value


def go_print(*values: Any) -> str:
    """fmt.Sprint: operands side by side, a space between two that are both not strings."""
    out = ""
    for i, value in enumerate(values):
        if i and not isinstance(value, str) and not isinstance(values[i - 1], str):
            out += " "
        out += _go_text(value)
    return out


def go_range(value: Any) -> Iterator[Any]:
    """What `range` walks: a list's items, a map's values in key order (as Go's templates do), nothing for nil."""
    return (v for _, v in go_range_pairs(value))


def go_range_pairs(value: Any) -> Iterator[tuple[Any, Any]]:
    """`range $i, $e :=`: (index, item) of a list, (key, value) of a map in key order, an int's 0..n-1."""
    if value is None:
        return iter(())
    if isinstance(value, dict):
        return ((k, value[k]) for k in sorted(value, key=str))
    if isinstance(value, int) and not isinstance(value, bool):
        return ((i, i) for i in range(value))
    if isinstance(value, list | tuple | str):
        return enumerate(value)
    raise TypeError(f"range can't iterate over {_go_text(value)}")


GO_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "printf": go_printf, "print": go_print, "default": go_default,
    "eq": go_eq, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "and": go_and, "or": go_or, "not": _empty, "len": len, "index": go_index,
    "range": go_range, "range_pairs": go_range_pairs,
}
"""Registered on the environment as `dtm_go_NAME` (see `register`)."""


def register(env: jinja2.Environment) -> None:
    """Make the Go functions callable by translated templates rendered in `env`."""
    env.globals.update({PREFIX + name: fn for name, fn in GO_FUNCTIONS.items()})
