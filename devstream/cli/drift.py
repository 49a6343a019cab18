"""`dtm drift`: run the drift check flow once, print what it found, exit 0 / 2 / 1.

Like the other commands, a plain function returning an exit code. Prefect is imported only when the
command runs, so `dtm --help` and the look-only commands stay fast.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from rich.table import Table
from rich.text import Text

from devstream.cli import render
from devstream.cli.workspace import open_workspace
from devstream.drift import DriftKind, DriftReport
from devstream.errors import DriftCheckFailed
from devstream.executor import ClientFactory

__all__ = ["drift", "print_report"]

_KIND_STYLE = {
    DriftKind.IN_SYNC: "green", DriftKind.DRIFTED: "yellow", DriftKind.MISSING: "bold yellow",
    DriftKind.CONFIG_CHANGED: "cyan", DriftKind.NOT_IN_CONFIG: "magenta", DriftKind.ERROR: "bold red",
}
# Beyond this many resources the table lists only those that need attention.
_ALL_ROWS_UP_TO = 30


def print_report(report: DriftReport) -> None:
    """A table of the resources (those in sync left out of long reports), then one summary line."""
    if not report.resources:
        render.console.print("The state is empty: nothing to check.")
        return
    rows = report.resources if len(report.resources) <= _ALL_ROWS_UP_TO else [
        r for r in report.resources if r.kind is not DriftKind.IN_SYNC]
    remediated = any(r.remediation for r in report.resources)
    if rows:
        table = Table(title=f"dtm drift: {report.state or report.config}")
        for col in ("tool", "status", "detail") + (("remediation",) if remediated else ()):
            table.add_column(col)
        for r in rows:
            cells: list[str | Text] = [r.key, Text(r.kind.value, _KIND_STYLE[r.kind]), r.message]
            if remediated:
                cells.append(Text(" ".join(filter(None, [r.remediation or "", r.remediation_message])),
                                  render.RESULT_STYLE.get(r.remediation or "", "")))
            table.add_row(*cells)
        render.console.print(table)
    code = report.exit_code()
    if code == 0:
        render.console.print(f"[green]No drift:[/] {report.line()}.")
    elif code == 2 and report.drifted_keys():
        hint = (" (re-applied; a new check should now be in sync)" if report.remediated_keys()
                else "; run `dtm apply` (or `dtm drift --remediate`) to put it back")
        render.console.print(f"[yellow]Drift found:[/] {report.line()}{hint}.")
    elif code == 2:
        # Only the config moved (or left): that is not drift, but the toolchain does not match the config.
        render.console.print(f"[yellow]Not in sync:[/] {report.line()}; review with `dtm plan`, then `dtm apply`.")
    else:
        render.console.print(f"[red]Drift check failed:[/] {report.line()}.")


def drift(*, config_path: Path, remediate: bool = False, json_out: bool = False, parallelism: int = 10,
          lock_timeout: float = 0, client_factory: ClientFactory | None = None) -> int:
    """Check every resource in state against the config and its live status.

    Exit 0 when everything is in sync; 2 when something drifted, went missing, changed in the config or
    left it, also after `--remediate` re-applied it (the remediated tools are listed); 1 when a read or a
    remediation failed. Only `--remediate` takes the state's lock (waiting up to `lock_timeout` seconds).
    """
    from devstream.cli.prefect_setup import cli_flow, flow_run_link

    ws = open_workspace(config_path, client_factory)
    # The flow is handed this workspace (same records, same re-entrant lock); a remediating check takes the
    # lock here first so that a busy state fails before the flow starts.
    lock: AbstractContextManager[None] = (
        ws.store.lock("dtm drift --remediate", timeout=lock_timeout) if remediate else nullcontext())
    with lock, cli_flow(ws):
        from devstream.flows.drift import check_workspace

        try:
            # A failed check's flow returns a Failed state, which a call like this raises as DriftCheckFailed.
            report = check_workspace(ws, config=str(config_path), remediate=remediate, parallelism=parallelism)
        except DriftCheckFailed as failed:
            report = failed.report
    link = flow_run_link(report.flow_run_id)
    if json_out:
        render.print_json({**report.as_json(), **link})
    else:
        print_report(report)
        render.print_run_link(link)
    return report.exit_code()
