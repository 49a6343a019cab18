"""What the CLI does around Prefect: the one way it runs a flow (`cli_flow`): quieter console logs, the server
chosen, a progress bar for long runs, the server watched, Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from devstream.cli import render
from devstream.cli.render import console
from devstream.cli.workspace import use_prefect_server
from devstream.engine import Workspace
from devstream.plan import Plan

CLIENT_MAX_RETRIES = 7


def quiet_console_logs() -> None:
    """Keep Prefect's per-task INFO lines off the terminal; they still reach the Prefect UI.

    Prefect reads its logging config when it is first imported, so this must run before that; a user's
    own PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL wins; `dtm --debug` keeps them.
    """
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if render.debug else "WARNING")


def patient_client() -> None:
    """Give a busy Prefect server more time than Prefect's client does by default.

    Prefect's client retries 429, 502, 503 and dropped connections 5 times (2 + 4 + ... + 32 s); a
    SQLite server under ten concurrent 100-tool applies stayed busy longer than that, and 2 of 10 runs
    failed on a 503 for a task's concurrency slot. 7 retries wait up to 254 s. A server that is gone
    rather than busy does not hold a run that long: dtm's server watch ends it (see server_watch.py).
    A user's own PREFECT_CLIENT_MAX_RETRIES wins; like every setting, set before prefect is imported.
    """
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", str(CLIENT_MAX_RETRIES))


@contextmanager
def cli_flow(ws: Workspace, plan: Plan | None = None, *, json_out: bool = False) -> Iterator[threading.Event]:
    """The one way a CLI command runs a flow (in this process, handed `ws` itself). Enter it before importing
    `devstream.flows`: Prefect is made ready whatever the state backend (console logs quieted, the server
    chosen by `use_prefect_server`, the CLI's run settings). A flow that makes the changes of `plan` also
    gets a progress bar, a watch of its server (see cli/server_watch.py) and Ctrl-C, which sets the event
    yielded: the flow then starts no further change."""
    stop = threading.Event()
    quiet_console_logs()
    patient_client()
    url = use_prefect_server()
    with cli_run_settings():
        if plan is None:
            yield stop
            return
        from devstream.cli.server_watch import watching

        # A server that goes away ends the run within a bound (see server_watch.py), not minutes later.
        with progress(ws, len(plan.changes)), watching(ws, plan, url, json_out), ctrl_c_stops(stop):
            yield stop


@contextmanager
def cli_run_settings() -> Iterator[None]:
    """Prefect settings for a flow the CLI runs in its own process.

    A sync flow joins its heartbeat thread on exit, which costs up to 1 s per run. Heartbeats let a server
    notice a flow run whose process died; a CLI user sees that at once in the terminal, so CLI runs skip
    them unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY is set. Runs started by workers keep Prefect's default.
    """
    if "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" in os.environ:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def progress(ws: Workspace, total: int) -> Iterator[None]:
    """A progress bar fed by the workspace as each change ends (only on a terminal)."""
    if not console.is_terminal:
        yield
        return
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task_id = bar.add_task("changes", total=total)
    with bar, ws.progress.listening(lambda _key, _result: bar.advance(task_id)):
        yield


def flow_run_link(flow_run_id: str | None) -> dict[str, str | None]:
    """The run's id and its address in the Prefect UI (None when Prefect knows no UI, e.g. ephemeral)."""
    if flow_run_id is None:
        return {"flow_run_id": None, "flow_run_url": None}
    from prefect.utilities.urls import url_for

    return {"flow_run_id": str(flow_run_id), "flow_run_url": url_for("flow-run", obj_id=str(flow_run_id))}


@contextmanager
def ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C of a run sets `stop`: no further change starts, those in flight finish and are recorded,
    and the CLI prints what finished and what did not. From then on Prefect's console lines are hushed (they
    still reach the UI), so that summary is all the terminal shows. A second Ctrl-C interrupts at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; elsewhere Ctrl-C is not ours to handle
        return
    hushed: list[tuple[logging.Handler, int]] = []

    def on_ctrl_c(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from prefect.logging.handlers import PrefectConsoleHandler

        for handler in logging.getLogger().handlers:
            if isinstance(handler, PrefectConsoleHandler):
                hushed.append((handler, handler.level))
                handler.setLevel(logging.CRITICAL + 1)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for handler, level in hushed:
            handler.setLevel(level)
