"""Plugin packages as their authors make them: written by `dtm develop create-plugin`, built into wheels,
installed into fresh virtual environments, and their items API served on loopback for `dtm apply`.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from http_standin import served

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

    with served(api.handle) as url:
        yield url
