"""Plugin packages as their authors make them: written by `dtm develop create-plugin`, built into wheels,
installed into fresh virtual environments, and their items API served on loopback for `dtm apply`.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import http.server
import importlib
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

DTM = str(Path(sys.executable).with_name("dtm"))


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env)


def create_plugin(name: str, where: Path) -> Path:
    """`dtm develop create-plugin NAME --dir where`; returns the package folder."""
    done = run(DTM, "develop", "create-plugin", name, "--dir", where)
    assert done.returncode == 0, done.stdout + done.stderr
    return where / f"dtm-plugin-{name}"


def build_wheel(package: Path, into: Path) -> Path:
    """The package's wheel, built offline with this environment's setuptools."""
    done = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", into, package)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = into.glob(package.name.replace("-", "_") + "-*.whl")
    return wheel


def fresh_venv(where: Path) -> Path:
    """A new virtual environment that sees this one's packages (dtm, pytest, pip) through a .pth file, so that
    nothing needs downloading; returns its python."""
    done = run(sys.executable, "-m", "venv", "--without-pip", where)
    assert done.returncode == 0, done.stderr
    python = where / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "dtm-tests-parent.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def items_api(package: Path) -> Any:
    """A fresh in-memory items API from the package's own testing module."""
    module = package.name.removeprefix("dtm-plugin-").replace("-", "_")
    sys.path.insert(0, str(package / "src"))
    try:
        testing = importlib.import_module(f"dtm_plugin_{module}.testing")
    finally:
        sys.path.remove(str(package / "src"))
    return testing.ItemsAPI()


@contextmanager
def serve_items(api: Any) -> Iterator[str]:
    """The items API on a loopback port (its base URL), for dtm run as a subprocess."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request = httpx.Request(self.command, f"http://127.0.0.1{self.path}", headers=dict(self.headers),
                                    content=body)
            answer = api.handle(request)
            answer.read()
            self.send_response(answer.status_code)
            self.send_header("content-type", answer.headers.get("content-type", "application/json"))
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_PUT = do_DELETE = do_POST = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
