"""The GitHub stand-in's contents and git data routes (contents, refs, trees, blobs, commits, compare), as a
mixin of `GitHubStandIn` (github_standin.py), which holds the repositories and git objects they use."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
from github_standin_objects import (
    _CONTENT_LIMIT,
    _WHEN,
    GitObjects,
    Repo,
    _Answer,
)


class GitDataRoutes:
    """Contents, refs, trees, blobs, commits and compare, on `self.repos` and `self.git`."""

    # -- contents --------------------------------------------------------------------------------------
    def _file_json(self, repo: Repo, path: str, mode: str, sha: str, data: bytes) -> dict[str, Any]:
        """A file as the contents API reads it (GitHub's `content-file` schema): its content too."""
        big = len(data) > _CONTENT_LIMIT
        encoded = base64.b64encode(data).decode()
        return {
            **self._file_summary(repo, path, mode, sha, data), "encoding": "none" if big else "base64",
            # GitHub wraps the base64 text at 60 characters
            "content": "" if big else "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n",
        }

    def _file_summary(self, repo: Repo, path: str, mode: str, sha: str, data: bytes) -> dict[str, Any]:
        """A file as the contents API reports a write (the `content` of GitHub's `file-commit`): no content."""
        return {
            "type": "symlink" if mode == "120000" else "file", "name": path.rsplit("/", 1)[-1], "path": path,
            "sha": sha, "size": len(data), "url": self._url(f"repos/{repo.full_name}/contents/{path}"),
            "git_url": self._url(f"repos/{repo.full_name}/git/blobs/{sha}"),
            "html_url": f"https://github.com/{repo.full_name}/blob/{repo.default_branch}/{path}",
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{repo.default_branch}/{path}",
        }

    def _get_contents(self, request: httpx.Request, payload: Any, path: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        if repo.empty:
            raise _Answer(404, "This repository is empty.")
        git = self.git[repo.id]
        ref = request.url.params.get("ref") or repo.default_branch
        head = repo.refs.get(f"refs/heads/{ref}") or (ref if ref in git.commits else None)
        if head is None:
            raise _Answer(404, f"No commit found for the ref {ref}")
        flat = git.flatten(git.commits[head]["tree"])
        path = path.strip("/")
        if path in flat:
            mode, sha = flat[path]
            return httpx.Response(200, json=self._file_json(repo, path, mode, sha, git.blobs[sha]))
        inside = sorted({p[len(path) + 1 if path else 0:].split("/")[0] for p in flat
                         if not path or p.startswith(path + "/")})
        if not inside:
            raise _Answer(404, "Not Found")
        listing = []
        for name in inside:
            full = f"{path}/{name}" if path else name
            if full in flat:
                listing.append({"type": "file", "name": name, "path": full, "sha": flat[full][1]})
            else:
                listing.append({"type": "dir", "name": name, "path": full, "sha": ""})
        return httpx.Response(200, json=listing)

    def _put_contents(self, request: httpx.Request, payload: dict[str, Any], path: str,
                      **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self.git[repo.id]
        if "message" not in payload or "content" not in payload:
            raise _Answer(422, "Invalid request.\n\n\"message\" and \"content\" are required.")
        data = base64.b64decode(payload["content"])
        branch = payload.get("branch") or repo.default_branch
        ref = f"refs/heads/{branch}"
        if repo.empty:
            flat: dict[str, tuple[str, str]] = {}
            parents: list[str] = []
            repo.default_branch = branch  # the first branch pushed becomes the default one
        else:
            if ref not in repo.refs:
                raise _Answer(404, f"Branch {branch} not found")
            parents = [repo.refs[ref]]
            flat = git.flatten(git.commits[parents[0]]["tree"])
        existing = flat.get(path)
        if existing is not None and "sha" not in payload:
            raise _Answer(422, "Invalid request.\n\n\"sha\" wasn't supplied.")
        if existing is not None and payload["sha"] != existing[1]:
            raise _Answer(409, f"{path} does not match {payload['sha']}")
        blob = git.blob(data)
        flat[path] = ("100644", blob)
        tree = git.tree(flat)
        commit = git.commit(tree, parents, str(payload["message"]))
        repo.refs[ref] = commit
        return httpx.Response(200 if existing else 201, json={
            "content": self._file_summary(repo, path, "100644", blob, data),
            "commit": self._commit_json(repo, commit)})

    # -- git data --------------------------------------------------------------------------------------
    def _ref_json(self, repo: Repo, ref: str) -> dict[str, Any]:
        sha = repo.refs[ref]
        return {"ref": ref, "node_id": f"REF_{ref}", "url": self._url(f"repos/{repo.full_name}/git/{ref}"),
                "object": {"sha": sha, "type": "commit",
                           "url": self._url(f"repos/{repo.full_name}/git/commits/{sha}")}}

    def _get_ref(self, request: httpx.Request, payload: Any, ref: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        self._nonempty(repo)
        full = f"refs/{ref}"
        if full not in repo.refs:
            raise _Answer(404, "Not Found")
        return httpx.Response(200, json=self._ref_json(repo, full))

    def _create_ref(self, request: httpx.Request, payload: dict[str, Any], **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self.git[repo.id]
        ref, sha = str(payload.get("ref", "")), str(payload.get("sha", ""))
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise _Answer(422, f"{ref} is not a valid ref name.")
        if ref in repo.refs:
            raise _Answer(422, "Reference already exists")
        if sha not in git.commits:
            raise _Answer(422, "Object does not exist")
        repo.refs[ref] = sha
        return httpx.Response(201, json=self._ref_json(repo, ref))

    def _update_ref(self, request: httpx.Request, payload: dict[str, Any], ref: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        full, sha = f"refs/{ref}", str(payload.get("sha", ""))
        if full not in repo.refs:
            raise _Answer(422, "Reference does not exist")
        if sha not in git.commits:
            raise _Answer(422, "Object does not exist")
        if not payload.get("force") and repo.refs[full] not in git.ancestors(sha):
            raise _Answer(422, "Update is not a fast forward")
        repo.refs[full] = sha
        return httpx.Response(200, json=self._ref_json(repo, full))

    def _resolve_tree(self, repo: Repo, git: GitObjects, name: str) -> str:
        if name in git.trees:
            return name
        if name in git.commits:
            return str(git.commits[name]["tree"])
        head = repo.refs.get(f"refs/heads/{name}")
        if head is None:
            raise _Answer(404, "Not Found")
        return str(git.commits[head]["tree"])

    def _entry_json(self, repo: Repo, git: GitObjects, path: str, mode: str, sha: str) -> dict[str, Any]:
        if mode == "40000":
            return {"path": path, "mode": "040000", "type": "tree", "sha": sha,
                    "url": self._url(f"repos/{repo.full_name}/git/trees/{sha}")}
        return {"path": path, "mode": mode, "type": "blob", "sha": sha, "size": len(git.blobs[sha]),
                "url": self._url(f"repos/{repo.full_name}/git/blobs/{sha}")}

    def _listing(self, repo: Repo, git: GitObjects, tree: str, recursive: bool, prefix: str = "") -> list[Any]:
        out = []
        for mode, name, sha in git.trees[tree]:
            out.append(self._entry_json(repo, git, prefix + name, mode, sha))
            if recursive and mode == "40000":
                out.extend(self._listing(repo, git, sha, True, f"{prefix}{name}/"))
        return out

    def _get_tree(self, request: httpx.Request, payload: Any, tree: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        sha = self._resolve_tree(repo, git, tree)
        recursive = "recursive" in request.url.params
        entries = self._listing(repo, git, sha, recursive)
        truncated = recursive and len(entries) > self.tree_limit
        return httpx.Response(200, json={"sha": sha, "url": self._url(f"repos/{repo.full_name}/git/trees/{sha}"),
                                         "tree": entries[: self.tree_limit] if truncated else entries,
                                         "truncated": truncated})

    def _create_tree(self, request: httpx.Request, payload: dict[str, Any], **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        base = payload.get("base_tree")
        if base is not None and base not in git.trees:
            raise _Answer(422, "Invalid tree info", errors=[{"resource": "Tree", "field": "base_tree",
                                                                   "code": "invalid", "value": base}])
        flat = git.flatten(base) if base else {}
        for entry in payload.get("tree") or []:
            path, mode = str(entry.get("path", "")).strip("/"), str(entry.get("mode", ""))
            if "sha" in entry and "content" in entry:
                raise _Answer(422, "Only one of 'content' or 'sha' may be given for tree entry",
                              errors=[{"resource": "Tree", "field": "tree", "code": "invalid", "value": path}])
            if "sha" in entry and entry["sha"] is None:
                if path not in flat:
                    raise _Answer(422, f"GitRPC::BadObjectState: tree.path {path} does not exist")
                del flat[path]
            elif "content" in entry:
                flat[path] = (mode, git.blob(str(entry["content"]).encode()))
            elif entry.get("sha") in git.blobs:
                flat[path] = (mode, str(entry["sha"]))
            else:
                raise _Answer(422, f"GitRPC::BadObjectState: tree.sha {entry.get('sha')} is not a valid blob")
        sha = git.tree(flat)
        return httpx.Response(201, json={"sha": sha, "url": self._url(f"repos/{repo.full_name}/git/trees/{sha}"),
                                         "tree": self._listing(repo, git, sha, False), "truncated": False})

    def _get_blob(self, request: httpx.Request, payload: Any, sha: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        if sha not in git.blobs:
            raise _Answer(404, "Not Found")
        data = git.blobs[sha]
        return httpx.Response(200, json={"sha": sha, "size": len(data), "encoding": "base64",
                                         "content": base64.b64encode(data).decode(), "node_id": f"B_{sha}",
                                         "url": self._url(f"repos/{repo.full_name}/git/blobs/{sha}")})

    def _create_blob(self, request: httpx.Request, payload: dict[str, Any], **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        content = str(payload.get("content", ""))
        data = base64.b64decode(content) if payload.get("encoding") == "base64" else content.encode()
        sha = git.blob(data)
        return httpx.Response(201, json={"sha": sha, "url": self._url(f"repos/{repo.full_name}/git/blobs/{sha}")})

    def _commit_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        commit = self.git[repo.id].commits[sha]
        person = {"name": "dtm stand-in", "email": "standin@example.invalid", "date": _WHEN}
        return {"sha": sha, "node_id": f"C_{sha}", "url": self._url(f"repos/{repo.full_name}/git/commits/{sha}"),
                "message": commit["message"], "author": person, "committer": person,
                "tree": {"sha": commit["tree"], "url": self._url(f"repos/{repo.full_name}/git/trees/{commit['tree']}")},
                "parents": [{"sha": p, "url": self._url(f"repos/{repo.full_name}/git/commits/{p}")}
                            for p in commit["parents"]]}

    def _get_commit(self, request: httpx.Request, payload: Any, sha: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        if sha not in git.commits:
            raise _Answer(404, "Not Found")
        return httpx.Response(200, json=self._commit_json(repo, sha))

    def _create_commit(self, request: httpx.Request, payload: dict[str, Any], **where: str) -> httpx.Response:
        repo = self._find(**where)
        git = self._nonempty(repo)
        tree, parents = str(payload.get("tree", "")), [str(p) for p in payload.get("parents") or []]
        if tree not in git.trees:
            raise _Answer(422, "Tree SHA does not exist")
        if any(p not in git.commits for p in parents):
            raise _Answer(422, "Parent SHA does not exist or is not a commit object")
        sha = git.commit(tree, parents, str(payload.get("message", "")))
        return httpx.Response(201, json=self._commit_json(repo, sha))

    # -- compare ---------------------------------------------------------------------------------------
    def _commitish(self, repo: Repo, git: GitObjects, name: str) -> str:
        """The commit one side of a comparison names: a branch, a tag, or a commit SHA (full or abbreviated)."""
        for ref in (f"refs/heads/{name}", f"refs/tags/{name}"):
            if ref in repo.refs:
                return repo.refs[ref]
        abbreviated = re.fullmatch(r"[0-9a-fA-F]{7,40}", name) is not None
        found = [sha for sha in git.commits if sha.startswith(name.lower())] if abbreviated else []
        if len(found) != 1:
            raise _Answer(404, f"No commit found for SHA: {name}")
        return found[0]

    def _listed_commit_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        """A commit as the commits and compare APIs list it (GitHub's `commit` schema)."""
        git_commit = self._commit_json(repo, sha)
        web = f"https://github.com/{repo.full_name}/commit"
        return {"sha": sha, "node_id": f"C_{sha}", "url": self._url(f"repos/{repo.full_name}/commits/{sha}"),
                "html_url": f"{web}/{sha}", "comments_url": self._url(f"repos/{repo.full_name}/commits/{sha}/comments"),
                "commit": {"url": git_commit["url"], "author": git_commit["author"],
                           "committer": git_commit["committer"], "message": git_commit["message"],
                           "tree": git_commit["tree"], "comment_count": 0},
                "author": None, "committer": None,
                "parents": [{"sha": p["sha"], "url": self._url(f"repos/{repo.full_name}/commits/{p['sha']}"),
                             "html_url": f"{web}/{p['sha']}"} for p in git_commit["parents"]]}

    def _compare(self, request: httpx.Request, payload: Any, basehead: str, **where: str) -> httpx.Response:
        """`BASE...HEAD`, as `git log BASE..HEAD` sees it: `status` is `identical`, `ahead` (HEAD has commits BASE
        lacks, and not the other way), `behind` (the reverse) or `diverged`; 404 for a side GitHub cannot find,
        an empty repository, or two histories without a common ancestor."""
        repo = self._find(**where)
        if repo.empty:
            raise _Answer(404, "Not Found")
        git = self.git[repo.id]
        base_name, dots, head_name = basehead.partition("...")
        if not dots or not base_name or not head_name:
            raise _Answer(404, "Not Found")
        base, head = self._commitish(repo, git, base_name), self._commitish(repo, git, head_name)
        below_base, below_head = git.ancestors(base), git.ancestors(head)
        common = below_base & below_head
        if not common:
            raise _Answer(404, f"No common ancestor between {base_name} and {head_name}.")
        # the best common ancestor: one that is no other common ancestor's ancestor
        merge_base = min(c for c in common if not any(c != o and c in git.ancestors(o) for o in common))
        ahead, behind = below_head - below_base, below_base - below_head
        status = ("identical" if base == head else "ahead" if not behind else "behind" if not ahead
                  else "diverged")
        order: list[str] = []  # oldest first: every commit after its parents
        todo, seen = [head], set()
        while todo:
            sha = todo[-1]
            waiting = [p for p in git.commits[sha]["parents"] if p in ahead and p not in seen]
            if waiting:
                todo.extend(waiting)
                continue
            todo.pop()
            if sha not in seen and sha in ahead:
                seen.add(sha)
                order.append(sha)
        paged = "per_page" in request.url.params or "page" in request.url.params
        per_page = min(int(request.url.params.get("per_page", "30")), 100) if paged else 250
        page = max(int(request.url.params.get("page", "1")), 1)
        before, after = git.flatten(git.commits[merge_base]["tree"]), git.flatten(git.commits[head]["tree"])
        files = [{"sha": (after.get(path) or before[path])[1], "filename": path,
                  "status": "added" if path not in before else "removed" if path not in after else "modified",
                  "additions": 0, "deletions": 0, "changes": 0,
                  "blob_url": f"https://github.com/{repo.full_name}/blob/{head}/{path}",
                  "raw_url": f"https://github.com/{repo.full_name}/raw/{head}/{path}",
                  "contents_url": self._url(f"repos/{repo.full_name}/contents/{path}?ref={head}")}
                 for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)]
        web = f"https://github.com/{repo.full_name}/compare/{basehead}"
        body = {"url": self._url(f"repos/{repo.full_name}/compare/{basehead}"), "html_url": web,
                "permalink_url": f"https://github.com/{repo.full_name}/compare/{base}...{head}",
                "diff_url": f"{web}.diff", "patch_url": f"{web}.patch",
                "base_commit": self._listed_commit_json(repo, base),
                "merge_base_commit": self._listed_commit_json(repo, merge_base), "status": status,
                "ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
                "commits": [self._listed_commit_json(repo, sha)
                            for sha in order[(page - 1) * per_page: page * per_page]]}
        if page == 1:
            body["files"] = files[:300]
        return httpx.Response(200, json=body)

