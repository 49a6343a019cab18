"""Helpers for the git SCM tests: build trees, look into bare repositories with the git CLI, and watch the git
clients' lifetimes."""

from __future__ import annotations

import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from devstream.plugins.scm.git import GitClient


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


def reject_pushes(bare: Path, why: str = "pushes are closed today") -> Path:
    """Give a bare repository a pre-receive hook that refuses every push, as a protected server does."""
    hook = bare / "hooks" / "pre-receive"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(f"#!/bin/sh\necho '{why}' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bare


class ScratchWatch:
    """Every `GitClient` made while it watches, whether it was closed, and the scratch folders (`dtm-git-*`) they
    made, in a temporary folder of the test's own (`tempfile.tempdir` points there meanwhile).

    The clients are held, so that the garbage collector cannot remove a scratch folder for a client its owner
    forgot to close: only `close()` can.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.clients: list[GitClient] = []
        self.closed: list[GitClient] = []
        self.made: list[Path] = []
        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        real_init, real_close, real_mkdtemp = GitClient.__init__, GitClient.close, tempfile.mkdtemp

        def init(client: GitClient, *args: Any, **kwargs: Any) -> None:
            real_init(client, *args, **kwargs)
            self.clients.append(client)

        def close(client: GitClient) -> None:
            self.closed.append(client)
            real_close(client)

        def mkdtemp(*args: Any, **kwargs: Any) -> str:
            path = real_mkdtemp(*args, **kwargs)
            if Path(path).name.startswith("dtm-git-"):
                self.made.append(Path(path))
            return path

        monkeypatch.setattr(GitClient, "__init__", init)
        monkeypatch.setattr(GitClient, "close", close)
        monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)

    def left(self) -> list[Path]:
        """The scratch folders still there."""
        return sorted(self.tmp.glob("dtm-git-*"))

    def unclosed(self) -> list[GitClient]:
        return [c for c in self.clients if not any(c is d for d in self.closed)]

    def assert_tidy(self, *, scratch: bool = True) -> None:
        """Every client made so far was closed and left no scratch folder; with `scratch`, at least one made
        one (else there was nothing to tidy, and the check would prove nothing). Then start counting anew."""
        assert self.clients, "no git client was made"
        if scratch:
            assert self.made, "no git client made a scratch folder"
        assert not self.unclosed(), f"{len(self.unclosed())} of {len(self.clients)} git client(s) not closed"
        assert not self.left(), f"scratch folders left: {self.left()}"
        self.clients.clear()
        self.closed.clear()
        self.made.clear()
