"""A real `prefect server start` and process workers for end-to-end tests, on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from processes import spawn, stop

PREFECT = str(Path(sys.executable).parent / "prefect")
REPO = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One Prefect server process with its own PREFECT_HOME (SQLite unless a database URL is given)."""

    def __init__(self, home: Path, database_url: str | None = None):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": self.url,
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
                    "PREFECT_LOGGING_LEVEL": "INFO"}
        if database_url:
            self.env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 90) -> None:
        log = open(self.home / "server.log", "wb")  # noqa: SIM115 (closed with the process)
        self.server = spawn([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(self.server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"prefect server did not start: {(self.home / 'server.log').read_text()[-2000:]}")

    def cli(self, *args: str, cwd: Path = REPO, check: bool = True) -> str:
        done = subprocess.run([PREFECT, "--no-prompt", *args], env=self.env, cwd=cwd, capture_output=True,
                              text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def worker(self, pool: str, name: str, *options: str) -> subprocess.Popen[bytes]:
        """`prefect worker start` on the pool; `options` are more of its flags, such as `--limit 3`."""
        log = open(self.home / f"worker-{name}.log", "wb")  # noqa: SIM115
        proc = spawn([PREFECT, "worker", "start", "--pool", pool, "--name", name, *options], env=self.env, cwd=REPO,
                     stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(6):
            req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    text = r.read()
                return json.loads(text) if text else None
            except urllib.error.HTTPError as exc:
                # A SQLite server under load answers 503 ("database is locked"); the request did nothing.
                if exc.code != 503 or attempt == 5:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def deployment_id(self, name: str) -> str:
        (dep,) = self.api("POST", "/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        return dep["id"]

    def run_artifacts(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The artifacts a flow run published, by key."""
        found = self.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
        return {a["key"]: a for a in found if a.get("key")}

    def wait_for_run(self, flow_run_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/flow_runs/{flow_run_id}")
            if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            time.sleep(0.5)
        raise TimeoutError(f"flow run {flow_run_id} did not finish in {timeout} s")

    def stop(self) -> None:
        """Stop every process started here (workers first), whatever the shell pytest runs in."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                # SIGINT first, to all at once: a Prefect worker ignores SIGTERM while it has runs in flight.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
        for proc in reversed(self.procs):
            stop(proc)
