"""A run whose Prefect server goes away ends within a bound, with its finished work kept.

Prefect's client gives a server that dropped its connections five retries (2 + 4 + ... + 32 s) on every
call, and each task of a run makes several calls: with the server gone, an apply of 40 slow tools was seen
running for minutes, and a prefect-backend run stayed up draining its queued events at 7 s each. So the
CLI watches the server while a flow runs (the probe is devstream/prefect_boundary/server_watch.py):

- every `PROBE_SECONDS` it asks the server's `/health` (no proxies); dtm's own local server counts as
  gone as soon as its process has ended;
- the server is gone when every probe for `GONE_AFTER_SECONDS` failed to connect (refused, reset), or for
  `SILENT_AFTER_SECONDS` got no answer at all (a busy server answers slowly; it is not cut off early);
- then no new change starts, the changes under way get `DRAIN_SECONDS` to finish (their state records are
  written as each one ends: the local state's journal, or the prefect state's artifact if the server
  takes it), and the run ends with exit 1: what finished, what did not run, and how to go on.

So a run ends at most GONE_AFTER_SECONDS + PROBE_SECONDS + DRAIN_SECONDS (about 45 s) after its server
went away. The process leaves through `os._exit`: Prefect's threads, still waiting on a server that is not
there, would otherwise keep it alive for minutes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstream.cli import render
from devstream.engine import Workspace
from devstream.errors import DtmError
from devstream.plan import Plan
from devstream.prefect_boundary.server_watch import ServerWatch, busy_answer, local_server_pid
from devstream.summary import ChangeResult, RunSummary

__all__ = ["DRAIN_SECONDS", "watching"]

DRAIN_SECONDS = 30.0


def _how_to_go_on(url: str, local: bool, operation: str, config: Path) -> str:
    again = f"`dtm {operation} -f {config}`"
    if local:
        return (f"The next {again} starts dtm's local Prefect server again (or `dtm server start`) and does "
                "what is left")
    return f"Once the Prefect server at {url} answers again, run {again} to do what is left"


def summary_after_loss(ws: Workspace, plan: Plan, still_running: set[str], why: str) -> RunSummary:
    """What the run did by the time it stopped: the changes that ended, and those that did not run."""
    results = []
    for change in plan.changes:
        ended = ws.progress.ended.get(change.key)
        if ended is not None:
            results.append(ChangeResult(key=change.key, action=change.action.value, result=ended))  # type: ignore[arg-type]
        elif change.key in still_running:
            results.append(ChangeResult(key=change.key, action=change.action.value, result="failed",
                                        message=f"still running when the run stopped ({why}); "
                                                "its result is unknown"))
        else:
            results.append(ChangeResult(key=change.key, action=change.action.value, result="skipped",
                                        message="not run: the Prefect server went away"))
    return RunSummary(operation=plan.operation, results=results)


@contextmanager
def watching(ws: Workspace, plan: Plan, url: str | None, json_out: bool = False,
             drain_seconds: float = DRAIN_SECONDS) -> Iterator[None]:
    """Run the block (the flow) under a watch of the server at `url`; see the module's docstring."""
    if not url:
        yield  # Prefect's ephemeral server lives inside this process: it cannot go away alone
        return
    pid = local_server_pid(url)

    def gone(why: str) -> None:
        reason = f"the Prefect server at {url} went away ({why})"
        still_running = ws.executor.stop_changes(reason, wait=drain_seconds)
        # Prefect's own complaints about the lost server would bury the one message that matters.
        logging.disable(logging.CRITICAL)
        summary = summary_after_loss(ws, plan, still_running, reason)
        _flush_state(ws, still_running)
        done = len(summary.of("succeeded")) + len(summary.of("unchanged"))
        message = (f"{reason} during dtm {plan.operation}: {done} of {len(plan.changes)} changes finished and are "
                   f"in state; {len(summary.of('skipped'))} did not run"
                   + (f", {len(still_running)} were still running (their result is unknown; the next run reads "
                      "them again)" if still_running else "")
                   + f". {_how_to_go_on(url, pid is not None, plan.operation, ws.config.path)}.")
        if json_out:
            render.print_json({"plan": plan.as_json(), "results": summary.model_dump()["results"], "ok": False,
                               "error": message})
        else:
            render.print_summary(summary)
        render.err_console.print(f"[bold red]Error:[/] {message}", highlight=False)
        render.console.show_cursor(True)  # a progress bar may be live: the terminal gets its cursor back
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    watch = ServerWatch(url, gone, pid=pid)
    watch.start()
    try:
        yield
    except DtmError:
        raise
    except Exception as exc:
        # A server that stayed busy (503) past every retry of Prefect's client is not a bug in dtm.
        if busy_answer(exc):
            done = sum(1 for r in ws.progress.ended.values() if r in ("succeeded", "unchanged"))
            raise DtmError(f"the Prefect server at {url} stayed busy (503) past Prefect's client retries "
                           f"(PREFECT_CLIENT_MAX_RETRIES) during dtm {plan.operation}: {done} of {len(plan.changes)} "
                           f"changes finished and are in state. Run `dtm {plan.operation} -f {ws.config.path}` again "
                           "to do what is left; for many concurrent runs give the server PostgreSQL, or run "
                           "fewer at once") from exc
        # Prefect's client fails at once (it does not retry) when the server was gone before the flow's
        # first call: that is not a bug in dtm either.
        if watch.probe() is None:
            raise
        raise DtmError(f"the Prefect server at {url} went away before dtm {plan.operation} could start "
                       f"({type(exc).__name__}); nothing was changed. "
                       f"{_how_to_go_on(url, pid is not None, plan.operation, ws.config.path)}.") from exc
    finally:
        watch.stop()


def _flush_state(ws: Workspace, still_running: set[str]) -> None:
    """Leave a local (or s3) state as a finished run leaves it: journal compacted, lock removed, once nothing
    writes to it any more. (The journal alone would be safe too: the next run replays it, and takes over
    the lock of this process once it is gone.) A prefect state is on the server: every record written so
    far is there already, and its lock is taken over by the next run on this host."""
    from devstream.state.local import LocalStateStore
    from devstream.state.s3 import S3StateStore

    if still_running or not isinstance(ws.store, LocalStateStore | S3StateStore):
        return
    try:
        ws.store.flush()
        ws.store.force_unlock()
    except Exception:  # the journal keeps every record; compaction can wait for the next run
        pass
