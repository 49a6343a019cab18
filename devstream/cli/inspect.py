"""The commands that look without changing: validate, show, list plugins, init, force-unlock, version."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from devstream import __version__
from devstream.cli import render
from devstream.cli.workspace import open_workspace
from devstream.config import load_config
from devstream.config.models import ToolSpec
from devstream.drift import drifted_fields
from devstream.errors import ConfigError, DtmError
from devstream.live import read_live_status, threaded_reads
from devstream.outputs import resolve
from devstream.plan import record_outputs
from devstream.plugin.registry import default_registry
from devstream.state import StateRecord, describe_holder

__all__ = ["force_unlock", "list_plugins", "show_config", "show_status", "validate", "version"]


def validate(*, config_path: Path, json_out: bool = False) -> int:
    """Load and check the config; exit 1 with every problem found."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        if json_out:
            render.print_json({"valid": False, "errors": [i.as_dict() for i in exc.issues]})
            return 1
        raise
    if json_out:
        render.print_json({"valid": True, "name": config.name, "files": [str(f) for f in config.files],
                           "state": config.state.model_dump(),
                           "tools": [{"key": t.key, "name": t.name, "instanceID": t.instanceID,
                                      "dependsOn": t.dependsOn} for t in config.tools]})
    else:
        render.console.print(f"[green]The config is valid:[/] {len(config.tools)} tools in "
                             f"{len(config.files)} file(s); state backend {config.state.backend}.")
    return 0


def show_status(*, config_path: Path, plugin: str | None = None, instance_id: str | None = None,
                json_out: bool = False, parallelism: int = 10) -> int:
    """Each resource in state, its live status, and whether it drifted."""
    ws = open_workspace(config_path)
    every = ws.records()
    records = [r for r in every.values()
               if (plugin is None or r.name == plugin) and (instance_id is None or r.instanceID == instance_id)]
    if (plugin or instance_id) and not records:
        raise DtmError(f"no resource in state matches plugin={plugin or '*'} instanceID={instance_id or '*'}")
    # Read with the config's options: stored options hold secrets only as fingerprints.
    read = read_live_status(ws, every, threaded_reads(ws, parallelism), check=True,
                            only={r.state_key for r in records})
    rows: list[dict[str, Any]] = []
    for rec in records:
        tool = ws.config.by_key.get(rec.key)
        live = read.live.get(rec.state_key)
        error = read.errors.get(rec.state_key)
        if tool is not None and error is None and rec.state_key not in read.live:
            error = _unreadable(tool, every)
        drift = drifted_fields(rec, live) if live is not None else ["(missing)"]
        rows.append({"key": rec.key, "plugin": rec.name, "instanceID": rec.instanceID, "inConfig": tool is not None,
                     "drifted": bool(drift), "driftedFields": drift, "error": error,
                     "statusInState": rec.resourceStatus, "statusNow": live, "options": rec.options})
    if json_out:
        render.print_json(rows)
        return 0
    if not rows:
        render.console.print("The state is empty.")
        return 0
    table = Table(title=f"dtm status: {ws.store.description}")
    for col in ("tool", "in config", "drifted", "detail"):
        table.add_column(col)
    for r in rows:
        detail = r["error"] or (", ".join(r["driftedFields"]) if r["drifted"] else "in sync")
        table.add_row(r["key"], "yes" if r["inConfig"] else "no",
                      Text("yes", "yellow") if r["drifted"] else Text("no", "green"), detail)
    render.console.print(table)
    return 0


def _unreadable(tool: ToolSpec, records: Mapping[str, StateRecord]) -> str:
    """Why the read path did not read a tool in config and state: its options reference an output not known."""
    try:
        resolve(tool.options, record_outputs(records))
    except DtmError as exc:
        return str(exc)
    return "its live status was not read"


SAMPLE = """\
# A dtm config, in DevStream's format:
#   https://github.com/devstream-io/devstream/blob/main/docs/core-concepts/config.md
# `dtm validate -f FILE` checks it; `dtm show config -p PLUGIN` lists a plugin's options.
config:
  state:
    backend: prefect            # the default: one Prefect artifact per resource, on the server at
    options:                    # PREFECT_API_URL (or dtm's local server). For a YAML file beside the config:
      name: my-toolchain        # backend: local, options: {stateFile: devstream.state}

vars:
  greeting: hello

tools:
- name: file
  instanceID: readme
  options:
    path: out/README.md
    content: "[[ greeting ]] from dtm"
- name: noop
  instanceID: announce
  dependsOn: [file.readme]
  options:
    triggers:
      readme: ${{ file.readme.outputs.sha256 }}
"""


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, get_args(annotation)))
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and get_origin(annotation) in (Union, UnionType):
        return " | ".join(_type_name(a) for a in args) + " (optional)"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for t in (annotation, *get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _model_sample(model: type[BaseModel], indent: str = "  ") -> str:
    """The options of a model as commented YAML keys, nested models indented under their key."""
    lines = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        default = "required" if info.is_required() else f"default {info.get_default(call_default_factory=True)!r}"
        desc = (info.description or "").strip()
        lines.append(f"{indent}{key}:   # {_type_name(info.annotation)}, {default}. {desc}".rstrip())
        if (sub := _nested_model(info.annotation)) is not None:
            lines.append(_model_sample(sub, indent + "  "))
    return "\n".join(lines)


def show_config(*, plugin: str | None = None) -> int:
    """Print a sample config, or the options of one plugin."""
    if plugin is None:
        print(SAMPLE, end="")
        return 0
    cls = default_registry().plugin_class(plugin)
    print(f"# {plugin}: {cls.description or cls.__doc__ or ''}".strip())
    print(f"# `dtm import KEY ID` takes as ID: {cls.import_id or 'nothing, this plugin cannot import resources'}")
    print(f"- name: {plugin}\n  instanceID: default\n  options:")
    print(_model_sample(cls.Options, "    "))
    return 0


def list_plugins(*, regex: str | None = None) -> int:
    registry = default_registry()
    try:
        pattern = re.compile(regex) if regex else None
    except re.error as exc:
        raise DtmError(f"--filter {regex!r} is not a regular expression: {exc}") from None
    table = Table(title="dtm plugins")
    for col in ("plugin", "description", "provided by"):
        table.add_column(col)
    for name in registry.names():
        if pattern and not pattern.search(name):
            continue
        try:
            description = registry.plugin_class(name).description
        except DtmError as exc:
            description = f"[broken] {exc}"
        table.add_row(name, description, registry.source(name))
    render.console.print(table)
    return 0


def force_unlock(*, config_path: Path) -> int:
    ws = open_workspace(config_path)
    holder = ws.store.force_unlock()
    if holder is None:
        render.console.print(f"{ws.store.description} was not locked.")
    else:
        # A holder's record is a dict for dtm, never for the user: say who it was, or that nobody said.
        who = describe_holder(holder) if holder else "a holder that left no record of itself"
        render.console.print(f"Released the lock of {ws.store.description}, held by {who}.")
    return 0


def version() -> int:
    render.console.print(f"dtm {__version__}")
    return 0
