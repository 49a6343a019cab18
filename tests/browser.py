"""A real headless browser for tests that check what a person sees: Debian's chromium, driven over the
DevTools protocol (a websocket) from Python.

`chromium()` finds the browser, installing Debian's `chromium` first when the tests may (see fetched.py;
`.ci/run` installs it too). `Browser` starts it with a fresh profile and the flags a sandboxed, offline test
machine needs, opens pages, waits for what the page renders, clicks, and stops it (its whole process group)
when the test ends.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fetched import FetchError, apt_install
from processes import spawn, stop
from websockets.sync.client import connect

__all__ = ["Browser", "chromium"]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000")  # a real viewport: the UI's lists render only what is visible


def _which_chromium() -> Path | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def chromium() -> Path:
    try:
        return apt_install("chromium", _which_chromium)
    except FetchError as exc:
        pytest.fail(f"a headless chromium is needed to check the UI: {exc}", pytrace=False)


class Browser:
    """One headless chromium with a fresh profile, and its first tab."""

    def __init__(self, executable: Path, timeout: float = 60) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="dtm-chromium-"))
        self.proc = spawn([str(executable), *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                           "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ids = itertools.count(1)
        try:
            port = self._devtools_port(timeout)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                page = next(t for t in json.load(answer) if t["type"] == "page")
            self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout)
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, timeout: float) -> str:
        """Chromium writes the port it chose into the profile once DevTools listens."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            if active.exists() and active.read_text().strip():
                return active.read_text().split()[0]
            time.sleep(0.1)
        raise TimeoutError(f"chromium did not open DevTools within {timeout} s")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 90, what: str = "") -> Any:
        """The first truthy value of `expression`, evaluated until the page renders it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is between documents
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''") or ""
                raise AssertionError(f"the page never showed {what or expression!r}; it shows:\n{text[:3000]}")
            time.sleep(0.3)

    def text(self, selector: str = "body") -> str:
        return str(self.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''"))

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        stop(self.proc, grace=10)
        shutil.rmtree(self.profile, ignore_errors=True)
