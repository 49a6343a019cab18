"""The GitLab stand-in's repository routes (commits, files, the tree, branches, the merge base), as a mixin
of `GitLabStandIn` (gitlab_standin.py), which holds the projects."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
from gitlab_standin_objects import Commit, Project, _error

from devstream.plugins.scm.base import git_blob_sha


class RepositoryRoutes:
    """Commits with actions, files, the tree (paginated), branches and merge bases, on `self.projects`."""

    # -- repository --------------------------------------------------------------------------------------------
    def _commit(self, project: Project, branch: str, files: dict[str, bytes], message: str,
                parents: list[str] | None = None) -> Commit:
        """A new commit at the tip of the branch; its parent is the branch's head unless `parents` says."""
        digest = hashlib.sha1(f"{project.id}:{branch}:{next(self._shas)}".encode()).hexdigest()
        if project.empty:
            project.default_branch = branch  # the first branch pushed becomes the default
        if parents is None:
            parents = [project.branches[branch].sha] if branch in project.branches else []
        commit = Commit(digest, files, message, list(parents))
        project.history[digest] = commit
        project.branches[branch] = commit
        project.commits += 1
        return commit

    def _get_file(self, project: Project, file_path: str, query: dict[str, str], head: bool) -> httpx.Response:
        if not query.get("ref"):
            return httpx.Response(400, json={"error": "ref is missing"})
        commit = project.branches.get(query["ref"])
        content = None if commit is None else commit.files.get(file_path)
        if commit is None or content is None:
            return httpx.Response(404) if head else _error(404, "404 File Not Found")
        blob = git_blob_sha(content)
        headers = {"X-Gitlab-Blob-Id": blob, "X-Gitlab-File-Path": file_path, "X-Gitlab-Size": str(len(content)),
                   "X-Gitlab-Encoding": "base64", "X-Gitlab-Ref": query["ref"], "X-Gitlab-Commit-Id": commit.sha}
        if head:
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, json={
            "file_name": file_path.rpartition("/")[2], "file_path": file_path, "size": len(content),
            "encoding": "base64", "content": base64.b64encode(content).decode(),
            "content_sha256": hashlib.sha256(content).hexdigest(), "ref": query["ref"], "blob_id": blob,
            "commit_id": commit.sha, "last_commit_id": commit.sha})

    def _tree(self, project: Project, query: dict[str, str], request: httpx.Request) -> httpx.Response:
        commit = project.branches.get(query.get("ref") or project.default_branch)
        if commit is None:
            return _error(404, "404 Tree Not Found")
        root = query.get("path", "").strip("/")
        recursive = query.get("recursive") == "true"
        entries: dict[str, dict[str, Any]] = {}
        for file_path, content in commit.files.items():
            if root and not file_path.startswith(root + "/"):
                continue
            rel = file_path[len(root) + 1:] if root else file_path
            segments = rel.split("/")
            for depth in range(1, len(segments)):  # the folders on the way
                if depth > 1 and not recursive:
                    break
                folder = "/".join(([root] if root else []) + segments[:depth])
                entries[folder] = {"id": hashlib.sha1(folder.encode()).hexdigest(), "name": segments[depth - 1],
                                   "type": "tree", "path": folder, "mode": "040000"}
            if recursive or len(segments) == 1:
                entries[file_path] = {"id": git_blob_sha(content), "name": segments[-1], "type": "blob",
                                      "path": file_path, "mode": "100644"}
        if root and not entries:
            return _error(404, "404 Tree Not Found")
        return self._page([entries[k] for k in sorted(entries)], query, request)

    def _page(self, items: list[Any], query: dict[str, str], request: httpx.Request) -> httpx.Response:
        per_page = max(1, min(int(query.get("per_page", 20)), 100))
        page = max(1, int(query.get("page", 1)))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        has_next = page < total_pages
        next_url = request.url.copy_merge_params({"page": str(page + 1), "per_page": str(per_page)})
        if self.next_link_origin is not None:
            origin = httpx.URL(self.next_link_origin)
            next_url = next_url.copy_with(scheme=origin.scheme, host=origin.host, port=origin.port)
        headers = {"Link": f'<{next_url}>; rel="next"'} if has_next else {}
        if not self.keyset_pagination:
            headers |= {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                        "X-Total-Pages": str(total_pages), "X-Next-Page": str(page + 1) if has_next else "",
                        "X-Prev-Page": str(page - 1) if page > 1 else ""}
        return httpx.Response(200, headers=headers, json=chunk)

    def _create_commit(self, project: Project, body: dict[str, Any]) -> httpx.Response:
        branch, start = body.get("branch"), body.get("start_branch")
        actions = body.get("actions") or []
        if not branch or not body.get("commit_message"):
            return httpx.Response(400, json={"error": "branch, commit_message are missing"})
        if not actions:
            return httpx.Response(400, json={"error": "actions is empty"})
        if branch in project.branches:
            if start and start != branch:
                return _error(400, f"A branch called '{branch}' already exists. Switch to that branch in order "
                                   f"to make changes")
            files = dict(project.branches[branch].files)
        elif project.empty and not start:
            files = {}
        elif start and start in project.branches:
            files = dict(project.branches[start].files)
        else:
            return _error(400, "You can only create or edit files when you are on a branch")
        for action in actions:
            kind, file_path = action.get("action"), action.get("file_path", "")
            if kind in ("create", "update"):
                text = action.get("content", "")
                data = base64.b64decode(text) if action.get("encoding") == "base64" else text.encode()
                if kind == "create" and file_path in files:
                    return _error(400, "A file with this name already exists")
                if kind == "update" and file_path not in files:
                    return _error(400, "A file with this name doesn't exist")
                files[file_path] = data
            elif kind == "delete":
                if file_path not in files:
                    return _error(400, "A file with this name doesn't exist")
                del files[file_path]
            else:
                return httpx.Response(400, json={"error": "actions[0][action] does not have a valid value"})
        parents = [project.branches[start].sha] if branch not in project.branches and start else None
        commit = self._commit(project, branch, files, body["commit_message"], parents)
        return httpx.Response(201, json={"id": commit.sha, "short_id": commit.sha[:8],
                                         "title": commit.message, "message": commit.message})

    def _ancestors(self, project: Project, sha: str) -> set[str]:
        seen: set[str] = set()
        todo = [sha]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(project.history[current].parents)
        return seen

    def _merge_base(self, project: Project, request: httpx.Request) -> httpx.Response:
        """The best common ancestor of the refs (`refs[]=...`, or comma-separated `refs=`): branch names or commit
        SHAs (full or abbreviated). 400 for fewer than two refs or one GitLab cannot find, 404 when they share
        no history."""
        refs = request.url.params.get_list("refs[]") or [
            r for value in request.url.params.get_list("refs") for r in value.split(",") if r]
        if len(refs) < 2:
            return _error(400, "Provide at least 2 refs")
        shas: list[str] = []
        for ref in refs:
            if ref in project.branches:
                shas.append(project.branches[ref].sha)
                continue
            found = [sha for sha in project.history if sha.startswith(ref)] if len(ref) >= 4 else []
            if len(found) != 1:
                unknown = [r for r in refs if r not in project.branches and not any(
                    sha.startswith(r) for sha in project.history)]
                noun = "ref" if len(unknown) == 1 else "refs"
                return _error(400, f"Could not find {noun}: {', '.join(unknown or [ref])}")
            shas.append(found[0])
        common = set.intersection(*(self._ancestors(project, sha) for sha in shas))
        best = sorted(c for c in common if not any(c != o and c in self._ancestors(project, o) for o in common))
        if not best:
            return _error(404, "404 Merge Base Not Found")
        commit = project.history[best[0]]
        title = commit.message.splitlines()[0] if commit.message else ""
        return httpx.Response(200, json={
            "id": commit.sha, "short_id": commit.sha[:8], "title": title, "message": commit.message,
            "parent_ids": list(commit.parents), "created_at": "2024-01-01T00:00:00.000Z",
            "author_name": "dtm stand-in", "author_email": "standin@example.invalid",
            "authored_date": "2024-01-01T00:00:00.000Z", "committer_name": "dtm stand-in",
            "committer_email": "standin@example.invalid", "committed_date": "2024-01-01T00:00:00.000Z"})

    def _create_branch(self, project: Project, query: dict[str, str]) -> httpx.Response:
        name, ref = query.get("branch"), query.get("ref")
        if not name or not ref or ref not in project.branches:
            return _error(400, "Invalid reference name")
        if name in project.branches:
            return _error(400, "Branch already exists")
        source = project.branches[ref]
        project.branches[name] = Commit(source.sha, dict(source.files), source.message, list(source.parents))
        return httpx.Response(201, json={"name": name, "commit": {"id": source.sha}})
