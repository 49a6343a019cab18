"""GitLab project files and one-commit pushes (a part of `GitLabClient`)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from devstream.plugins.scm.base import (
    FULL_SHA,
    FileInfo,
    git_blob_sha,
    under,
)
from devstream.plugins.scm.gitlab_core import GitLabCore

__all__ = ["GitLabFiles"]

# Up to this many paths, a push asks for each file's blob id with one HEAD; beyond it, one tree listing.
_HEAD_LOOKUPS = 20


class GitLabFiles(GitLabCore):
    """The files and commits part of `GitLabClient`, which it inherits."""

    # -- files -----------------------------------------------------------------------------------------------
    def _file_url(self, path: str) -> str:
        return self._project_url("repository", "files", quote(path, safe=""))

    def get_file(self, path: str, branch: str | None = None) -> FileInfo | None:
        """A file on the branch with its content, or None (no such file, branch or project)."""
        response = self._call("GET", self._file_url(path), params={"ref": self.branch(branch)}, missing_ok=True)
        if response is None:
            return None
        data = response.json()
        raw = str(data.get("content") or "")
        content = base64.b64decode(raw) if data.get("encoding") == "base64" else raw.encode("utf-8")
        return FileInfo(path=path, sha=str(data["blob_id"]), content=content)

    def blob_id(self, path: str, branch: str | None = None) -> str | None:
        """The file's git blob SHA without its content (a HEAD request), or None when it is not there."""
        response = self._call("HEAD", self._file_url(path), params={"ref": self.branch(branch)}, missing_ok=True)
        return None if response is None else response.headers.get("x-gitlab-blob-id")

    def list_files(self, prefix: str = "", branch: str | None = None) -> dict[str, str]:
        """Path -> blob SHA of every file under the folder `prefix` ({} for an empty project), as the protocol
        says and the other clients do: `docs` lists docs/a.md, not docs2/b.md."""
        params: dict[str, Any] = {"recursive": "true", "ref": self.branch(branch)}
        folder = prefix if prefix.endswith("/") else prefix.rpartition("/")[0]
        if folder.strip("/"):
            params["path"] = folder.strip("/")
        # 404: an empty repository, a missing branch or folder: nothing listed either way.
        items = self._pages(self._project_url("repository", "tree"), params, missing_ok=True)
        return {str(i["path"]): str(i["id"]) for i in items
                if i.get("type") == "blob" and under(str(i["path"]), prefix)}

    def _blob_ids(self, paths: Sequence[str], ref: str) -> dict[str, str]:
        if len(paths) > _HEAD_LOOKUPS:
            listing = self.list_files("", ref)
            return {p: listing[p] for p in paths if p in listing}
        found = {p: self.blob_id(p, ref) for p in paths}
        return {p: sha for p, sha in found.items() if sha}

    def push_files(self, files: dict[str, bytes], message: str, branch: str | None = None,
                   delete: list[str] | None = None) -> str:
        """Write (and delete) files in one commit; returns its SHA, or the head when nothing changed.

        Files already holding the content are left out. A missing branch is created: on an empty project
        by the commit itself, otherwise from the project's default branch (`start_branch`).
        """
        project = self._require_project()
        target = self.branch(branch)
        head = self.head(target)
        start_branch: str | None = None
        base: str | None = target if head is not None else None
        if head is None and not project.get("empty_repo") and project.get("default_branch"):
            start_branch = base = str(project["default_branch"])
        gone = sorted(set(delete or []) - set(files))
        current = self._blob_ids(sorted(files) + gone, base) if base is not None else {}

        actions: list[dict[str, str]] = []
        for path in sorted(files):
            if current.get(path) == git_blob_sha(files[path]):
                continue
            actions.append({"action": "update" if path in current else "create", "file_path": path,
                            "encoding": "base64", "content": base64.b64encode(files[path]).decode("ascii")})
        actions += [{"action": "delete", "file_path": path} for path in gone if path in current]

        if not actions:
            if head is None and start_branch is not None:
                return self._create_branch(target, start_branch)
            return head or ""
        body: dict[str, Any] = {"branch": target, "commit_message": message, "actions": actions}
        if start_branch is not None:
            body["start_branch"] = start_branch
        response = self._call("POST", self._project_url("repository", "commits"), json=body)
        assert response is not None
        self._project_cache = None  # an empty project is empty no more, and may have a new default branch
        sha = str(response.json()["id"])
        self.ctx.logger.info("gitlab %s: committed %s to %s (%s)", self.path,
                             ", ".join(f"{a['action']} {a['file_path']}" for a in actions), target, sha[:12])
        return sha

    def commit_on_branch(self, sha: str, branch: str | None = None) -> bool:
        """Whether the commit is the branch's head or an ancestor of it: it is its own merge base with the branch.

        GitLab answers 400 "Could not find ref" for a SHA or branch it does not know and 404 when the two share
        no history (or the project is missing): both mean no.
        """
        if not FULL_SHA.fullmatch(sha):
            return False
        target = self.branch(branch)
        response = self.http.get(self._project_url("repository", "merge_base"),
                                 params=[("refs[]", sha), ("refs[]", target)])
        if response.status_code == 404 or (response.status_code == 400 and "could not find" in response.text.lower()):
            response.close()
            return False
        return str(self._check(response).json().get("id", "")).lower() == sha.lower()

    def _create_branch(self, name: str, ref: str) -> str:
        response = self._call("POST", self._project_url("repository", "branches"),
                              params={"branch": name, "ref": ref})
        assert response is not None
        return str(response.json()["commit"]["id"])
