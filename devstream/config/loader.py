"""`load_config`: from YAML files to a validated Config.

The stages, each reporting every problem it finds before the next one runs:

1. read: one file or every *.yaml/*.yml under a folder; YAML errors with file and line;
2. merge: the documents' sections merged structurally (see merge.py);
3. vars: rendered in dependency order, loops and missing vars named;
4. config, tools and apps rendered; tool shapes checked; apps expanded through pipelineTemplates;
5. plugins installed and accepting their options; dependsOn and output references pointing at real tools
   and outputs;
6. the dependency graph free of cycles.

Loading reads the config files only: no state, no network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from devstream.config.apps import AppExpander
from devstream.config.checks import (
    Origin,
    check_dependencies,
    check_duplicates,
    check_graph,
    check_plugins,
    check_references,
    parse_tool,
)
from devstream.config.files import config_files, read_parts
from devstream.config.merge import Entry, Merged, merge_parts
from devstream.config.models import (
    BACKENDS,
    DEFAULT_BACKEND,
    NOT_YET_BACKENDS,
    STATE_OPTIONS,
    Config,
    Location,
    StateConfig,
    ToolSpec,
    backend_not_available,
)
from devstream.config.render import Renderer, render_tree, resolve_vars
from devstream.config.source import FieldPath, Part, format_path
from devstream.errors import ConfigError, Issue
from devstream.plugin.registry import PluginRegistry, default_registry, use_plugin_dir

__all__ = ["PLUGIN_SETTINGS", "load_config"]

PLUGIN_SETTINGS = ("pluginDir", "pluginIndex")

_BACKEND_ALIASES = {"kubernetes": "k8s"}
_VALID_BACKENDS = ", ".join(b for b in BACKENDS if b not in NOT_YET_BACKENDS)


def load_config(path: str | Path, *, registry: PluginRegistry | None = None,
                environ: Mapping[str, str] | None = None, validate_plugins: bool = True) -> Config:
    """Load, render, expand and validate the config at `path` (a YAML file or a folder of them).

    Args:
        path: a YAML file, or a folder whose *.yaml/*.yml files (recursively, sorted) are merged.
        registry: where plugins are looked up; the installed entry points by default.
        environ: what `[[ env "NAME" ]]` reads; os.environ by default.
        validate_plugins: check that every tool's plugin is installed and accepts its options. Off, the
            plugins are not consulted at all (for configs whose plugins are not installed here).

    Raises:
        ConfigError: with one Issue (file, line, field, message) per problem found.
    """
    root = Path(path).expanduser()
    files = config_files(root)
    parts = read_parts(files)
    if not parts:
        raise ConfigError(Issue("the config is empty; add a `tools:` list (items with name, instanceID and "
                                "options) or an `apps:` list", str(files[0]), 1))
    merged = merge_parts(parts)
    if not merged.tools and not merged.apps:
        first = parts[0]
        raise ConfigError(first.issue("the config defines no tools and no apps; add a `tools:` list (items with "
                                      "name, instanceID and options) or an `apps:` list", ()))
    renderer = Renderer(os.environ if environ is None else environ)
    vars_, issues = resolve_vars(merged.vars, renderer)
    if issues:
        raise ConfigError(issues)

    state = _state(merged.config, renderer, vars_, issues)
    workdir = (root if root.is_dir() else root.parent).resolve()
    plugin_dir, plugin_index = _plugin_settings(merged.config, workdir, issues)
    if plugin_dir is not None:
        use_plugin_dir(plugin_dir)  # before the plugins are looked up: the folder's plugins count as installed
    registry = registry or default_registry()
    located = _tools(merged, renderer, vars_, issues, registry)
    issues.extend(check_duplicates(located))
    outputs: dict[str, set[str] | None] = {t.key: None for t, _ in located}
    if validate_plugins:
        outputs, problems = check_plugins(located, registry)
        issues.extend(problems)
    if not issues:  # with tools missing, these would report follow-on errors
        issues.extend(check_dependencies(located))
        issues.extend(check_references(located, outputs))
    if issues:
        raise ConfigError(issues)
    check_graph(located)

    name = state.options.get("name")
    return Config(
        path=root.resolve(),
        workdir=(root if root.is_dir() else root.parent).resolve(),
        name=name if isinstance(name, str) and name else (root.name if root.is_dir() else root.stem),
        state=state,
        vars=vars_,
        tools=[t for t, _ in located],
        files=[f.resolve() for f in files],
        locations={t.key: origin.location for t, origin in located},
        plugin_dir=plugin_dir,
        plugin_index=plugin_index,
    )


def _plugin_settings(entry: Entry | None, workdir: Path, issues: list[Issue]) -> tuple[Path | None, Path | None]:
    """`config.pluginDir` and `config.pluginIndex`: paths relative to the config's folder."""
    found: list[Path | None] = []
    for key in PLUGIN_SETTINGS:
        value = entry.value.get(key) if entry is not None and isinstance(entry.value, dict) else None
        if value is not None and not isinstance(value, str):
            assert entry is not None
            issues.append(entry.part.issue(f"`config.{key}` must be a path (a string)", (*entry.path, key)))
            value = None
        found.append(workdir / Path(value).expanduser() if value else None)
    return found[0], found[1]


def _state(entry: Entry | None, renderer: Renderer, vars_: Mapping[str, Any], issues: list[Issue]) -> StateConfig:
    """`config.state`, rendered, with the backend's name normalised; `prefect` when absent."""
    if entry is None:
        return StateConfig()
    part, path = entry.part, entry.path
    config = render_tree(entry.value, path, part, renderer, vars_, issues)
    for key in config:
        if key != "state" and key not in PLUGIN_SETTINGS:
            issues.append(part.issue(f"unknown key {key!r} in `config`; it holds `state` (backend and options), "
                                     f"`pluginDir` and `pluginIndex`", (*path, key)))
    state = config.get("state")
    if state is None:
        return StateConfig()
    if not isinstance(state, dict):
        issues.append(part.issue("`config.state` must be a map with `backend` and `options`", (*path, "state")))
        return StateConfig()
    for key in state:
        if key not in ("backend", "options"):
            issues.append(part.issue(f"unknown key {key!r} in `config.state`; it holds `backend` and `options`",
                                     (*path, "state", key)))
    backend = state.get("backend") or DEFAULT_BACKEND
    normal = str(backend).lower()
    normal = _BACKEND_ALIASES.get(normal, normal)
    if normal not in BACKENDS:
        issues.append(part.issue(f"unknown state backend {backend!r}; use one of: {_VALID_BACKENDS}",
                                 (*path, "state", "backend")))
        normal = DEFAULT_BACKEND
    elif normal in NOT_YET_BACKENDS:
        # Refused now, not at plan time: the same message the state package gives.
        issues.append(part.issue(backend_not_available(normal), (*path, "state", "backend")))
    options = state.get("options") or {}
    if not isinstance(options, dict):
        issues.append(part.issue("`config.state.options` must be a map", (*path, "state", "options")))
        options = {}
    issues.extend(_state_option_issues(normal, options, part, (*path, "state", "options")))
    state_config = StateConfig(backend=normal, options=options)
    for name in ("backend", "options", *options):
        where = (*path, "state", name) if name in ("backend", "options") else (*path, "state", "options", name)
        state_config._locations[str(name)] = Location(part.file, part.line_of(where), format_path(where))
    return state_config


def _state_option_issues(backend: str, options: dict[str, Any], part: Part, path: FieldPath) -> list[Issue]:
    """The backend's options checked against its model, each problem at the line of its option."""
    model = STATE_OPTIONS.get(backend)
    if model is None:
        return []
    try:
        model.model_validate(options)
    except ValidationError as exc:
        accepted = ", ".join(model.model_fields)
        issues = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            name = str(loc[0]) if loc else ""
            if err["type"] == "extra_forbidden":
                message = f"unknown option {name!r} for state backend `{backend}`; it accepts: {accepted}"
            else:
                if err["type"] == "string_type":
                    what = f"must be text, not {type(err['input']).__name__} (quote it if it is meant as text)"
                elif err["type"] in ("string_too_short", "string_pattern_mismatch"):
                    what = "must not be empty or blank"
                elif err["type"] == "missing":
                    what = f"is required (it accepts: {accepted})"
                else:
                    what = err["msg"]
                message = f"state option {name!r} of backend `{backend}` {what}"
            issues.append(part.issue(message, (*path, *loc)))
        return issues
    return []


def _tools(merged: Merged, renderer: Renderer, vars_: Mapping[str, Any], issues: list[Issue],
           registry: PluginRegistry) -> list[tuple[ToolSpec, Origin]]:
    """The top-level tools, then the tools every app expands into, each with where it was written."""
    located: list[tuple[ToolSpec, Origin]] = []
    for entry in merged.tools:
        before = len(issues)
        value = render_tree(entry.value, entry.path, entry.part, renderer, vars_, issues)
        if len(issues) > before:
            continue  # a field left unrendered would only add confusing errors
        tool, problems = parse_tool(value, Origin(entry.part, entry.path))
        issues.extend(problems)
        if tool is not None:
            located.append((tool, Origin(entry.part, entry.path)))
    expander = AppExpander(merged.pipelineTemplates, vars_, renderer, after=[t.key for t, _ in located],
                           registry=registry)
    for entry in merged.apps:
        before = len(issues)
        value = render_tree(entry.value, entry.path, entry.part, renderer, vars_, issues)
        if len(issues) == before:
            located.extend(expander.expand(Entry(entry.part, entry.path, value)))
    issues.extend(expander.issues)
    return located
