"""dtm's local Prefect server: started once in the background, reused by every later `dtm` process.

Without PREFECT_API_URL, Prefect starts an ephemeral server inside every process that runs a flow, which
costs 7-18 s per `dtm apply`. Instead dtm keeps one `prefect server start` running on a free loopback port,
with its own SQLite database under `$DTM_HOME/prefect` (DTM_HOME defaults to `~/.dtm`), and records it in
`$DTM_HOME/server.json`. A later process finds it there and pays only a health check.

This module never imports prefect: the server is a subprocess, so `dtm plan` and friends stay fast and the
caller can still set PREFECT_API_URL before prefect reads its settings.

    ensure_server()     the API URL dtm's flows should use, starting the server if needed

`dtm server start|stop|status` (devstream/cli/server_cmds.py) use the rest of `__all__`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from devstream.cli import render
from devstream.errors import LocalServerError
from devstream.osutil import command_line, pid_alive, write_atomically
from devstream.prefect_boundary.server_env import server_env

__all__ = ["ServerInfo", "dtm_home", "embedded_server_disabled", "ensure_running", "ensure_server", "forget_server",
           "free_port", "is_healthy", "is_our_server", "read_server_info", "require_posix", "server_lock",
           "terminate_server"]

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
HEALTH_TIMEOUT = 1.0
# A server under load (a backlog of task events, see prefect-3.9.md §6) can answer slowly for a while;
# it is given this long before being replaced, since two servers on one SQLite file would fight for locks.
STALL_GRACE = 10.0
STOP_GRACE = 10.0
_STARTING = "Starting dtm's local Prefect server (first time takes ~15 s; `dtm server stop` stops it)"
# Detached servers outlive this process on purpose; holding their Popen objects keeps Python from warning
# that they are "still running" when the objects would otherwise be collected mid-run.
_detached: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class ServerInfo:
    """What `$DTM_HOME/server.json` records about the running server."""

    pid: int
    port: int
    url: str
    prefect_home: str
    started: str
    version: str

    @property
    def ui_url(self) -> str:
        """The Prefect UI, where users see their runs: the API URL without `/api`."""
        return self.url.removesuffix("/api")

    @property
    def database(self) -> Path:
        """The server's SQLite file (dtm pins the database to its own home, see server_env.py)."""
        return Path(self.prefect_home) / "prefect.db"

    def uptime(self) -> float:
        """Seconds since the server was started."""
        return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(self.started)).total_seconds()


def embedded_server_disabled() -> bool:
    """Whether DTM_EMBEDDED_SERVER=0 (false, no, off): Prefect's ephemeral mode instead of dtm's server."""
    return os.environ.get("DTM_EMBEDDED_SERVER", "").strip().lower() in {"0", "false", "no", "off"}


def dtm_home() -> Path:
    """dtm's own directory: `$DTM_HOME`, else `~/.dtm`."""
    return Path(os.environ.get("DTM_HOME") or Path.home() / ".dtm").expanduser()


def _state_path(home: Path) -> Path:
    return home / "server.json"


def forget_server(home: Path) -> None:
    """Remove the record of the server (after stopping it, or when its process is gone)."""
    _state_path(home).unlink(missing_ok=True)


def read_server_info(home: Path | None = None) -> ServerInfo | None:
    """The recorded server, or None when there is no readable record (whether or not it still runs)."""
    try:
        data = json.loads(_state_path(home or dtm_home()).read_text())
        return ServerInfo(pid=int(data["pid"]), port=int(data["port"]), url=str(data["url"]),
                          prefect_home=str(data["prefect_home"]), started=str(data["started"]),
                          version=str(data["version"]))
    except (OSError, ValueError, KeyError, TypeError):  # missing, half-edited by hand, or from an old dtm
        return None


def _write_server_info(home: Path, info: ServerInfo) -> None:
    write_atomically(_state_path(home), json.dumps(asdict(info), indent=2).encode())
    (home / "server.port").write_text(f"{info.port}\n")


def _prefect_version() -> str:
    try:
        return version("prefect")
    except PackageNotFoundError:  # pragma: no cover - prefect is a dependency of dtm
        return "unknown"


def _alive(pid: int) -> bool:
    """Whether pid runs, as a process this user may signal."""
    return pid_alive(pid, ours=True)


def is_our_server(info: ServerInfo) -> bool:
    """Whether info.pid is still the server dtm started, and not a process that reused the pid since."""
    if not _alive(info.pid):
        return False
    args = command_line(info.pid)
    if args is None:
        return is_healthy(info.url)
    port_given = any(a == "--port" and b == str(info.port) for a, b in zip(args, args[1:], strict=False))
    return "prefect" in args and "server" in args and port_given


def is_healthy(url: str, timeout: float = HEALTH_TIMEOUT) -> bool:
    """Whether the Prefect API at `url` answers its health check (200 on `/health`) within `timeout` s."""
    # No proxies: a user's HTTP_PROXY must not intercept a loopback health check.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _wait_healthy(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if is_healthy(url):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _profile_api_url() -> str | None:
    """PREFECT_API_URL from the user's active Prefect profile (`prefect config set`, `prefect cloud login`).

    A simplified reading of Prefect's own rules, enough to never redirect a user's Cloud or team server
    runs to a local server; it does not import prefect, which would freeze its settings too early.
    """
    path = Path(os.environ.get("PREFECT_PROFILES_PATH")
                or Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml").expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    profile = data.get("profiles", {}).get(os.environ.get("PREFECT_PROFILE") or data.get("active", ""), {})
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return str(url) if url else None


@contextlib.contextmanager
def server_lock(home: Path) -> Iterator[None]:
    """Hold `$DTM_HOME/server.lock`, so that dtm processes starting (or stopping) together start one server."""
    import fcntl

    with open(home / "server.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            render.err_console.print("Waiting for another dtm process that is starting the local Prefect server",
                                     markup=False)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def free_port() -> int:
    """A TCP port on the loopback interface that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _last_port(home: Path) -> int | None:
    """The port the last server listened on (kept after `dtm server stop`, so UI bookmarks keep working)."""
    try:
        port = int((home / "server.port").read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _port_is_free(port: int) -> bool:
    """Whether the server could listen on `port` now (as uvicorn binds: with SO_REUSEADDR, so connections
    of the previous server still closing do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def _choose_port(home: Path, first_attempt: bool) -> int:
    last = _last_port(home)
    if first_attempt and last is not None and _port_is_free(last):
        return last
    return free_port()


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn(home: Path) -> ServerInfo:
    """Start `prefect server start` detached and wait until it answers; the caller holds the lock."""
    prefect_home = home / "prefect"
    prefect_home.mkdir(mode=0o700, exist_ok=True)
    log = home / "server.log"
    if log.exists():  # keep the previous server's log: it may say why that one died
        os.replace(log, home / "server.log.1")
    for attempt in range(3):
        port = _choose_port(home, first_attempt=attempt == 0)
        url = f"http://{HOST}:{port}/api"
        with open(log, "ab") as out:
            # A new session: Ctrl-C in the user's terminal must not reach the server, which outlives dtm.
            # The working directory is dtm's home, so a prefect.toml or .env in the user's project cannot
            # configure the shared server.
            proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)],
                cwd=home, env=server_env(prefect_home, HOST, port), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        _detached.append(proc)
        try:
            ready = _wait_started(proc, url)
        except BaseException:
            # Interrupted (Ctrl-C) while starting: an unrecorded server would hold the database unseen.
            terminate_server(proc.pid)
            raise
        if ready:
            return ServerInfo(pid=proc.pid, port=port, url=url, prefect_home=str(prefect_home),
                              started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              version=_prefect_version())
        code = proc.poll()
        if code is None:
            terminate_server(proc.pid)
            why = f"did not answer within {START_TIMEOUT:.0f} s"
            break
        why = f"exited with code {code}"
        # Another program may take the free port between our probe and the server's bind: try another.
        if "already in use" not in _log_tail(log, 3):
            break
    raise LocalServerError(
        f"dtm's local Prefect server {why}. The end of {log}:\n{_log_tail(log)}\n"
        "To run without it, set DTM_EMBEDDED_SERVER=0 (Prefect then starts a server inside each dtm process) "
        "or set PREFECT_API_URL to a Prefect server of your own")


def _wait_started(proc: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if is_healthy(url):
            return True
        time.sleep(0.2)
    return False


def _signal(pid: int, sig: signal.Signals) -> None:
    # The server leads its own process group (start_new_session); signalling the group also reaches any
    # process it started. Only signal the group when it is the server's own, never someone else's.
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def terminate_server(pid: int) -> bool:
    """Stop a server (and its process group): SIGTERM, then SIGINT, then SIGKILL. True when it is gone.

    Uvicorn exits on SIGTERM in well under a second, but a nohup'd Prefect worker was seen ignoring SIGTERM
    (prefect-3.9.md §8) while SIGINT stopped it; SIGKILL is the last resort, after which SQLite's journal
    keeps the database consistent.
    """
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGINT, 5.0), (signal.SIGKILL, 5.0)):
        _signal(pid, sig)
        if _wait_gone(pid, grace):
            return True
    return False


def require_posix() -> None:
    """Refuse (LocalServerError) on a platform without flock, sessions and process groups."""
    if os.name != "posix":  # flock, sessions and process groups
        raise LocalServerError("dtm's local Prefect server needs Linux or macOS; on this system dtm uses "
                               "Prefect's ephemeral mode, or the server PREFECT_API_URL names")


def ensure_running(home: Path) -> tuple[ServerInfo, bool]:
    """The running server, started (or replaced) if need be; and whether this call started it."""
    require_posix()
    info = read_server_info(home)
    if info and info.version == _prefect_version() and _alive(info.pid) and is_healthy(info.url):
        return info, False
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    with server_lock(home):
        # Read again: another process may have started the server while this one waited for the lock.
        info = read_server_info(home)
        if info and is_our_server(info):
            if info.version != _prefect_version():
                render.err_console.print(f"Restarting dtm's local Prefect server: it runs Prefect {info.version}, "
                                         f"this dtm uses {_prefect_version()}", markup=False)
                terminate_server(info.pid)
            elif _wait_healthy(info.url, STALL_GRACE):
                return info, False
            else:
                render.err_console.print(f"Restarting dtm's local Prefect server: pid {info.pid} stopped answering "
                                         f"(see {home / 'server.log'})", markup=False)
                terminate_server(info.pid)
        render.err_console.print(_STARTING, markup=False)
        info = _spawn(home)
        _write_server_info(home, info)
        return info, True


def ensure_server(home: Path | None = None) -> str | None:
    """The Prefect API URL that the flows of this dtm process should use.

    - PREFECT_API_URL in the environment wins and is returned untouched: the user's server.
    - A Prefect profile that names a server: that URL (the prefect state backend speaks HTTP and reads
      only the environment, so the CLI exports it).
    - DTM_EMBEDDED_SERVER=0, or a platform without POSIX process control: None, meaning leave
      PREFECT_API_URL unset and let Prefect use its ephemeral mode.
    - Otherwise dtm's local server, reused when it answers, else started (about 15 s the first time, 4-5 s
      later, against ~0.05 s for reuse).

    Call it before prefect is imported: prefect reads PREFECT_API_URL once, when it loads its settings.

    Raises:
        LocalServerError: the server did not start; the message shows its log and how to do without it.
    """
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    if embedded_server_disabled() or os.name != "posix":
        return None
    if profile_url := _profile_api_url():
        return profile_url  # the user's own server (or Cloud): never redirect their runs to a local one
    return ensure_running(home or dtm_home())[0].url
