"""Saved plans and exclusions on the command line: `dtm plan -o`, `dtm apply PLANFILE`, `--exclude`,
and `dtm destroy --force`.

run.py plans and applies; these are the steps it calls around that: narrowing a plan by `--exclude`,
writing a plan to a file, and applying a file's plan after checking that config and state are still
the ones it was made from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from devstream.cli import render
from devstream.cli.workspace import open_workspace
from devstream.engine import Workspace
from devstream.errors import DtmError
from devstream.exclude import check_keys, exclude
from devstream.graph import Graph
from devstream.plan import Plan, plan_destroy
from devstream.saved_plan import SavedPlan, config_fingerprint, state_fingerprint
from devstream.state.base import StateRecord

__all__ = ["apply_saved", "excluded", "force_destroy_plan", "save_plan"]


def excluded(ws: Workspace, plan: Plan, keys: Sequence[str] | None, json_out: bool = False) -> Plan:
    """`plan` without the `--exclude` tools and the changes that need them; says what was left out and why
    (on stderr, so that --json output stays one document)."""
    if not keys:
        return plan
    known = set(ws.config.by_key) | {r.key for r in ws.records().values()}
    example = ws.config.tools[0].key if ws.config.tools else None
    narrowed, left_out = exclude(plan, check_keys(keys, known, example))
    if left_out:
        lines = "\n".join(f"  {e.key} ({e.reason})" for e in left_out)
        render.err_console.print(f"Excluded from this {plan.operation}:\n{lines}", markup=False, highlight=False)
    else:
        render.err_console.print(f"--exclude {', '.join(keys)}: nothing to leave out, no change was planned for "
                                 f"{'it' if len(keys) == 1 else 'them'}.", markup=False, highlight=False)
    return narrowed


def save_plan(ws: Workspace, plan: Plan, path: Path, excludes: Sequence[str] | None) -> None:
    """Write `plan` (made from `ws.records()`) to `path` with the fingerprints `apply_saved` checks."""
    saved = SavedPlan.make(plan, config_path=ws.config.path, config_fp=config_fingerprint(ws.config, ws.stored_form),
                           state_description=ws.store.description, state_fp=state_fingerprint(ws.records()),
                           excluded=excludes or ())
    saved.write(path)
    render.err_console.print(f"Saved the plan to {path}; `dtm apply {path}` makes exactly these changes.",
                             markup=False, highlight=False)


def apply_saved(*, plan_path: Path, config_path: Path | None, parallelism: int, json_out: bool,
                lock_timeout: float) -> int:
    """Apply the plan saved at `plan_path` exactly, or refuse when config or state changed since."""
    from devstream.cli.run import execute_plan

    saved = SavedPlan.read(plan_path)
    config_path = config_path or Path(saved.config_path)
    ws = open_workspace(config_path)
    again = f"make the plan again (`dtm plan -f {config_path} -o {plan_path}`), review it, and apply that"
    if config_fingerprint(ws.config, ws.stored_form) != saved.config_fingerprint:
        raise DtmError(f"{plan_path}: the config ({config_path}) changed since this plan was made, so the plan no "
                       f"longer says what applying it would do; {again}")
    with ws.store.lock("dtm apply", timeout=lock_timeout):
        if state_fingerprint(ws.records(reload=True)) != saved.state_fingerprint:
            raise DtmError(f"{plan_path}: the state ({ws.store.description}) changed since this plan was made "
                           f"(another apply, or a change by hand), so applying it could undo that; {again}")
        # The plan was reviewed when it was saved: applying the file is the confirmation, as in Terraform.
        return execute_plan(ws, saved.plan, yes=True, parallelism=parallelism, json_out=json_out)


def force_destroy_plan(ws: Workspace) -> Plan:
    """`destroy --force`: everything in state, and the config's tools that are not in state too (their
    delete is called all the same; a plugin takes a resource already gone as deleted)."""
    records = dict(ws.records())
    graph = Graph.from_tools(ws.config.tools)
    for tool in ws.config.tools:
        if tool.state_key not in records:
            records[tool.state_key] = StateRecord(name=tool.name, instanceID=tool.instanceID,
                                                  dependsOn=sorted(set(tool.dependsOn) | graph.deps[tool.key]),
                                                  options=ws.stored_form(tool.name, tool.options))
    return plan_destroy(records)
