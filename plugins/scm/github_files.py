"""GitHub repository files and commits (a part of `GitHubClient`).

Files are written in ONE commit with the git data API: the branch's head, a tree on top of the head's
tree (file contents inline when they are text, blobs otherwise; a deletion is an entry whose `sha` is
null), a commit whose parent is the head, then the branch ref is moved (fast-forward only) or created.
Content already on the branch is left alone, and nothing to change makes no commit.

An empty repository (no commit yet) refuses the git data API (409), so its first push works differently:
the first file is created through the contents API (which can make a repository's first commit), then,
when there are more files, a root commit holding all of them is made with the git data API and the branch
is moved onto it. The branch's history is then that ONE commit, as for any other push; the contents API's
commit is left unreferenced.

Whether a commit is still on a branch (its head or an ancestor) is asked of the compare API, `BRANCH...SHA`:
`identical` or `behind` says yes; a 404 (an unknown SHA or branch) says no.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from devstream.errors import PermanentError, TransientError
from devstream.plugins.scm.base import FULL_SHA, FileInfo, file_mode, git_blob_sha, under
from devstream.plugins.scm.github_answers import (
    MAX_TREE_DEPTH,
    TreeItem,
    decode_base64,
    error_message,
    field,
    tree_items,
)
from devstream.plugins.scm.github_core import GitHubCore

__all__ = ["GitHubFiles"]


@dataclass(frozen=True)
class _Entry:
    """A file in a git tree."""

    mode: str
    sha: str


class _EmptyRepository(Exception):
    """The repository has no commit yet: the git data API answers 409."""


class GitHubFiles(GitHubCore):
    """The files and commits half of `GitHubClient`, which it inherits."""

    # -- files -----------------------------------------------------------------------------------------
    def get_file(self, path: str, branch: str | None = None) -> FileInfo | None:
        response = self._send("GET", f"{self._repo}/contents/{_quote_path(path)}",
                              params={"ref": self._branch(branch)})
        if response.status_code in (404, 409):  # no such file, branch or repository, or an empty repository
            return None
        data = self._json(response, f"read {path}")
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a folder, a symlink or a submodule
        where = self._where(f"read {path}")
        sha = field(data, where, "sha")
        if data.get("encoding") == "base64" and data.get("content") is not None:
            content = decode_base64(data["content"], where)
        else:  # files over 1 MB come without content
            content = self._blob(sha)
        return FileInfo(path=path, sha=sha, content=content)

    def _blob(self, sha: str) -> bytes:
        data = self._json(self._send("GET", f"{self._repo}/git/blobs/{sha}"), f"read blob {sha}")
        return decode_base64(data.get("content") or "", self._where(f"read blob {sha}"))

    def list_files(self, prefix: str = "", branch: str | None = None) -> dict[str, str]:
        # One request, not three (ref, commit, tree): the trees API takes a branch name for the tree, and
        # drift checks list files of every repository each hour, against a budget of 5,000 requests an hour.
        branch = self._branch(branch)
        response = self._send("GET", f"{self._repo}/git/trees/{quote(branch, safe='/')}", params={"recursive": "1"})
        if response.status_code in (404, 409):  # no such branch or repository; an empty repository
            return {}
        data = self._json(response, "list the files")
        entries = self._entries(data, lambda folder: under(folder, prefix) or under(prefix, folder))
        return {path: entry.sha for path, entry in sorted(entries.items()) if under(path, prefix)}

    def _head(self, branch: str) -> str | None:
        """The commit SHA at the tip of the branch; None when there is no such branch (or repository)."""
        response = self._send("GET", f"{self._repo}/git/ref/heads/{quote(branch, safe='/')}")
        if response.status_code == 409:
            raise _EmptyRepository
        if response.status_code == 404:
            return None
        return field(self._json(response, f"read branch {branch}"), self._where(f"read branch {branch}"), "object",
                     "sha")

    def commit_on_branch(self, sha: str, branch: str | None = None) -> bool:
        """Whether the commit is the branch's head or an ancestor of it, by the compare API.

        `BRANCH...SHA` compares the commit (head) with the branch (base): `identical` is the head itself,
        `behind` means every commit of SHA's history is in the branch's. `ahead` or `diverged` means the commit
        is not on the branch (a force-push left it behind, or it never was); a 404 is a SHA, branch or
        repository GitHub does not know, or histories with no common ancestor. One commit per page keeps the
        answer small: only `status` is read.
        """
        if not FULL_SHA.fullmatch(sha):
            return False
        branch = self._branch(branch)
        # the basehead is multi-segment: a branch's slashes go as they are, like the ref of _head's path
        response = self._send("GET", f"{self._repo}/compare/{quote(branch, safe='/')}...{sha}",
                              params={"per_page": 1})
        if response.status_code in (404, 409):  # 409: an empty repository, as the rest of the git data API says
            return False
        status = self._json(response, f"compare commit {sha[:12]} with branch {branch}").get("status")
        return status in ("identical", "behind")

    def _commit_tree(self, commit: str) -> str:
        data = self._json(self._send("GET", f"{self._repo}/git/commits/{commit}"), f"read commit {commit}")
        return field(data, self._where(f"read commit {commit}"), "tree", "sha")

    def _files(self, commit: str, wanted: Callable[[str], bool]) -> tuple[str, dict[str, _Entry]]:
        """The commit's tree SHA, and path -> entry of the files in it (only in the folders `wanted` accepts
        when the recursive listing was truncated)."""
        root = self._commit_tree(commit)
        data = self._json(self._send("GET", f"{self._repo}/git/trees/{root}", params={"recursive": "1"}),
                          "list the files")
        return root, self._entries(data, wanted)

    def _entries(self, listing: dict[str, Any], wanted: Callable[[str], bool]) -> dict[str, _Entry]:
        """Path -> entry of the files of a recursive tree listing; when GitHub truncated it, the tree is read
        again folder by folder (only the folders `wanted` accepts)."""
        where = self._where("list the files")
        if not listing.get("truncated"):
            return {e.path: _Entry(e.mode, e.sha) for e in tree_items(listing, where) if e.type == "blob"}
        return self._walk(field(listing, where, "sha"), wanted)

    def _walk(self, root: str, wanted: Callable[[str], bool]) -> dict[str, _Entry]:
        """A tree too big for one recursive listing, read folder by folder (only the wanted folders), each
        distinct tree once, no deeper than MAX_TREE_DEPTH (a server could list a tree inside itself)."""
        where = self._where("list the files")
        listings: dict[str, list[TreeItem]] = {}
        found: dict[str, _Entry] = {}
        todo = [(root, "", 0)]
        while todo:
            tree, folder, depth = todo.pop()
            if depth > MAX_TREE_DEPTH:
                raise PermanentError(f"{where}: the tree is more than {MAX_TREE_DEPTH} folders deep at "
                                     f"{folder[:80]}...; no real repository is, so dtm stopped reading it")
            if tree not in listings:
                listings[tree] = tree_items(self._json(self._send("GET", f"{self._repo}/git/trees/{tree}"),
                                                       "list the files"), where)
            for e in listings[tree]:
                path = f"{folder}{e.path}"
                if e.type == "blob":
                    found[path] = _Entry(e.mode, e.sha)
                elif e.type == "tree" and wanted(path):
                    todo.append((e.sha, path + "/", depth + 1))
        return found

    def push_files(self, files: dict[str, bytes], message: str, branch: str | None = None,
                   delete: list[str] | None = None) -> str:
        branch = self._branch(branch)
        removals = sorted({p for p in delete or [] if p not in files})
        try:
            head = self._head(branch)
            base = head if head is not None else self._base_for_new_branch(branch)
        except _EmptyRepository:
            return self._first_push(files, message, branch)
        touched = set(files) | set(removals)
        base_tree, current = self._files(base, lambda folder: any(p.startswith(folder + "/") for p in touched))

        tree: list[dict[str, Any]] = []
        for path, content in sorted(files.items()):
            existing = current.get(path)
            if existing is not None and existing.sha == git_blob_sha(content):
                continue
            tree.append(self._tree_entry(path, content, file_mode(existing.mode if existing is not None else None)))
        tree.extend({"path": p, "mode": current[p].mode, "type": "blob", "sha": None}
                    for p in removals if p in current)

        if not tree:
            if head is None:
                self._create_branch(branch, base)
            return base
        commit = self._commit(message, tree, base=(base, base_tree))
        if head is None:
            self._create_branch(branch, commit)
        else:
            self._move_branch(branch, commit, force=False)
        removed = sum(1 for p in removals if p in current)
        self.ctx.logger.info("GitHub %s: committed %s to %s (%d file(s) written, %d removed)", self.spec.full_name,
                             commit[:12], branch, len(tree) - removed, removed)
        return commit

    def _base_for_new_branch(self, branch: str) -> str:
        """The commit a new branch starts from: the tip of the repository's default branch."""
        info = self.describe_repo()
        if info is None:
            raise PermanentError(f"GitHub {self.spec.full_name}: the repository does not exist")
        tip = self._head(info.default_branch) if info.default_branch != branch else None
        if tip is None:
            raise PermanentError(f"GitHub {self.spec.full_name}: cannot create branch {branch}: the default "
                                 f"branch {info.default_branch} has no commit to start from")
        return tip

    def _tree_entry(self, path: str, content: bytes, mode: str) -> dict[str, Any]:
        """A tree entry for a file: text inline, anything else through a blob."""
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            blob = self._json(self._send("POST", f"{self._repo}/git/blobs",
                                         body={"content": base64.b64encode(content).decode("ascii"),
                                               "encoding": "base64"}),
                              f"store {path}", ok=(201,))
            return {"path": path, "mode": mode, "type": "blob", "sha": field(blob, self._where(f"store {path}"), "sha")}
        return {"path": path, "mode": mode, "type": "blob", "content": text}

    def _commit(self, message: str, tree: list[dict[str, Any]], base: tuple[str, str] | None) -> str:
        """A new tree (on top of the base commit's tree, or alone) and a commit of it whose parent is the base
        commit (or none); returns the commit SHA."""
        body: dict[str, Any] = {"tree": tree}
        if base is not None:
            body["base_tree"] = base[1]
        new_tree = self._json(self._send("POST", f"{self._repo}/git/trees", body=body), "write the tree",
                              ok=(201,))
        parents = [base[0]] if base is not None else []
        made = self._json(self._send("POST", f"{self._repo}/git/commits",
                                     body={"message": message, "tree": field(new_tree, self._where("write the tree"),
                                                                             "sha"), "parents": parents}),
                          "write the commit", ok=(201,))
        return field(made, self._where("write the commit"), "sha")

    def _move_branch(self, branch: str, commit: str, *, force: bool) -> None:
        response = self._send("PATCH", f"{self._repo}/git/refs/heads/{quote(branch, safe='/')}",
                              body={"sha": commit, "force": force})
        if response.status_code == 422 and not force:
            raise TransientError(f"GitHub {self.spec.full_name}: branch {branch} moved while dtm was committing "
                                 f"to it ({error_message(response)}); try again")
        self._json(response, f"move branch {branch}")

    def _create_branch(self, branch: str, commit: str) -> None:
        response = self._send("POST", f"{self._repo}/git/refs", body={"ref": f"refs/heads/{branch}", "sha": commit})
        if response.status_code == 422:
            raise TransientError(f"GitHub {self.spec.full_name}: branch {branch} appeared while dtm was creating "
                                 f"it ({error_message(response)}); try again")
        self._json(response, f"create branch {branch}", ok=(201,))

    def _first_push(self, files: dict[str, bytes], message: str, branch: str) -> str:
        """The first commit of an empty repository (see the module's docstring)."""
        if not files:
            return ""  # nothing to write, and nothing there to delete
        paths = sorted(files)
        first = paths[0]
        response = self._send("PUT", f"{self._repo}/contents/{_quote_path(first)}", body={
            "message": message, "content": base64.b64encode(files[first]).decode("ascii"), "branch": branch})
        if response.status_code == 422 and "sha" in error_message(response):
            raise TransientError(f"GitHub {self.spec.full_name}: {first} appeared while dtm was making the first "
                                 f"commit; try again")
        seed = field(self._json(response, f"write {first}", ok=(200, 201)), self._where(f"write {first}"), "commit",
                     "sha")
        if len(paths) == 1:
            return seed
        commit = self._commit(message, [self._tree_entry(p, files[p], "100644") for p in paths], base=None)
        if self._head(branch) != seed:
            raise TransientError(f"GitHub {self.spec.full_name}: branch {branch} moved while dtm was making its "
                                 f"first commit; try again")
        self._move_branch(branch, commit, force=True)  # replaces only the seed commit made just above
        return commit


def _quote_path(path: str) -> str:
    return quote(path.strip("/"), safe="/")
