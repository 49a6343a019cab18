"""The git objects of the `git` SCM client's scratch repository: trees read, blobs read, and commits made.

Every call works in the scratch repository GitCommand manages: `ls-tree` and one `cat-file --batch` read a
commit's files, `git fast-import` makes a commit without a checkout (no hooks, no signing), and
`merge-base --is-ancestor` says whether a commit is on a branch. The ScmClient on top is git.py's GitClient.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from devstream.plugins.scm.git_command import GitCommand

__all__ = ["Entries", "GitObjects"]

_DEFAULT_AUTHOR = ("dtm", "dtm@localhost")

Entries = dict[str, tuple[str, str]]
"""Path -> (mode, blob SHA) of the files of one commit."""


def _quote_path(path: str) -> str:
    """A path as fast-import reads it: C-style quoted, so spaces, quotes and newlines survive."""
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _ident(value: str | None) -> str:
    """A name or e-mail fit for a commit header (no angle brackets, no line breaks)."""
    return re.sub(r"[<>\n\r]", "", value or "").strip()


class GitObjects(GitCommand):
    """Reading and making git objects in the scratch repository (see the module's docstring)."""

    def _is_ancestor(self, sha: str, tip: str, *, cwd: Path | None = None, git_dir: Path | None = None) -> bool:
        """Whether the commit `sha` is `tip` or an ancestor of it, in the repository at `cwd` or `git_dir`; False
        when that repository does not have the commit."""
        known = self._git(["cat-file", "-e", f"{sha}^{{commit}}"], cwd=cwd, git_dir=git_dir, check=False)
        if known.returncode != 0:
            return False
        done = self._git(["merge-base", "--is-ancestor", sha, tip], cwd=cwd, git_dir=git_dir, check=False)
        if done.returncode not in (0, 1):
            raise self._failure("merge-base", done)
        return done.returncode == 0

    def _ls_tree(self, commit: str) -> Entries:
        out = self._git(["ls-tree", "-r", "-z", "--full-tree", commit], cwd=self._scratch_repo()).stdout
        entries: Entries = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            if kind == "blob":  # submodules (commits) are not files
                entries[path.decode("utf-8", "surrogateescape")] = (mode, sha)
        return entries

    def _blobs(self, shas: list[str]) -> list[bytes]:
        """The contents of blobs of the scratch repository, in one `cat-file --batch`."""
        if not shas:
            return []
        out = self._git(["cat-file", "--batch"], cwd=self._scratch_repo(),
                        input="".join(f"{s}\n" for s in shas).encode()).stdout
        contents: list[bytes] = []
        pos = 0
        for _ in shas:
            end = out.index(b"\n", pos)
            size = int(out[pos:end].split()[2])
            contents.append(out[end + 1:end + 1 + size])
            pos = end + 1 + size + 1
        return contents

    def _commit(self, parent: str | None, message: str, writes: list[tuple[str, str, bytes]],
                removed: list[str]) -> str:
        """Make the commit with fast-import (in the scratch repository) and return its SHA."""
        name = _ident(os.environ.get("GIT_AUTHOR_NAME")) or _DEFAULT_AUTHOR[0]
        email = _ident(os.environ.get("GIT_AUTHOR_EMAIL")) or _DEFAULT_AUTHOR[1]
        committer = _ident(os.environ.get("GIT_COMMITTER_NAME")) or name
        committer_email = _ident(os.environ.get("GIT_COMMITTER_EMAIL")) or email
        when = f"{int(time.time())} +0000"
        text = message.encode()
        stream = [f"commit refs/dtm/commit\nauthor {name} <{email}> {when}\n"
                  f"committer {committer} <{committer_email}> {when}\ndata {len(text)}\n".encode(), text, b"\n"]
        if parent:
            stream.append(f"from {parent}\n".encode())
        for path, mode, data in writes:
            stream += [f"M {mode} inline {_quote_path(path)}\ndata {len(data)}\n".encode(), data, b"\n"]
        stream += [f"D {_quote_path(p)}\n".encode() for p in removed]
        stream.append(b"\ndone\n")
        scratch = self._scratch_repo()
        self._git(["fast-import", "--quiet", "--done", "--force"], cwd=scratch, input=b"".join(stream))
        return self._git(["rev-parse", "refs/dtm/commit"], cwd=scratch).stdout.decode().strip()
