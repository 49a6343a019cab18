"""The Prefect server a benchmark runs against, shared by the benchmarks.

    with prefect_server("real") as server:      # a dedicated `prefect server start` (SQLite), stopped after
        print(server.description)
    with prefect_server("embedded") as server:  # what `dtm` itself uses when PREFECT_API_URL is unset
        ...

Either way PREFECT_API_URL is set in this process's environment on entry (and restored on exit), so enter
the context before anything imports prefect: prefect reads the URL once, when it loads its settings.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from _idle import wait_until_idle

# dtm's own loopback host, port probe and health check (no proxies), as its local server uses them.
from devstream.prefect_boundary.server import HOST, free_port, is_healthy

SERVERS = ("embedded", "real", "postgres")
START_TIMEOUT = 90.0


@dataclass
class Server:
    """Which server a benchmark used: its API URL (None: Prefect's ephemeral mode) and how it got there."""

    kind: str
    url: str | None
    description: str
    startup_s: float
    pids: tuple[int, ...] = ()  # the server's processes (and its database's), watched by settle()

    def settle(self, most: float) -> float:
        """Wait until the server has recorded the last run (its processes idle), at most `most` seconds;
        the seconds waited."""
        return wait_until_idle(self.pids, most=most)


def _set_env(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the duration; put the old values back after."""
    old = {k: os.environ.get(k) for k in values}
    try:
        _set_env(values)
        yield
    finally:
        _set_env(old)


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """A `prefect server start` on a throwaway PostgreSQL cluster (the e2e tests' own, tests/e2e/postgres.py)."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path[:0] = [str(tests), str(tests / "e2e")]
    from postgres import PostgresCluster, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("--server postgres needs PostgreSQL's binaries (initdb, pg_ctl, postgres, psql): "
                         "apt-get install postgresql")
    cluster = PostgresCluster(bin_dir)
    t0 = time.perf_counter()
    cluster.start()
    try:
        with real_server(database_url=cluster.url) as server:
            server.kind = "postgres"
            server.description = server.description.replace("(SQLite", "(PostgreSQL, fsync off")
            server.startup_s = time.perf_counter() - t0
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
            server.pids = (*server.pids, postmaster)  # PostgreSQL's backends are the postmaster's children
            yield server
    finally:
        cluster.stop()


@contextlib.contextmanager
def real_server(database_url: str | None = None) -> Iterator[Server]:
    """A `prefect server start` of this benchmark's own: SQLite in a temporary PREFECT_HOME (or the database
    at `database_url`), a free port."""
    home = Path(tempfile.mkdtemp(prefix="dtm-bench-prefect-"))
    port = free_port()
    url = f"http://{HOST}:{port}/api"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH",
                        "PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    log_path = home / "server.log"
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port",
                                 str(port)], env=env, cwd=home, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not is_healthy(url, timeout=2):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise SystemExit(f"prefect server start did not come up (exit {proc.poll()}):\n{tail}")
            time.sleep(0.2)
        startup = time.perf_counter() - t0
        with _env(PREFECT_API_URL=url):
            yield Server("real", url, f"real: a dedicated `prefect server start` (SQLite, pid {proc.pid}) at {url}",
                         startup, pids=(proc.pid,))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def embedded_server() -> Iterator[Server]:
    """dtm's default: PREFECT_API_URL if set, else dtm's local server (started or reused), as `dtm apply` does.

    DTM_HOME is a temporary directory unless the caller set one, so a fresh server is started (and its
    migrations paid) without touching ~/.dtm. A server this context started is stopped on exit.
    """
    from devstream.cli import render
    from devstream.cli.server_cmds import server_stop
    from devstream.cli.workspace import use_prefect_server
    from devstream.prefect_boundary.server import read_server_info

    user_url = os.environ.get("PREFECT_API_URL")
    tmp_home = None if os.environ.get("DTM_HOME") else tempfile.mkdtemp(prefix="dtm-bench-home-")
    with contextlib.ExitStack() as cleanup:
        if tmp_home:
            cleanup.callback(shutil.rmtree, tmp_home, ignore_errors=True)
        cleanup.enter_context(_env(DTM_HOME=tmp_home or os.environ["DTM_HOME"], PREFECT_API_URL=user_url))
        before = read_server_info()
        t0 = time.perf_counter()
        use_prefect_server()
        startup = time.perf_counter() - t0
        url = os.environ.get("PREFECT_API_URL")
        after = read_server_info()
        started = after is not None and (before is None or before.pid != after.pid)
        pids: tuple[int, ...] = ()  # only dtm's local server is a process of this machine to watch
        if user_url:
            what = f"embedded: PREFECT_API_URL from the environment, {url}"
        elif url is None:
            what = "embedded: Prefect's ephemeral server inside this process (DTM_EMBEDDED_SERVER=0 or not POSIX)"
        elif after is not None and url == after.url:
            where = "a temporary DTM_HOME" if tmp_home else f"DTM_HOME={os.environ['DTM_HOME']}"
            pids = (after.pid,)
            what = (f"embedded: dtm's local server (`prefect server start`, SQLite, pid {after.pid}, "
                    f"{'started now' if started else 'reused'}, {where}) at {url}")
        else:
            what = f"embedded: the server of the active Prefect profile, {url}"
        try:
            yield Server("embedded", url, what, startup, pids=pids)
        finally:
            if started:
                out = render.console.file
                render.console.file = io.StringIO()
                try:
                    server_stop()
                finally:
                    render.console.file = out


def prefect_server(kind: str) -> contextlib.AbstractContextManager[Server]:
    """The server of `--server KIND` (one of SERVERS)."""
    if kind == "real":
        return real_server()
    if kind == "embedded":
        return embedded_server()
    if kind == "postgres":
        return postgres_server()
    raise ValueError(f"unknown server kind {kind!r}; one of {', '.join(SERVERS)}")


def run_on_server(kind: str, bench: Callable[[Server], int]) -> int:
    """Run `bench` against a server of `kind`, then print how loaded the machine was around it."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    load_before = os.getloadavg()[0]
    with prefect_server(kind) as server:
        code = bench(server)
        if "prefect" in sys.modules:  # send the run logs still queued while the server is there to take them
            from prefect.logging.handlers import APILogHandler

            APILogHandler().flush()
    print(f"  machine: {os.cpu_count()} CPUs, 1-min load average {load_before:.2f} before (other work), "
          f"{os.getloadavg()[0]:.2f} at the end (this benchmark included)")
    return code
