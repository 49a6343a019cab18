"""Helpers for the git SCM tests: build trees and look into bare repositories with the git CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git, fail the test on error, return stdout."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def write_tree(root: Path, files: dict[str, str | bytes | None]) -> Path:
    """Write files (text or bytes; None skips) under `root` and return it."""
    for rel, content in files.items():
        if content is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    root.mkdir(parents=True, exist_ok=True)
    return root


def bare_repo(path: Path, branch: str = "main", files: dict[str, str] | None = None) -> Path:
    """A bare repository made by hand (not by dtm), with one commit of `files` if given."""
    git("init", "--bare", "--quiet", f"--initial-branch={branch}", str(path))
    if files:
        work = path.parent / (path.name + ".seed")
        git("clone", "--quiet", path.as_uri(), str(work))
        write_tree(work, dict(files))
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "seed", cwd=work)
        git("push", "--quiet", "origin", f"HEAD:{branch}", cwd=work)
    return path


def remote_files(bare: Path, branch: str = "main") -> dict[str, bytes]:
    """Every file on the branch of a bare repository, with its content."""
    listing = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "-z", branch)
    out = {}
    for path in filter(None, listing.split("\0")):
        out[path] = subprocess.run(["git", "--git-dir", str(bare), "show", f"{branch}:{path}"],
                                   capture_output=True, check=True).stdout
    return out


def history(bare: Path, branch: str = "main") -> list[str]:
    """The branch's commits, newest first, as `sha subject`."""
    return git("--git-dir", str(bare), "log", "--format=%H %s", branch).splitlines()


def hand_edit(bare: Path, work: Path, edits: dict[str, str | None], branch: str = "main") -> None:
    """What a person does: clone, change files (None deletes), commit and push."""
    git("clone", "--quiet", "--branch", branch, bare.as_uri(), str(work))
    for rel, content in edits.items():
        if content is None:
            (work / rel).unlink()
        else:
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(content)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "a hand edit", cwd=work)
    git("push", "--quiet", "origin", f"HEAD:{branch}", cwd=work)
