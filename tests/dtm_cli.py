"""Running `dtm` the way tests meet it: `run_main` calls the CLI's entry point in this process (fast, and its
output is captured by pytest), `run_script` runs the installed console script in a process of its own.

The `dtm` fixture (registered for every test by tests/conftest.py) is `run_main` with pytest's capture: `dtm(*args)`
gives (exit code, stdout, stderr). Test files that want another shape wrap `run_main` in a fixture of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devstream.cli import render
from devstream.cli.main import main

__all__ = ["DTM", "dtm", "run_main", "run_script"]

DTM = str(Path(sys.executable).with_name("dtm"))


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
             cwd: Path | None = None, env: dict[str, str] | None = None,
             width: int = 200) -> subprocess.CompletedProcess[str]:
    """`dtm ARGS` through the CLI's entry point in this process (in folder `cwd`, with `env` added), as a
    CompletedProcess; the console is `width` columns wide so that tables do not wrap."""
    monkeypatch.setattr(render.console, "width", width)
    monkeypatch.setattr(render.err_console, "width", width)
    if cwd is not None:
        monkeypatch.chdir(cwd)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["dtm", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), int(exit_info.value.code or 0), out, err)


def run_script(*args: str, cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """The installed `dtm ARGS` in a process of its own, in folder `cwd`."""
    return subprocess.run([DTM, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout)


@pytest.fixture
def dtm(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> Callable[..., tuple[int, str, str]]:
    """`dtm(*args)` -> (exit code, stdout, stderr), through the CLI's entry point in this process."""

    def call(*args: str) -> tuple[int, str, str]:
        done = run_main(monkeypatch, capsys, *args)
        return done.returncode, done.stdout, done.stderr

    return call
