"""Checks on the tools of a config: their shape, their plugins' options, their references and dependencies.

Each check returns Issues instead of raising, so one load reports every problem it can find. A tool's
`Origin` knows where it was written, so an issue deep in its options still names a file and a line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from devstream.config.casefold import canonical_keys
from devstream.config.models import Location, ToolSpec
from devstream.config.source import FieldPath, Part, format_path, walk_strings
from devstream.errors import DependencyCycleError, Issue, UnknownDependencyError
from devstream.graph import Graph
from devstream.outputs import REFERENCE
from devstream.plugin.registry import ENTRY_POINT_GROUP, PluginRegistry

__all__ = [
    "Origin",
    "check_dependencies",
    "check_duplicates",
    "check_graph",
    "check_plugins",
    "check_references",
    "is_rfc1123_subdomain",
    "parse_tool",
    "validation_issues",
]

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_RFC1123 = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# Plugin names are what output references accept for a name (see devstream.outputs).
_PLUGIN_NAME = re.compile(r"[A-Za-z0-9_-]+")
RFC1123_RULE = ("an RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with "
                "a letter or digit, at most 253 characters")
_TOOL_FIELDS = ("name", "instanceID", "dependsOn", "options")


def is_rfc1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_RFC1123.fullmatch(value))


@dataclass(frozen=True)
class Origin:
    """Where a tool was written: `tools[i]` of a part, or `apps[i]` for the tools an app generates."""

    part: Part
    path: FieldPath
    generated: bool = False

    @property
    def location(self) -> Location:
        return Location(self.part.file, self.part.line_of(self.path), format_path(self.path))

    def issue(self, message: str, sub: FieldPath = (), tool: ToolSpec | None = None) -> Issue:
        """An issue at `sub` inside the tool (e.g. ("options", "path")).

        A generated tool has no lines of its own: the issue points at its app and names the field.
        """
        if self.generated:
            what = f"{tool.key} (generated from this app)" if tool else "a tool generated from this app"
            inner = f" {format_path(sub)}:" if sub else ""
            return self.part.issue(f"{what}:{inner} {message}", self.path)
        return self.part.issue(message, (*self.path, *sub))


def validation_issues(exc: ValidationError, part: Part, path: FieldPath, *,
                      hints: Mapping[str, str] | None = None) -> list[Issue]:
    """One Issue per pydantic error, at the line of the field (or of its nearest written parent).

    `hints` adds advice for unknown fields by name (a common misspelling and what to write instead).
    """
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        name = str(loc[-1]) if loc else ""
        if err["type"] == "missing":
            message = f"required field {name!r} is missing; add it"
        elif err["type"] == "extra_forbidden":
            hint = (hints or {}).get(name)
            message = f"unknown field {name!r}; " + (hint or "remove it or fix its spelling")
        else:
            message = err["msg"]
        issues.append(part.issue(message, (*path, *loc)))
    return issues


def parse_tool(value: Any, origin: Origin) -> tuple[ToolSpec | None, list[Issue]]:
    """A ToolSpec from a (rendered) `tools` item, or the issues that prevent it."""
    if not isinstance(value, dict):
        return None, [origin.issue("a tool must be a map with name, instanceID, dependsOn and options")]
    issues = []
    for key in value:
        if key not in _TOOL_FIELDS:
            issues.append(origin.issue(f"unknown field {key!r} in a tool; a tool has only "
                                       f"{', '.join(_TOOL_FIELDS)}", (key,)))
    name, instance, depends, options = (value.get(k) for k in _TOOL_FIELDS)
    if not isinstance(name, str) or not _PLUGIN_NAME.fullmatch(name):
        issues.append(origin.issue("`name` is required: the plugin's name, e.g. `repo-scaffolding` "
                                   "(letters, digits, '-' and '_')", ("name",)))
    if not isinstance(instance, str) or not is_rfc1123_subdomain(instance):
        got = f"; got {instance!r}" if instance is not None else ""
        issues.append(origin.issue(f"`instanceID` is required and must be {RFC1123_RULE}{got}",
                                   ("instanceID",)))
    if depends is None:
        depends = []
    if not isinstance(depends, list):
        issues.append(origin.issue("`dependsOn` must be a list of `name.instanceID` strings", ("dependsOn",)))
    else:
        # A blank entry (`- ""`, or `-` alone) names nothing: DevStream skipped it, and so does dtm.
        depends = [d for d in depends if not (d is None or isinstance(d, str) and not d.strip())]
        for j, dep in enumerate(depends):
            if not isinstance(dep, str) or "." not in dep:
                issues.append(origin.issue(f"dependsOn entry {dep!r} must be `name.instanceID`, e.g. "
                                           f"`repo-scaffolding.my-app`", ("dependsOn", j)))
    if options is None:
        options = {}
    if not isinstance(options, dict):
        issues.append(origin.issue("`options` must be a map of the plugin's options", ("options",)))
    if issues or not isinstance(name, str) or not isinstance(instance, str):  # (the checks above said which)
        return None, issues
    return ToolSpec(name=name, instanceID=instance, dependsOn=depends, options=options), []


Located = Sequence[tuple[ToolSpec, Origin]]


def check_duplicates(tools: Located) -> list[Issue]:
    """`name.instanceID` must be unique; both places are named."""
    seen: dict[str, Origin] = {}
    issues = []
    for tool, origin in tools:
        if tool.key in seen:
            first = seen[tool.key].location
            issues.append(origin.issue(
                f"tool {tool.key!r} is defined twice: here and at {first.file}:{first.line} ({first.field}); "
                f"give one of them another instanceID (an app has one pipeline of each type)", tool=tool))
        else:
            seen[tool.key] = origin
    return issues


def _reference_in(value: Any) -> bool:
    return any(REFERENCE.search(text) for _, text in walk_strings(value))


def _at(value: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def check_plugins(tools: Located, registry: PluginRegistry) -> tuple[dict[str, set[str] | None], list[Issue]]:
    """Every tool's plugin must be installed and accept its options.

    Returns, per tool key, the output keys its plugin promises (None when it cannot tell). An error on an
    option whose value holds an output reference is not reported: its value is only known at apply time.
    """
    outputs: dict[str, set[str] | None] = {}
    issues: list[Issue] = []
    for tool, origin in tools:
        outputs[tool.key] = None
        if tool.name not in registry:
            installed = ", ".join(registry.names()) or "none"
            where = f" -f {origin.location.file}" if origin.location.file else ""
            issues.append(origin.issue(
                f"plugin {tool.name!r} is not installed (installed: {installed}). Install the plugins the config "
                f"names with `dtm init{where}` (from dtm's plugin index, or `config.pluginIndex`), or check the "
                f"spelling; a plugin is a package registering the {ENTRY_POINT_GROUP!r} entry point",
                ("name",), tool))
            continue
        try:
            plugin = registry.get(tool.name)
        except Exception as exc:  # a third-party plugin failing to import must not hide the other issues
            issues.append(origin.issue(f"plugin {tool.name!r} cannot be loaded: {exc}", ("name",), tool))
            continue
        tool.options = canonical_keys(tool.options, type(plugin).Options)  # `baseUrl` is `baseURL`, as in DevStream
        try:
            options: BaseModel | None = type(plugin).Options.model_validate(tool.options)
        except ValidationError as exc:
            options = None
            for err in exc.errors():
                loc = tuple(err["loc"])
                if _reference_in(_at(tool.options, loc)):
                    continue
                issues.append(origin.issue(_option_message(err, tool.name), ("options", *loc), tool))
        if options is not None:
            try:
                keys = plugin.output_keys(options)
            except Exception:  # a guess that fails only loses the load-time check of references
                keys = None
            outputs[tool.key] = set(keys) if keys is not None else None
    return outputs, issues


def _option_message(err: Mapping[str, Any], plugin: str) -> str:
    loc = err["loc"]
    name = str(loc[-1]) if loc else ""
    if err["type"] == "missing":
        return f"plugin {plugin!r} requires option {name!r}; add it"
    if err["type"] == "extra_forbidden":
        return f"plugin {plugin!r} has no option {name!r}; remove it or fix its spelling"
    # The value itself is not repeated: it may be a secret.
    return f"invalid value for plugin {plugin!r}: {err['msg']}"


def check_references(tools: Located, outputs: Mapping[str, set[str] | None]) -> list[Issue]:
    """`${{ name.instanceID.outputs.key }}` must name a defined tool and, when known, one of its outputs."""
    issues: list[Issue] = []
    for tool, origin in tools:
        for path, text in walk_strings(tool.options, ("options",)):
            issues.extend(origin.issue(problem, path, tool) for problem in _malformed_references(text, outputs))
            for m in REFERENCE.finditer(text):
                target, key = f"{m['name']}.{m['instance']}", m["key"]
                ref = m.group(0)
                if target not in outputs:
                    issues.append(origin.issue(f"{ref} refers to tool {target!r}, which is not defined; check "
                                               f"the spelling (name.instanceID) or add the tool", path, tool))
                    continue
                promised = outputs[target]
                if promised is not None and key.split(".")[0] not in promised:
                    have = ", ".join(sorted(promised)) or "none"
                    issues.append(origin.issue(f"{ref}: tool {target!r} does not return output "
                                               f"{key.split('.')[0]!r}; its outputs are: {have}", path, tool))
    return issues


_EXPRESSION = re.compile(r"\$\{\{(.*?)(\}\}|$)", re.S)


def _malformed_references(text: str, tools: Mapping[str, object]) -> list[str]:
    """What a typo left of a reference: a `${{` never closed by `}}`, or an expression that starts with a
    tool's key but is not `${{ name.instanceID.outputs.key }}` (CI expressions such as `${{ github.sha }}`
    name no tool, so they pass through)."""
    problems = []
    for m in _EXPRESSION.finditer(text):
        inner = m.group(1).strip()
        shown = inner if len(inner) <= 60 else inner[:57] + "..."
        if not m.group(2):
            problems.append(f"'${{{{ {shown}' is not closed by '}}}}'; an output reference is "
                            f"${{{{ name.instanceID.outputs.key }}}}")
            continue
        if REFERENCE.fullmatch(m.group(0)):
            continue
        target = next((key for key in tools if inner.startswith(key + ".")), None)
        if target is not None:
            problems.append(f"'${{{{ {shown} }}}}' names tool {target!r} but is not an output reference; write "
                            f"${{{{ {target}.outputs.<key> }}}}")
    return problems


def check_dependencies(tools: Located) -> list[Issue]:
    """Every dependsOn entry must name a defined tool."""
    keys = {t.key for t, _ in tools}
    issues = []
    for tool, origin in tools:
        for j, dep in enumerate(tool.dependsOn):
            if dep not in keys:
                issues.append(origin.issue(f"dependsOn {dep!r}, but no tool {dep!r} is defined; check the "
                                           f"spelling (name.instanceID) or add the tool", ("dependsOn", j), tool))
    return issues


def check_graph(tools: Located) -> None:
    """Build the dependency graph; a cycle or an unknown dependency is raised with file and line."""
    where = {t.key: origin.location for t, origin in tools}
    try:
        Graph.from_tools([t for t, _ in tools])
    except DependencyCycleError as exc:
        at = where.get(exc.cycle[0])
        message = exc.issues[0].message
        raise DependencyCycleError(exc.cycle, Issue(message, at.file, at.line, at.field) if at else None) from None
    except UnknownDependencyError as exc:
        located = []
        for issue in exc.issues:
            at = where.get(issue.field or "")
            located.append(Issue(issue.message, at.file, at.line, at.field) if at else issue)
        raise UnknownDependencyError(located) from None
