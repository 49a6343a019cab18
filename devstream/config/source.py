"""Reading config files into located parts.

A config is one YAML file or a folder of them. Every YAML document becomes a `Part`: its data, plus a map
from each field path to the line it was written on, so that every later error can point at a line.

Templates (`[[ var ]]`, `[% block %]`, `[# comment #]`) are not YAML: `[[ x ]]` would read as a nested flow
list. Before parsing, their delimiters are swapped for private-use characters (one character each, on the
same line, so line numbers stay exact); `restore` swaps them back before a string is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from devstream.errors import ConfigError, Issue

__all__ = [
    "FieldPath",
    "Part",
    "ScalarInfo",
    "config_files",
    "format_path",
    "has_template",
    "parse_text",
    "plain_scalar",
    "read_parts",
    "restore",
    "swap",
    "walk_strings",
]

FieldPath = tuple[str | int, ...]
"""A field's path in a document: ("tools", 3, "options", "path")."""

# Private-use code points stand in for the template delimiters while YAML parses the text.
_SWAPS = (("[[", "]]", "\ue000", "\ue001"), ("[%", "%]", "\ue002", "\ue003"), ("[#", "#]", "\ue004", "\ue005"))
# A template opens with a space, a dot, a letter, a quote, `-` (whitespace control) or `(`. Requiring that
# keeps `[[1, 2]]` a YAML nested list. A template stays on one line and ends at the first closer.
_TEMPLATE = {
    opener: re.compile(re.escape(opener) + r"(?=[\sA-Za-z_.\"'(-])([^\n]*?)" + re.escape(closer))
    for opener, closer, _, _ in _SWAPS
}
_RESTORE = str.maketrans({a: o for o, _, a, _ in _SWAPS} | {b: c for _, c, _, b in _SWAPS})
_MARKERS = re.compile("[\ue000\ue002\ue004]")
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when installed: 10,000 tools parse in a second, not five) without implicit
    timestamps: `2023-01-01` stays a string, so options stay JSON-able."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class ScalarInfo:
    """Where a string scalar holding a template stands: its lines and whether it was plain (unquoted)."""

    line: int
    end_line: int
    plain: bool


@dataclass
class Part:
    """One YAML document of one file: its data and where each field of it was written.

    `lines` maps a field path to a 1-based line: for a map entry the line of its key, for a list item the
    line of the item. `templates` holds the string scalars that contain a template.
    """

    file: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    templates: dict[FieldPath, ScalarInfo] = field(default_factory=dict)
    source: list[str] = field(default_factory=list)
    # For parts built from Python data (no text): every templated string counts as plain.
    plain_default: bool = False

    def line_of(self, path: FieldPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that was written down."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def issue(self, message: str, path: FieldPath, line: int | None = None) -> Issue:
        """An Issue located at `path` in this part."""
        return Issue(message, self.file, line if line is not None else self.line_of(path), format_path(path))

    def is_plain(self, path: FieldPath) -> bool:
        info = self.templates.get(path)
        return info.plain if info else self.plain_default

    def line_mentioning(self, path: FieldPath, word: str) -> int | None:
        """The line, within a (possibly multi-line) templated scalar, that first mentions `word`."""
        info = self.templates.get(path)
        if info is None:
            return self.line_of(path)
        for number in range(info.line, info.end_line + 1):
            if 0 < number <= len(self.source) and word in self.source[number - 1]:
                return number
        return info.line


def format_path(path: FieldPath) -> str:
    """("tools", 3, "options", "path") -> "tools[3].options.path"."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def has_template(text: str) -> bool:
    """Whether a (swapped) string holds a template delimiter."""
    return bool(_MARKERS.search(text))


def restore(text: str) -> str:
    """Swap the private-use stand-ins back to the template delimiters."""
    return text.translate(_RESTORE)


def plain_scalar(text: str) -> Any:
    """The value a plain (unquoted) YAML scalar with this text has: "8080" -> 8080, "true" -> True."""
    if not text:
        return text
    loader = _Loader("")
    try:
        tag = loader.resolve(ScalarNode, text, (True, False))
        return text if tag == _STR_TAG else loader.construct_object(ScalarNode(tag, text))
    finally:
        loader.dispose()


def swap(text: str) -> str:
    """Swap the template delimiters for private-use stand-ins (see the module docstring)."""
    for opener, _closer, a, b in _SWAPS:
        text = _TEMPLATE[opener].sub(a + r"\g<1>" + b, text)
    return text


def config_files(path: Path) -> list[Path]:
    """The YAML files of a config: the file itself, or every *.yaml/*.yml under a folder, sorted."""
    if not path.exists():
        raise ConfigError(Issue(f"config path {str(path)!r} does not exist; give a YAML file or a folder of them",
                                str(path)))
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise ConfigError(Issue("the folder holds no *.yaml or *.yml file; add a config file to it", str(path)))
    return files


def read_parts(files: list[Path]) -> list[Part]:
    """Parse every file; YAML errors of all files are reported together."""
    parts: list[Part] = []
    issues: list[Issue] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(Issue(f"cannot read the file: {exc}", str(f)))
            continue
        try:
            parts.extend(parse_text(text, str(f)))
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    return parts


def parse_text(text: str, file: str) -> list[Part]:
    """The documents of one YAML text, each a located Part (empty documents are skipped)."""
    loader = _Loader(swap(text))
    source = text.splitlines()
    parts: list[Part] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            part = Part(file, None, source=source)
            part.lines[()] = node.start_mark.line + 1
            issues: list[Issue] = []
            part.data = _build(loader, node, (), part, issues)
            if issues:
                raise ConfigError(issues)
            if part.data is not None:
                parts.append(part)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(restore(s) for s in (exc.context, exc.problem) if s)
        raise ConfigError(Issue(f"YAML syntax error: {what}; fix the YAML at this line (indentation, quotes, "
                                f"a missing ':' or '-')", file, mark.line + 1 if mark else None)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Issue(f"YAML error: {exc}", file)) from None
    except RecursionError:
        raise ConfigError(Issue("an alias (*name) refers to the map or list that contains it; a config "
                                "cannot be infinitely deep", file)) from None
    finally:
        loader.dispose()
    return parts


def _build(loader: _Loader, node: Node, path: FieldPath, part: Part, issues: list[Issue]) -> Any:
    """Python data from a composed node, recording the line of every field on the way."""
    if isinstance(node, ScalarNode):
        value = loader.construct_object(node)
        if isinstance(value, str) and has_template(value):
            plain = not node.style  # None from PyYAML, "" from libyaml
            part.templates[path] = ScalarInfo(node.start_mark.line + 1, node.end_mark.line + 1, plain)
        return value
    if isinstance(node, SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            part.lines.setdefault((*path, i), child.start_mark.line + 1)
            items.append(_build(loader, child, (*path, i), part, issues))
        return items
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                issues.append(Issue("a map key must be a plain value, not a list or a map", part.file, line,
                                    format_path(path)))
                continue
            key = loader.construct_object(key_node)
            # Keys are names, never rendered: a template in a key is kept as written.
            key = restore(key) if isinstance(key, str) else str(key)
            child_path = (*path, key)
            if key in out:
                issues.append(Issue(f"key {key!r} is defined twice in this map (first on line "
                                    f"{part.lines.get(child_path)}); keep one", part.file, line,
                                    format_path(child_path)))
                continue
            part.lines[child_path] = line
            out[key] = _build(loader, value_node, child_path, part, issues)
        return out
    return loader.construct_object(node)


def walk_strings(value: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, str]]:
    """Every string in nested data, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, (*path, i))
