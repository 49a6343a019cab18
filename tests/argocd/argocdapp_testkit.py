"""Helpers of the argocdapp tests: the app's repository as a local bare git repository.

(A module of its own, not conftest.py: other test folders have a conftest module too.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def bare_repo(bare: Path) -> Path:
    """A bare repository on branch main with a README."""
    git("init", "-q", "--bare", "-b", "main", str(bare))
    work = bare.with_name(bare.name + "-seed")
    git("clone", "-q", str(bare), str(work))
    (work / "README.md").write_text("# hello\n")
    git("add", ".", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "seed", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return bare


def repo_files(bare: Path) -> dict[str, bytes]:
    """What the branch main of the bare repository holds: path -> content."""
    names = git("ls-tree", "-r", "--name-only", "main", cwd=bare).split()
    return {n: subprocess.run(["git", "show", f"main:{n}"], cwd=bare, check=True, capture_output=True).stdout
            for n in names}
