"""`dtm state list|show|rm|mv` and `dtm output`: look at and repair the state without touching any resource.

A record is named as the config names its tool, `name.instanceID`; DevStream's state key `name_instanceID`
is accepted too. Records are read through the workspace, so a secret a record holds in clear (DevStream
wrote tokens so) is shown as its fingerprint, like everywhere else. `rm` and `mv` hold the state's lock.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table
from rich.text import Text

from devstream.cli import render
from devstream.cli.workspace import open_workspace
from devstream.config.checks import RFC1123_RULE, is_rfc1123_subdomain
from devstream.engine import Workspace
from devstream.errors import DtmError
from devstream.executor import ClientFactory
from devstream.state import StateRecord
from devstream.state.base import ChangeNote

__all__ = ["find_record", "import_resource", "output", "state_list", "state_mv", "state_rm", "state_show"]


def find_record(records: Mapping[str, StateRecord], key: str) -> StateRecord:
    """The record `key` names (`name.instanceID` or `name_instanceID`); a DtmError listing near misses."""
    for rec in records.values():
        if key in (rec.key, rec.state_key):
            return rec
    known = sorted(r.key for r in records.values())
    dotted = key if "." in key else ".".join(key.rpartition("_")[::2])
    near = difflib.get_close_matches(dotted, known, n=3)
    hint = f"; did you mean {' or '.join(near)}?" if near else (
        f"; the state holds {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}" if known
        else "; the state is empty")
    raise DtmError(f"{key}: no such record in the state{hint} (records are named name.instanceID)")


def _record_json(rec: StateRecord) -> dict[str, Any]:
    return rec.model_dump(mode="json")


def state_list(*, config_path: Path, json_out: bool = False) -> int:
    """Every record in the state: its tool, plugin, whether the config has it, what it depends on."""
    ws = open_workspace(config_path)
    records = sorted(ws.records().values(), key=lambda r: r.key)
    rows: list[dict[str, Any]] = [
        {"key": r.key, "plugin": r.name, "instanceID": r.instanceID, "inConfig": r.key in ws.config.by_key,
         "dependsOn": r.dependsOn, "outputs": sorted(r.outputs)} for r in records]
    if json_out:
        render.print_json(rows)
        return 0
    if not rows:
        render.console.print(f"The state ({ws.store.description}) is empty.")
        return 0
    table = Table(title=f"dtm state: {ws.store.description}")
    for col in ("tool", "plugin", "in config", "depends on", "outputs"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["key"], row["plugin"], "yes" if row["inConfig"] else Text("no", "yellow"),
                      ", ".join(row["dependsOn"]) or "-", ", ".join(row["outputs"]) or "-")
    render.console.print(table)
    return 0


def state_show(*, config_path: Path, key: str, json_out: bool = False) -> int:
    """One record as the state holds it, secrets as fingerprints."""
    ws = open_workspace(config_path)
    rec = find_record(ws.records(), key)
    if json_out:
        render.print_json(_record_json(rec))
    else:
        print(f"# {rec.key} (state key {rec.state_key}) in {ws.store.description}")
        print(yaml.safe_dump(_record_json(rec), sort_keys=False, allow_unicode=True), end="")
    return 0


def _note(command: str) -> ChangeNote:
    return ChangeNote(action=command)


def state_rm(*, config_path: Path, keys: list[str], lock_timeout: float = 0) -> int:
    """Forget records without deleting their resources."""
    ws = open_workspace(config_path)
    with ws.store.lock("dtm state rm", timeout=lock_timeout):
        records = ws.records(reload=True)
        chosen = [find_record(records, key) for key in keys]  # all found, or nothing is removed
        for rec in chosen:
            ws.store.delete(rec.state_key, _note("state rm"))
        ws.store.flush()
    for rec in chosen:
        still = " while the config has it, the next plan creates it (a plugin adopts what exists where it can)" \
            if rec.key in ws.config.by_key else ""
        render.console.print(f"Removed {rec.key} from the state; the resource itself is left as it is{still}.")
    return 0


def _parse_key(key: str) -> tuple[str, str]:
    # Plugin names have no dots and instanceIDs no underscores: `name.instanceID` or DevStream's `name_instanceID`.
    name, sep, instance = key.partition(".") if "." in key else key.rpartition("_")
    if not sep or not name or not instance:
        raise DtmError(f"{key}: name a tool as name.instanceID")
    if not is_rfc1123_subdomain(instance):
        raise DtmError(f"{key}: the instanceID {instance!r} must be {RFC1123_RULE}")
    return name, instance


def state_mv(*, config_path: Path, old: str, new: str, lock_timeout: float = 0) -> int:
    """Rename a record (after an instanceID changed in the config), so that nothing is deleted and re-created."""
    ws = open_workspace(config_path)
    name, instance = _parse_key(new)
    with ws.store.lock("dtm state mv", timeout=lock_timeout):
        # The records as stored, not as the workspace shows them: one DevStream wrote stays in its form, so the
        # next apply still knows to migrate it (see devstream/state/migrate.py).
        records = ws.store.read()
        rec = find_record(records, old)
        if name != rec.name:
            raise DtmError(f"{old} -> {new}: a record keeps its plugin; {rec.key} is a {rec.name} record, so its new "
                           f"name is {rec.name}.{instance}")
        moved = _renamed(rec, instance)
        if moved.state_key in records:
            raise DtmError(f"{new}: the state already holds a record of that name; remove it first "
                           f"(`dtm state rm {moved.key}`) if it is the one to forget")
        # The new record first: a failure in between leaves both (visible in the plan, `dtm state rm` mends
        # it), never neither (which would lose what dtm knows it made).
        ws.store.put(moved, _note("state mv"))
        ws.store.delete(rec.state_key, _note("state mv"))
        for other in records.values():
            if rec.key in other.dependsOn and other.state_key != rec.state_key:
                deps = sorted({moved.key if d == rec.key else d for d in other.dependsOn})
                ws.store.put(other.model_copy(update={"dependsOn": deps}), _note("state mv"))
        ws.store.flush()
    hint = "" if moved.key in ws.config.by_key else f" (the config has no tool {moved.key} yet)"
    render.console.print(f"Moved {rec.key} to {moved.key}{hint}.")
    return 0


def _renamed(rec: StateRecord, instance: str) -> StateRecord:
    options = dict(rec.options)
    if options.get("instanceID") == rec.instanceID:  # DevStream injected it into every tool's options
        options["instanceID"] = instance
    return rec.model_copy(update={"instanceID": instance, "options": options})


def output(*, config_path: Path, key: str | None = None, json_out: bool = False) -> int:
    """Tools' outputs from state: all of them, one tool's, or one value (`name.instanceID.outputs.NAME`)."""
    ws = open_workspace(config_path)
    records = ws.records()
    if key is None:
        everything = {r.key: r.outputs for r in sorted(records.values(), key=lambda r: r.key)}
        return _print_outputs(everything, json_out, ws)
    tool_key, sep, name = key.partition(".outputs.")
    rec = find_record(records, tool_key)
    if not sep:
        return _print_outputs({rec.key: rec.outputs}, json_out, ws)
    if name not in rec.outputs:
        have = ", ".join(sorted(rec.outputs)) or "none"
        raise DtmError(f"{key}: {rec.key} has no output {name!r} in the state (it has: {have})")
    value = rec.outputs[name]
    if json_out:
        render.print_json(value)
    else:  # the value itself, as a script wants it
        print(value if isinstance(value, str) else json.dumps(value, default=str))
    return 0


def _print_outputs(outputs: dict[str, dict[str, Any]], json_out: bool, ws: Workspace) -> int:
    if json_out:
        render.print_json(outputs)
        return 0
    if not any(outputs.values()):
        render.console.print(f"No outputs in the state ({ws.store.description}).")
        return 0
    table = Table(title="dtm outputs")
    for col in ("reference", "value"):
        table.add_column(col, overflow="fold")
    for tool, values in outputs.items():
        for name, value in sorted(values.items()):
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            table.add_row(f"${{{{ {tool}.outputs.{name} }}}}", Text(shown))
    render.console.print(table)
    return 0


def import_resource(*, config_path: Path, key: str, resource_id: str, owned: bool = False,
                    lock_timeout: float = 0, client_factory: ClientFactory | None = None) -> int:
    """Adopt an existing resource as a tool of the config: the plugin reads it by `resource_id`, and the record
    is written as if dtm had created it; the next plan shows only real differences."""
    ws = open_workspace(config_path, client_factory)
    tool = ws.config.by_key.get(key) or next((t for t in ws.config.tools if t.state_key == key), None)
    if tool is None:
        known = [t.key for t in ws.config.tools]
        near = difflib.get_close_matches(key, known, n=3)
        hint = f"did you mean {' or '.join(near)}?" if near else f"the config has {', '.join(known[:10])}"
        raise DtmError(f"{key}: no such tool in the config; import adopts a resource as a tool the config "
                       f"describes (name.instanceID): {hint}")
    with ws.store.lock("dtm import", timeout=lock_timeout):
        ws.records(reload=True)
        record = ws.executor.import_tool(tool, resource_id, owned=owned)
        ws.store.flush()
    kept = ("dtm owns it now: delete and destroy remove it" if owned else
            "dtm did not create it, so delete and destroy leave it in place (--owned says otherwise)")
    render.console.print(f"Imported {resource_id} as {record.key}; {kept}. `dtm plan` shows what differs from "
                         f"the config.")
    return 0
