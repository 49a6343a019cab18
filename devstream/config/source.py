"""Reading config files into located parts.

A config is one YAML file or a folder of them. Every YAML document becomes a `Part`: its data, plus a map
from each field path to the line it was written on, so that every later error can point at a line.

Templates (`[[ var ]]`, `[% block %]`, `[# comment #]`) are not YAML: `[[ x ]]` would read as a nested flow
list. Before parsing, their delimiters are swapped for private-use characters (one character each, on the
same line, so line numbers stay exact); `restore` swaps them back before a string is rendered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from devstream.config.limits import MAX_DEPTH, Budget, Limits
from devstream.errors import BudgetExceeded, ConfigError, Issue

__all__ = [
    "FieldPath",
    "Part",
    "ScalarInfo",
    "format_path",
    "has_template",
    "parse_text",
    "plain_scalar",
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


def parse_text(text: str, file: str, budget: Budget | None = None) -> list[Part]:
    """The documents of one YAML text, each a located Part (empty documents are skipped).

    `budget` bounds what the documents expand to (aliases counted each time they are used).
    """
    loader = _Loader(swap(text))
    source = text.splitlines()
    builder = _Builder(loader, budget or Budget(Limits()))
    parts: list[Part] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            part = Part(file, None, source=source)
            part.lines[()] = node.start_mark.line + 1
            try:
                builder.budget.reserve(*_expanded_size(node))
            except BudgetExceeded as exc:
                raise ConfigError(part.issue(exc.message, ())) from None
            issues: list[Issue] = []
            part.data = builder.build(node, (), part, issues)
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
    finally:
        loader.dispose()
    return parts


def _expanded_size(root: Node) -> tuple[int, int]:
    """How many values and characters of text a document holds with every alias expanded.

    Each node is measured once (an alias is the same node object again), so a billion laughs is measured
    in microseconds, before anything is built. A loop or an excess of depth counts as small here: the
    builder reports them with their lines.
    """
    sizes: dict[int, tuple[int, int]] = {}

    def measure(node: Node, depth: int) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, ScalarNode):
            return 1, len(node.value)
        sizes[id(node)] = (1, 0)  # while measuring: an alias to an ancestor adds nothing
        values, text = 1, 0
        if depth < MAX_DEPTH:
            children = (c for pair in node.value for c in pair) if isinstance(node, MappingNode) else node.value
            for child in children:
                v, t = measure(child, depth + 1)
                values, text = values + v, text + t
        sizes[id(node)] = (values, text)
        return values, text

    return measure(root, 0)


class _Stop(Exception):
    """Building cannot go on (a limit passed, a value containing itself); the issue is already recorded."""


# The tags of plain data. Any other (`!!python/object`, `!!binary`, `!!set`, `!Ref`) would make data that
# is not JSON, or mean something dtm would silently ignore.
_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq",
                                                         "merge")}
_UNCLOSED = re.compile(r"(\[\[|\[%|\[#)(?=[\sA-Za-z_.\"'(-])")


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


class _Builder:
    """Python data from composed nodes, recording the line of every field and checking every value on the
    way: only plain tags, finite numbers, no string over the size limit, no template left unclosed, no
    deeper than MAX_DEPTH, and the whole within the budget."""

    def __init__(self, loader: _Loader, budget: Budget):
        self.loader = loader
        self.budget = budget
        self.limits = budget.limits
        self.open: set[int] = set()  # the maps and lists being built: an alias to one of them is a loop

    def build(self, node: Node, path: FieldPath, part: Part, issues: list[Issue]) -> Any:
        try:
            return self._build(node, path, part, issues)
        except _Stop:
            return None

    def _stop(self, issues: list[Issue], issue: Issue) -> _Stop:
        issues.append(issue)
        return _Stop()

    def _check_tag(self, node: Node, path: FieldPath, part: Part, issues: list[Issue]) -> bool:
        if node.tag in _PLAIN_TAGS:
            return True
        issues.append(part.issue(f"the YAML tag {_short_tag(node.tag)} is not allowed: a config holds only maps, "
                                 f"lists, strings, numbers, booleans and null; remove the tag (quote the value "
                                 f"to keep it as text)", path, node.start_mark.line + 1))
        return False

    def _scalar(self, node: ScalarNode, path: FieldPath, part: Part, issues: list[Issue], *, key: bool = False) -> Any:
        line = node.start_mark.line + 1
        if len(node.value) > self.limits.value_bytes.value:
            raise self._stop(issues, part.issue(self.limits.value_bytes.exceeded(
                f"this value ({len(node.value):,} characters)"), path, line))
        if not self._check_tag(node, path, part, issues):
            return None
        try:
            value = self.loader.construct_object(node)
        except ValueError as exc:  # Python refuses ints of more than 4,300 digits
            issues.append(part.issue(f"cannot read this number: {exc.args[0].split(';')[0]}; quote it to keep it "
                                     f"as text", path, line))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            issues.append(part.issue(f"{node.value!r} is not a number JSON can hold (options are JSON, which has "
                                     f"no NaN or infinity); use a finite number, or quote it to keep it as text",
                                     path, line))
            return None
        if isinstance(value, str) and not key:
            self._check_templates(node, path, part, issues)
            if has_template(value):
                plain = not node.style  # None from PyYAML, "" from libyaml
                part.templates[path] = ScalarInfo(line, node.end_mark.line + 1, plain)
        return value

    def _check_templates(self, node: ScalarNode, path: FieldPath, part: Part, issues: list[Issue]) -> None:
        """A `[[`, `[%` or `[#` left after the swap opened a template that was not closed on its line."""
        found = _UNCLOSED.search(node.value)
        if found is None:
            return
        opener = found.group(1)
        closer = opener[1] + "]" if opener != "[[" else "]]"
        first, last = node.start_mark.line + 1, node.end_mark.line + 1
        line = next((n for n in range(first, last + 1)
                     if 0 < n <= len(part.source) and _UNCLOSED.search(swap(part.source[n - 1]))), first)
        issues.append(part.issue(f"{opener!r} opens a template that is not closed by {closer!r} on the same line; "
                                 f"close it (a template stays on one line), or write [[ {opener!r} ]] for the "
                                 f"text itself", path, line))

    def _build(self, node: Node, path: FieldPath, part: Part, issues: list[Issue]) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path, part, issues)
        line = node.start_mark.line + 1
        if id(node) in self.open:
            raise self._stop(issues, part.issue("an alias (*name) refers to the map or list that contains it; a "
                                                "config cannot be infinitely deep", path, line))
        if len(path) >= MAX_DEPTH:
            raise self._stop(issues, part.issue(f"maps and lists nest more than {MAX_DEPTH} levels deep here; a "
                                                f"config cannot be that deep", path, line))
        if not self._check_tag(node, path, part, issues):
            return None
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for i, child in enumerate(node.value):
                    part.lines.setdefault((*path, i), child.start_mark.line + 1)
                    items.append(self._build(child, (*path, i), part, issues))
                return items
            if isinstance(node, MappingNode):
                return self._mapping(node, path, part, issues)
        finally:
            self.open.discard(id(node))
        return self.loader.construct_object(node)

    def _mapping(self, node: MappingNode, path: FieldPath, part: Part, issues: list[Issue]) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                issues.append(Issue("a map key must be a plain value, not a list or a map", part.file, line,
                                    format_path(path)))
                continue
            before = len(issues)
            key = self._scalar(key_node, path, part, issues, key=True)
            if len(issues) > before:
                continue
            # A key keeps its template as written; render_tree renders it (DevStream rendered keys too).
            key = restore(key) if isinstance(key, str) else str(key)
            child_path = (*path, key)
            if key in out:
                issues.append(Issue(f"key {key!r} is defined twice in this map (first on line "
                                    f"{part.lines.get(child_path)}); keep one", part.file, line,
                                    format_path(child_path)))
                continue
            part.lines[child_path] = line
            out[key] = self._build(value_node, child_path, part, issues)
        return out


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
