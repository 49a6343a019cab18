"""Whether the Prefect server a run uses is still there: `/health` probed from a daemon thread.

The CLI's `watching` (devstream/cli/server_watch.py) says what a run does when the server goes away; this
module only decides that it went: every `PROBE_SECONDS` a `/health` request (no proxies), dtm's own local
server counting as gone as soon as its process has ended; gone when every probe for `GONE_AFTER_SECONDS`
failed to connect, or for `SILENT_AFTER_SECONDS` got no answer at all (a busy server answers slowly).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from devstream.osutil import pid_alive
from devstream.prefect_boundary.server import read_server_info

__all__ = ["GONE_AFTER_SECONDS", "PROBE_SECONDS", "ServerWatch", "busy_answer", "local_server_pid"]

PROBE_SECONDS = 2.0
PROBE_TIMEOUT = 3.0
GONE_AFTER_SECONDS = 10.0
SILENT_AFTER_SECONDS = 120.0


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


def busy_answer(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) is Prefect's client giving up on a 503."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, httpx.Response) and response.status_code == 503:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def local_server_pid(url: str) -> int | None:
    info = read_server_info()
    return info.pid if info is not None and info.url.rstrip("/") == url.rstrip("/") else None
