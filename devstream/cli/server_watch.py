"""A run whose Prefect server goes away ends within a bound, with its finished work kept.

Prefect's client gives a server that dropped its connections five retries (2 + 4 + ... + 32 s) on every
call, and each task of a run makes several calls: with the server gone, an apply of 40 slow tools was seen
running for minutes, and a prefect-backend run stayed up draining its queued events at 7 s each. So the
CLI watches the server while a flow runs:

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
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devstream.cli import render
from devstream.engine import Workspace
from devstream.errors import DtmError
from devstream.osutil import pid_alive
from devstream.plan import Plan
from devstream.summary import ChangeResult, RunSummary

__all__ = ["DRAIN_SECONDS", "GONE_AFTER_SECONDS", "ServerWatch", "watching"]

PROBE_SECONDS = 2.0
PROBE_TIMEOUT = 3.0
GONE_AFTER_SECONDS = 10.0
SILENT_AFTER_SECONDS = 120.0
DRAIN_SECONDS = 30.0


class ServerWatch:
    """Probes the Prefect server at `url` from a daemon thread; calls `on_gone(why)` once if it goes away.

    `pid` is the process of dtm's local server, when that is the one in use.
    """

    def __init__(self, url: str, on_gone: Callable[[str], None], *, pid: int | None = None,
                 probe_seconds: float = PROBE_SECONDS, gone_after: float = GONE_AFTER_SECONDS,
                 silent_after: float = SILENT_AFTER_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.on_gone = on_gone
        self.pid = pid
        self.probe_seconds = probe_seconds
        self.gone_after = gone_after
        self.silent_after = silent_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="dtm-server-watch", daemon=True)
        # No proxies: a user's HTTP_PROXY must not stand between dtm and a loopback server.
        self._client = httpx.Client(timeout=PROBE_TIMEOUT, trust_env=False)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=PROBE_TIMEOUT + 1)
        self._client.close()

    def probe(self) -> str | None:
        """None when the server answers; else "dead" (dtm's local server's process is gone), "unreachable"
        (it refused or dropped the connection) or "silent" (no answer in time)."""
        if self.pid is not None and not pid_alive(self.pid, ours=True):
            return "dead"
        try:
            self._client.get(f"{self.url}/health")
            return None  # any answer, even an error status, is a server that is there
        except httpx.TimeoutException:
            return "silent"
        except httpx.HTTPError:
            return "unreachable"

    def _watch(self) -> None:
        unreachable_since: float | None = None
        silent_since: float | None = None
        while not self._stop.wait(self.probe_seconds):
            verdict = self.probe()
            now = time.monotonic()
            if verdict == "dead":
                self.on_gone(f"its process {self.pid} has ended")
                return
            if verdict is None:
                unreachable_since = silent_since = None
                continue
            silent_since = silent_since if silent_since is not None else now
            unreachable_since = (unreachable_since if unreachable_since is not None else now) \
                if verdict == "unreachable" else None
            if unreachable_since is not None and now - unreachable_since >= self.gone_after:
                self.on_gone(f"it stopped answering {now - unreachable_since:.0f} s ago")
                return
            if now - silent_since >= self.silent_after:
                self.on_gone(f"it has not answered for {now - silent_since:.0f} s")
                return


def _busy_answer(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) is Prefect's client giving up on a 503."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, httpx.Response) and response.status_code == 503:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _local_server_pid(url: str) -> int | None:
    from devstream.cli.server import read_server_info

    info = read_server_info()
    return info.pid if info is not None and info.url.rstrip("/") == url.rstrip("/") else None


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
        ended = ws.ended.get(change.key)
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
    pid = _local_server_pid(url)

    def gone(why: str) -> None:
        reason = f"the Prefect server at {url} went away ({why})"
        still_running = ws.stop_changes(reason, wait=drain_seconds)
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
        if _busy_answer(exc):
            done = sum(1 for r in ws.ended.values() if r in ("succeeded", "unchanged"))
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
