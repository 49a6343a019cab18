"""The commands that plan and change things: apply, plan, verify, delete, destroy.

Each is a plain function returning an exit code, so tests can call it directly. Planning happens here,
with the state locked, before any Prefect flow starts: a plan with no changes never starts Prefect at all.
The confirmed plan is handed to the flow (not as a parameter), which runs it as one flow run.
"""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path
from typing import TextIO, cast

from devstream.cli import plans, render
from devstream.cli.workspace import open_workspace
from devstream.engine import Workspace
from devstream.errors import ChangesFailed, DtmError, RunInterrupted
from devstream.executor import ClientFactory
from devstream.plan import Plan, plan_delete, plan_destroy
from devstream.summary import RunSummary

__all__ = ["apply", "delete", "destroy", "execute_plan", "plan", "verify"]


class _AnswerLine:
    """The terminal's next line, read so that a Ctrl-C is acted on whenever it comes.

    `input()` can miss one: a Ctrl-C that lands as the prompt appears, after Python last looked for signals
    and before its read of the terminal starts, is noted but not acted on until a key is pressed (twice in CI,
    where a thread dump showed dtm waiting in input()). Waiting for the line in 0.1 s slices of select() lets
    Python look in between. Like `input()`: the line without its newline, EOFError at Ctrl-D."""

    def readline(self) -> str:
        while not select.select([sys.stdin], [], [], 0.1)[0]:
            pass
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.removesuffix("\n")


def _confirm(plan: Plan, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise DtmError("refusing to change anything without confirmation: stdin is not a terminal; "
                       "review the plan with `dtm plan` and pass -y to apply it")
    from rich.prompt import Confirm

    try:
        stream = cast(TextIO, _AnswerLine()) if os.name == "posix" else None  # select() takes no console on Windows
        return Confirm.ask(f"Do you want to {plan.operation} these changes?", default=False, console=render.console,
                           stream=stream)
    except EOFError:  # Ctrl-D: no answer is a no
        render.console.print()
        return False
    except KeyboardInterrupt:  # Ctrl-C: the CLI exits 130
        render.console.print("\nInterrupted: nothing changed.")
        raise


def _run_flow(ws: Workspace, plan: Plan, parallelism: int, retry_delay: float | None,
              json_out: bool = False) -> RunSummary:
    from devstream.cli.prefect_setup import cli_flow

    with cli_flow(ws, plan, json_out=json_out) as stop:
        from devstream.flows.run import run_confirmed

        # The workspace (its records, its held lock) and the confirmed plan go to the flow as they are,
        # not as flow-run parameters: see flows/run.py. A flow that ends Failed (changes failed) raises
        # ChangesFailed here; one that ends Cancelled (Ctrl-C) raises RunInterrupted.
        return run_confirmed(ws, plan, parallelism=parallelism, retry_delay=retry_delay, stop=stop)


def execute_plan(ws: Workspace, plan: Plan, *, yes: bool, parallelism: int, json_out: bool,
                 retry_delay: float | None = None) -> int:
    """Show `plan`, ask for confirmation unless `yes`, run it as one flow and print the summary.

    The caller holds the state lock and made `plan` from `ws.records()` under it (`dtm apply`, `delete`,
    `destroy`, and `dtm apply PLAN_FILE` in plans.py). Returns the exit code: 0 done (or nothing to do),
    1 declined or a change failed, 130 interrupted.
    """
    if not json_out:
        render.print_plan(plan)
    if plan.empty:
        _seal(ws, json_out)
        if json_out:
            render.print_json({"plan": plan.as_json(), "results": []})
        return 0
    if not _confirm(plan, yes or json_out):
        render.console.print("Nothing changed.")
        return 1
    _seal(ws, json_out)
    try:
        summary = _run_flow(ws, plan, parallelism, retry_delay, json_out)
        code = 0
    except ChangesFailed as failed:
        summary, code = failed.summary, 1
    except RunInterrupted as interrupted:
        summary, code = interrupted.summary, 130
    from devstream.cli.prefect_setup import flow_run_link

    link = flow_run_link(summary.flow_run_id)
    if json_out:
        render.print_json({"plan": plan.as_json(), "results": summary.model_dump()["results"], "ok": summary.ok,
                           **link, **({"interrupted": True} if summary.interrupted else {})})
    else:
        render.print_summary(summary)
        render.print_run_link(link)
    return code


def _seal(ws: Workspace, json_out: bool) -> None:
    """Rewrite the records that hold secrets in clear (DevStream v0.12 wrote tokens so) with fingerprints."""
    devstream = sorted(r.key for k, r in ws.records().items() if k in ws.view.from_devstream)
    sealed = [k for k in ws.seal_records() if k not in devstream]
    if devstream and not json_out:
        render.console.print(f"Migrated {len(devstream)} state record(s) written by DevStream v0.12.1 to dtm's form "
                             f"(its injected options.instanceID dropped, secrets as fingerprints, the status as "
                             f"read now): {', '.join(devstream)}.")
    if sealed and not json_out:
        render.console.print(f"Rewrote {len(sealed)} state record(s) that held secrets in clear (as DevStream "
                             f"wrote them) with fingerprints only: {', '.join(sealed)}.")


def _unsealed_notice(ws: Workspace) -> None:
    view = ws.view
    if view.from_devstream:
        render.err_console.print(f"Note: {len(view.from_devstream)} state record(s) were written by DevStream v0.12.1; "
                                 f"the next apply migrates them to dtm's form.")
    if view.unsealed:
        render.err_console.print(f"Note: {len(view.unsealed)} state record(s) hold secrets in clear (as DevStream "
                                 f"wrote them); they are shown as fingerprints, and the next apply rewrites them so.")


def apply(*, config_path: Path, yes: bool = False, parallelism: int = 10, targets: list[str] | None = None,
          json_out: bool = False, retry_delay: float | None = None, lock_timeout: float = 0,
          excludes: list[str] | None = None, client_factory: ClientFactory | None = None) -> int:
    ws = open_workspace(config_path, client_factory)
    unknown = [t for t in targets or [] if t not in ws.config.by_key]
    if unknown:
        raise DtmError(f"--target {', '.join(unknown)}: no such tool in the config; "
                       f"targets are name.instanceID, e.g. {ws.config.tools[0].key}")
    with ws.store.lock("dtm apply", timeout=lock_timeout):
        the_plan = ws.current_plan(parallelism)
        if targets:
            the_plan = the_plan.only(targets)
        the_plan = plans.excluded(ws, the_plan, excludes, json_out)
        return execute_plan(ws, the_plan, yes=yes, parallelism=parallelism, json_out=json_out, retry_delay=retry_delay)


def delete(*, config_path: Path, yes: bool = False, force: bool = False, parallelism: int = 10,
           json_out: bool = False, lock_timeout: float = 0, excludes: list[str] | None = None,
           client_factory: ClientFactory | None = None) -> int:
    ws = open_workspace(config_path, client_factory)
    with ws.store.lock("dtm delete", timeout=lock_timeout):
        the_plan = plan_delete(ws.config, ws.records(), ws.stored_form, force=force)
        the_plan = plans.excluded(ws, the_plan, excludes, json_out)
        return execute_plan(ws, the_plan, yes=yes, parallelism=parallelism, json_out=json_out)


def destroy(*, config_path: Path, yes: bool = False, parallelism: int = 10, json_out: bool = False,
            lock_timeout: float = 0, force: bool = False, excludes: list[str] | None = None,
            client_factory: ClientFactory | None = None) -> int:
    ws = open_workspace(config_path, client_factory)
    with ws.store.lock("dtm destroy", timeout=lock_timeout):
        the_plan = plans.force_destroy_plan(ws) if force else plan_destroy(ws.records())
        the_plan = plans.excluded(ws, the_plan, excludes, json_out)
        return execute_plan(ws, the_plan, yes=yes, parallelism=parallelism, json_out=json_out)


def plan(*, config_path: Path, json_out: bool = False, detailed_exitcode: bool = False, parallelism: int = 10,
         excludes: list[str] | None = None, out: Path | None = None, client_factory: ClientFactory | None = None
         ) -> int:
    """Show what apply would do. Exit 0; with --detailed-exitcode, 2 when there are changes. `out`: save it for
    `dtm apply PLANFILE`."""
    ws = open_workspace(config_path, client_factory)
    the_plan = plans.excluded(ws, ws.current_plan(parallelism), excludes, json_out)
    if out is not None:
        plans.save_plan(ws, the_plan, out, excludes)
    render.print_json(the_plan.as_json()) if json_out else render.print_plan(the_plan)
    _unsealed_notice(ws)
    return 2 if detailed_exitcode and not the_plan.empty else 0


def verify(*, config_path: Path, parallelism: int = 10, client_factory: ClientFactory | None = None) -> int:
    """Exit 0 when the toolchain matches the config, 2 when changes are pending."""
    the_plan = open_workspace(config_path, client_factory).current_plan(parallelism)
    if the_plan.empty:
        render.console.print("[green]Verify succeeded:[/] config, state and live resources are in sync.")
        return 0
    render.print_plan(the_plan)
    render.console.print("[yellow]Verify found pending changes;[/] run `dtm apply` to make them.")
    return 2
