"""Running the installed `dtm` command as a user does: a child process, its exit code and its output.

Every run gets a temp folder of its own (TMPDIR), so a test can tell whether dtm wrote a crash report
(exit 3, "this is a bug in dtm") or reported the problem as the user's to fix (exit 1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DTM = str(Path(sys.executable).parent / "dtm")
NOBODY = 65534


@dataclass
class Done:
    code: int
    out: str
    err: str
    crash_reports: list[str]

    @property
    def text(self) -> str:
        """stdout and stderr, with rich's line wrapping undone."""
        return " ".join((self.out + self.err).split())


def run_dtm(*args: str, env: Mapping[str, str] | None = None, prefix: Sequence[str] = (),
            cwd: Path | None = None, timeout: float = 120) -> Done:
    """`dtm *args` in a child process; `prefix` runs it through another command (setpriv, unshare)."""
    scratch = tempfile.mkdtemp(prefix="dtm-run-")
    os.chmod(scratch, 0o1777)  # the child may run as another user
    try:
        environ = {**os.environ, "TMPDIR": scratch, "COLUMNS": "200", **(env or {})}
        done = subprocess.run([*prefix, DTM, *args], capture_output=True, text=True, env=environ, cwd=cwd,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        reports = sorted(p.name for p in Path(scratch).glob("dtm-crash-*"))
        return Done(done.returncode, done.stdout, done.stderr, reports)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def as_unprivileged_user() -> list[str]:
    """The prefix that runs a command as a user whom file modes apply to: nobody when the tests run as root
    (root reads and writes whatever the modes say), else nothing."""
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if os.geteuid() == 0 else []


def shared_folder() -> Path:
    """A temp folder that the unprivileged user may enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="dtm-shared-"))
    folder.chmod(0o755)
    return folder
