"""The local state file's YAML, written fast: the same bytes as PyYAML's dumper in DevStream's style.

The state file is one YAML mapping of records (indent 2, block sequences indented under their key, as Go's
yaml.v3 wrote it for DevStream). PyYAML's pure-Python dumper takes ~0.8 ms per record (0.4 s for 500, 4 s for
5,000, all of it after an apply's last change); its C dumper cannot indent sequences so. Records are JSON
data, mostly names, numbers and booleans, which this module writes directly; a record holding anything else
(a string PyYAML would quote, a float, a list of lists...) is handed to PyYAML whole, so the output is always
exactly what PyYAML writes (tests/state/test_state_yaml.py compares the two).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["StateDumper", "render_records"]


class StateDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as Go's yaml.v3 (DevStream's writer) does."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _pyyaml(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=StateDumper, indent=2, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=1 << 30)  # never fold long values, as yaml.v3 does not


# Text PyYAML writes plain (unquoted) whatever the context, unless it reads back as something else than a
# string (true, null, 1, 1.5, 0x1f, 12:30...), which the resolver says.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*\Z")
_resolver = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


class _NotSimple(Exception):
    """A value this module does not write itself: the record goes to PyYAML."""


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    if type(value) is str and _PLAIN.match(value) and \
            _resolver.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG:
        return value
    raise _NotSimple


def _mapping(data: dict[Any, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        if type(key) is not str:
            raise _NotSimple
        name = _scalar(key)
        if isinstance(value, dict):
            if not value:
                out.append(f"{pad}{name}: {{}}\n")
            else:
                out.append(f"{pad}{name}:\n")
                _mapping(value, indent + 2, out)
        elif isinstance(value, list):
            if not value:
                out.append(f"{pad}{name}: []\n")
            else:
                out.append(f"{pad}{name}:\n")
                _sequence(value, indent + 2, out)
        else:
            out.append(f"{pad}{name}: {_scalar(value)}\n")


def _sequence(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            inner: list[str] = []
            _mapping(item, indent + 2, inner)
            out.append(f"{pad}- {inner[0][indent + 2:]}")  # the first key on the dash's line
            out.extend(inner[1:])
        elif isinstance(item, (dict, list)):
            raise _NotSimple  # an empty mapping, or a list in a list
        else:
            out.append(f"{pad}- {_scalar(item)}\n")


def render_records(doc: dict[str, dict[str, Any]]) -> str:
    """The YAML of a mapping of state keys to records (JSON data), exactly as PyYAML's StateDumper writes it."""
    out: list[str] = []
    for key, record in doc.items():
        try:
            part: list[str] = []
            _mapping({key: record}, 0, part)
        except _NotSimple:
            out.append(_pyyaml({key: record}))
        else:
            out.extend(part)
    return "".join(out)
