"""How the CLI shows plans, results, statuses and errors (rich)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from devstream.errors import ConfigError, DtmError
from devstream.jsonish import diff_items

if TYPE_CHECKING:  # the CLI imports this module for every command, `dtm --help` too: no pydantic models here
    from devstream.plan import Plan
    from devstream.summary import RunSummary

__all__ = ["RESULT_STYLE", "console", "err_console", "print_error", "print_json", "print_plan", "print_run_link",
           "print_summary"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
# `dtm --debug`: errors come with their tracebacks.
debug = False

# By plan.Action's values (a StrEnum: its members are these strings).
_STYLE = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
# A change's result, and a drift remediation's (devstream/cli/drift.py).
RESULT_STYLE = {"succeeded": "green", "unchanged": "dim", "failed": "bold red", "skipped": "yellow"}


def print_json(data: Any) -> None:
    # Plain print: rich would wrap long lines, and scripts parse this.
    print(json.dumps(data, indent=2, default=str))


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def print_plan(plan: Plan) -> None:
    """A coloured diff: one line per change, and for updates the fields that differ."""
    from devstream.plan import Action  # loaded already: the plan was made with it

    if plan.empty:
        console.print("[green]No changes.[/] The toolchain matches the config; there is nothing to do.")
        return
    console.print(f"[bold]dtm {plan.operation}[/] will make these changes:\n")
    lines: list[Text] = []
    for c in plan.changes:
        sign, colour = _STYLE[c.action]
        lines.append(Text.assemble((f"  {sign} {c.action.value:<6} ", colour), (c.key, "bold"),
                                   (f"  ({c.reason})", "dim")))
        if c.action is Action.UPDATE and isinstance(c.before, dict) and isinstance(c.after, dict):
            lines.extend(Text.assemble("        ", (path, "cyan"), ": ", (_short(old), "red"), " -> ",
                                       (_short(new), "green"))
                         for path, old, new in diff_items(c.before, c.after)[:20])
    # One print of all the lines: rich's cost per print is most of a line's (5,000 lines: 0.8 s printed one by
    # one, 0.4 s at once), and each line still wraps on its own.
    console.print(Text("\n").join(lines))
    n = plan.counts()
    console.print(f"\nPlan: [green]{n['create']} to create[/], [yellow]{n['update']} to update[/], "
                  f"[red]{n['delete']} to delete[/].")


def print_summary(summary: RunSummary) -> None:
    if summary.interrupted:
        console.print("[bold yellow]Interrupted[/] (Ctrl-C): no change started after it; those in flight finished.")
    from rich.table import Table

    shown = [r for r in summary.results if r.result != "succeeded"] if len(summary.results) > 30 else summary.results
    if shown:
        table = Table(title=f"dtm {summary.operation}: results", show_lines=False)
        for col in ("tool", "action", "result", "seconds", "message"):
            table.add_column(col)
        for r in shown:
            table.add_row(r.key, r.action, Text(r.result, RESULT_STYLE[r.result]),
                          "" if r.seconds is None else f"{r.seconds:.2f}", r.message)
        console.print(table)
    if debug:
        for r in summary.of("failed"):
            if r.traceback:
                err_console.print(f"{r.key}: {r.action} failed; the plugin's traceback:", style="bold red")
                err_console.print(r.traceback, markup=False, highlight=False, end="")
    took = f" in {summary.seconds:.1f} s" if summary.seconds is not None else ""
    if summary.interrupted:
        not_run = len(summary.of("skipped"))
        kinds = ", ".join(f"{len(summary.of(r))} {r}" for r in ("succeeded", "unchanged", "failed") if summary.of(r))
        console.print(f"[yellow]{summary.operation.capitalize()} interrupted[/]: "
                      f"{len(summary.results) - not_run} finished ({kinds or 'none'}), {not_run} not run{took}. "
                      f"What finished is in the state; run `dtm {summary.operation}` again for the rest.")
        return
    colour = "green" if summary.ok else "red"
    console.print(f"[{colour}]{summary.operation.capitalize()} {'complete' if summary.ok else 'failed'}[/]: "
                  f"{summary.line()}{took}.")


def print_run_link(link: dict[str, str | None]) -> None:
    """Where the run is in the Prefect UI (its id when Prefect knows no UI address)."""
    if link["flow_run_url"]:
        console.print(f"Prefect flow run: {link['flow_run_url']}", soft_wrap=True)
    elif link["flow_run_id"]:
        console.print(f"Prefect flow run id: {link['flow_run_id']}", soft_wrap=True)


def print_error(exc: DtmError) -> None:
    if isinstance(exc, ConfigError) and len(exc.issues) > 1:
        err_console.print(f"[bold red]Error:[/] the config has {len(exc.issues)} problems:")
        for issue in exc.issues:
            err_console.print(Text.assemble(("  - ", "red"), str(issue)))
        return
    err_console.print(Text.assemble(("Error: ", "bold red"), str(exc)))
