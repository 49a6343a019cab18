"""An in-process GitLab for tests: the REST API v4 endpoints dtm uses, with GitLab's state and quirks.

It is an `httpx.MockTransport` handler. `client_factory` builds dtm's real client (the real
`RetryingTransport`, its sleeps recorded instead of slept) over it, for `PluginContext(client_factory=...)`
or to stand in for `devstream.plugin.http.http_client`.

What it keeps like GitLab does:
- projects addressed by URL-encoded path or id; 404 `Project Not Found`; 400 `has already been taken`;
  delayed deletion on demand (the project stays readable, marked for deletion);
- namespaces (the user's and groups) by path;
- branches whose heads hold a whole file tree; a commit is a new snapshot with a new SHA and its parents,
  kept by SHA after a force-push (`force_push`) leaves it behind;
- the merge base of refs (branches or SHAs): 400 `Could not find ref` for one it does not know, 404 when
  they share no history;
- files: `blob_id` is the real git blob SHA; content base64; HEAD answers with `X-Gitlab-*` headers;
- the tree: recursive or not, `path`, 404 on an empty repository or a missing ref/path, offset pagination
  (`X-Next-Page`, `X-Total`, `Link`) or keyset-style (`Link` only);
- commits with actions: 400 for creating an existing file and for updating or deleting a missing one;
  on an empty project `branch` alone creates the branch (and makes it the default); on a non-empty one a
  new branch needs `start_branch`, else "You can only create or edit files when you are on a branch";
- CI/CD variables per environment scope: 400 taken, 400 for a masked value GitLab cannot mask, 404 on
  PUT/DELETE of a missing one, 409 when a key has several scopes and no filter is given;
- project hooks: 400 without `url`, 422 `Invalid url given`, `push_events` and `enable_ssl_verification` on
  unless sent false, the `token` kept but never shown, a paginated listing, 404 for a missing hook;
- the project's runner registration token (`runners_token`, shown to maintainers), a new one on each
  `POST runners_reset_registration_token`; `shared_runners_enabled`, set with `PUT /projects/:id`;
- 401 without the right PRIVATE-TOKEN; 429 with Retry-After (or 503) on demand (`fail_next`); chosen requests
  refused on demand (`refuse`), for a call that fails midway.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

from devstream.plugin.http import RetryingTransport, http_client
from devstream.plugins.scm.base import git_blob_sha

__all__ = ["GitLabStandIn", "Project"]

_MASKABLE = re.compile(r"[A-Za-z0-9+/=_@:.~-]{8,}")
_KEY = re.compile(r"[A-Za-z0-9_]{1,255}")
# A project hook's event flags, and whether GitLab sets each when a create leaves it out.
HOOK_FLAGS = {"push_events": True, "tag_push_events": False, "merge_requests_events": False, "issues_events": False,
              "confidential_issues_events": False, "note_events": False, "confidential_note_events": False,
              "job_events": False, "pipeline_events": False, "wiki_page_events": False, "deployment_events": False,
              "releases_events": False, "repository_update_events": False}


@dataclass
class Namespace:
    id: int
    full_path: str
    kind: str  # "user" or "group"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.full_path.rpartition("/")[2], "path": self.full_path.rpartition("/")[2],
                "kind": self.kind, "full_path": self.full_path}


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]
    message: str
    parents: list[str] = field(default_factory=list)


@dataclass
class Project:
    id: int
    path: str  # namespace/name
    namespace: Namespace
    visibility: str = "private"
    description: str = ""
    default_branch: str = "main"  # what GitLab reports even for an empty project (the instance default)
    branches: dict[str, Commit] = field(default_factory=dict)
    variables: list[dict[str, Any]] = field(default_factory=list)
    marked_for_deletion: bool = False
    commits: int = 0
    hooks: list[dict[str, Any]] = field(default_factory=list)  # as stored: with the `token`
    # every commit by SHA, those no branch reaches any more (after a force-push) included, as git keeps them
    history: dict[str, Commit] = field(default_factory=dict)
    runners_token: str = "GR1348941standin-initial"
    shared_runners_enabled: bool = True

    @property
    def empty(self) -> bool:
        return not self.branches


def _error(status: int, message: Any) -> httpx.Response:
    return httpx.Response(status, json={"message": message})


@dataclass
class _Refusal:
    method: str
    path: re.Pattern[str]
    status: int
    message: Any
    times: int | None  # how many more to refuse; None: every one


class GitLabStandIn:
    """A stateful GitLab at `base_url` (default gitlab.com), for one user and their token."""

    def __init__(self, base_url: str = "https://gitlab.com", *, token: str = "glpat-standin-0123456789",
                 username: str = "alice", delayed_deletion: bool = False, keyset_pagination: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_prefix = httpx.URL(self.base_url + "/api/v4").raw_path.decode()
        self.host = httpx.URL(self.base_url).host
        self.token = token
        self.username = username
        self.delayed_deletion = delayed_deletion
        self.keyset_pagination = keyset_pagination
        # Where `Link: rel="next"` points, when a test plays a proxy or server that rewrites it (else the API).
        self.next_link_origin: str | None = None
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self._ids = itertools.count(100)
        self._shas = itertools.count(1)
        self.namespaces: dict[str, Namespace] = {}
        self.projects: dict[str, Project] = {}
        self._failures: list[httpx.Response] = []
        self._refusals: list[_Refusal] = []
        self.add_namespace(username, kind="user")

    # -- set-up and inspection for tests -----------------------------------------------------------------
    def add_namespace(self, full_path: str, kind: str = "group") -> Namespace:
        ns = Namespace(next(self._ids), full_path, kind)
        self.namespaces[full_path] = ns
        return ns

    def add_project(self, path: str, files: dict[str, bytes] | None = None, branch: str = "main") -> Project:
        namespace_path = path.rpartition("/")[0]
        ns = self.namespaces.get(namespace_path) or self.add_namespace(namespace_path)
        project = Project(next(self._ids), path, ns, default_branch=branch)
        self.projects[path] = project
        if files:
            self._commit(project, branch, dict(files), "initial commit")
        return project

    def project(self, path: str) -> Project:
        return self.projects[path]

    def files(self, path: str, branch: str | None = None) -> dict[str, bytes]:
        """Path -> content of every file on the branch (default: the default branch; {} for an empty project)."""
        project = self.projects[path]
        head = project.branches.get(branch or project.default_branch)
        return {} if head is None else dict(head.files)

    def file(self, path: str, file_path: str, branch: str | None = None) -> bytes | None:
        project = self.projects[path]
        head = project.branches.get(branch or project.default_branch)
        return None if head is None else head.files.get(file_path)

    def edit(self, path: str, file_path: str, content: bytes | None, branch: str | None = None) -> None:
        """A hand edit in GitLab's web editor: a new commit writing (or, with None, deleting) the file."""
        project = self.projects[path]
        name = branch or project.default_branch
        files = dict(project.branches[name].files)
        if content is None:
            files.pop(file_path, None)
        else:
            files[file_path] = content
        self._commit(project, name, files, f"Edit {file_path}")

    def force_push(self, path: str, files: dict[str, bytes], message: str = "rewritten", *,
                   parents: tuple[str, ...] = (), branch: str | None = None) -> Commit:
        """History rewritten by hand (`git push --force`): the branch is moved to a new commit of exactly `files`
        whose parents are `parents` (none: a new root). The commits it leaves behind stay known by SHA."""
        project = self.projects[path]
        return self._commit(project, branch or project.default_branch, dict(files), message, list(parents))

    def variable(self, path: str, key: str) -> dict[str, Any] | None:
        found = [v for v in self.projects[path].variables if v["key"] == key]
        return found[0] if found else None

    def hook(self, path: str, url: str) -> dict[str, Any] | None:
        """The project's hook for `url` as stored, `token` included (the API never shows it)."""
        return next((h for h in self.projects[path].hooks if h["url"] == url), None)

    def add_hook(self, path: str, url: str, **flags: Any) -> dict[str, Any]:
        """A hook made by hand in GitLab's settings."""
        hook = self._new_hook(self.projects[path], {"url": url, **flags})
        self.projects[path].hooks.append(hook)
        return hook

    def fail_next(self, times: int, status: int = 429, retry_after: str | None = "2") -> None:
        """The next `times` requests get `status` (with Retry-After unless None) before anything else."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._failures += [httpx.Response(status, headers=headers, json={"message": f"{status}"})] * times

    def refuse(self, method: str, path: str, status: int = 400, message: Any = "refused by the test", *,
               times: int | None = None) -> None:
        """Answer requests whose method matches and whose (unquoted) path the regex finds with `status` and
        `{"message": message}`, before anything else: the next `times` of them, or every one (a call that fails
        midway)."""
        self._refusals.append(_Refusal(method.upper(), re.compile(path), status, message, times))

    def client_factory(self, **kwargs: Any) -> httpx.Client:
        """dtm's plugin HTTP client over this stand-in: the real retrying transport, sleeps recorded."""
        transport = RetryingTransport(httpx.MockTransport(self), sleep=self.sleeps.append)
        return http_client(transport=transport, **kwargs)

    def hosts(self) -> set[str]:
        return {r.url.host for r in self.requests}

    def calls(self, method: str | None = None, contains: str = "") -> list[httpx.Request]:
        return [r for r in self.requests if (method is None or r.method == method)
                and contains in r.url.raw_path.decode()]

    # -- the HTTP side -------------------------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._failures:
            return self._failures.pop(0)
        raw = request.url.raw_path.decode().partition("?")[0]
        for refusal in self._refusals:
            if request.method == refusal.method and refusal.path.search(unquote(raw)) and refusal.times != 0:
                refusal.times = None if refusal.times is None else refusal.times - 1
                return _error(refusal.status, refusal.message)
        if request.url.host != self.host or not raw.startswith(self.api_prefix + "/"):
            return _error(404, "404 Not Found")
        if request.headers.get("private-token") != self.token:
            return _error(401, "401 Unauthorized")
        # Split before unquoting, as GitLab's router does: `acme%2Fweb` is one segment.
        parts = [unquote(p) for p in raw[len(self.api_prefix) + 1:].split("/")]
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        query = dict(request.url.params)
        method = request.method
        match parts:
            case ["user"] if method == "GET":
                return httpx.Response(200, json={"id": self.namespaces[self.username].id, "username": self.username})
            case ["namespaces" | "groups" as kind, path] if method == "GET":
                found = self.namespaces.get(path)
                if found is None or (kind == "groups" and found.kind != "group"):
                    return _error(404, f"404 {kind[:-1].capitalize()} Not Found")
                return httpx.Response(200, json=found.as_json())
            case ["projects"] if method == "POST":
                return self._create_project(body)
        if len(parts) < 2 or parts[0] != "projects":
            return _error(404, "404 Not Found")
        project = self._find(parts[1])
        if project is None:
            return _error(404, "404 Project Not Found")
        match parts[2:], method:
            case [], "GET":
                return httpx.Response(200, json=self._project_json(project))
            case [], "DELETE":
                return self._delete_project(project)
            case [], "PUT":
                if "shared_runners_enabled" in body:
                    project.shared_runners_enabled = bool(body["shared_runners_enabled"])
                return httpx.Response(200, json=self._project_json(project))
            case ["runners_reset_registration_token"], "POST":
                project.runners_token = f"GR1348941standin-{next(self._shas):06d}"
                return httpx.Response(201, json={"token": project.runners_token,
                                                 "token_expires_at": None})
            case ["repository", "files", file_path], "GET" | "HEAD":
                return self._get_file(project, file_path, query, head=method == "HEAD")
            case ["repository", "tree"], "GET":
                return self._tree(project, query, request)
            case ["repository", "commits"], "POST":
                return self._create_commit(project, body)
            case ["repository", "branches", name], "GET":
                head = project.branches.get(name)
                if head is None:
                    return _error(404, "404 Branch Not Found")
                return httpx.Response(200, json={"name": name, "commit": {"id": head.sha}})
            case ["repository", "branches"], "POST":
                return self._create_branch(project, query)
            case ["repository", "merge_base"], "GET":
                return self._merge_base(project, request)
            case ["variables"], "GET":
                listed = [dict(v) for v in project.variables]
                return self._page(listed, query, request)
            case ["variables"], "POST":
                return self._create_variable(project, body)
            case ["variables", key], "GET" | "PUT" | "DELETE":
                return self._variable(project, key, method, query, body)
            case ["hooks"], "GET":
                return self._page([_hook_json(h) for h in project.hooks], query, request)
            case ["hooks"], "POST":
                return self._create_hook(project, body)
            case ["hooks", hook_id], "GET" | "PUT" | "DELETE":
                return self._hook(project, hook_id, method, body)
        return _error(404, "404 Not Found")

    # -- projects --------------------------------------------------------------------------------------------
    def _find(self, ident: str) -> Project | None:
        if ident.isdigit():
            return next((p for p in self.projects.values() if p.id == int(ident)), None)
        return self.projects.get(ident)

    def _project_json(self, project: Project) -> dict[str, Any]:
        name = project.path.rpartition("/")[2]
        return {
            "id": project.id, "name": name, "path": name, "path_with_namespace": project.path,
            "namespace": project.namespace.as_json(), "visibility": project.visibility,
            "description": project.description, "default_branch": project.default_branch,
            "empty_repo": project.empty, "http_url_to_repo": f"{self.base_url}/{project.path}.git",
            "web_url": f"{self.base_url}/{project.path}",
            "marked_for_deletion_at": "2030-01-01" if project.marked_for_deletion else None,
            "runners_token": project.runners_token, "shared_runners_enabled": project.shared_runners_enabled,
        }

    def _create_project(self, body: dict[str, Any]) -> httpx.Response:
        wanted = body.get("namespace_id", self.namespaces[self.username].id)
        ns = next((n for n in self.namespaces.values() if n.id == wanted), None)
        if ns is None:
            return _error(404, "404 Namespace Not Found")
        path = f"{ns.full_path}/{body.get('path') or body['name']}"
        if path in self.projects:
            taken = ["has already been taken"]
            return _error(400, {"project_namespace.name": taken, "name": taken, "path": taken})
        project = Project(next(self._ids), path, ns, visibility=body.get("visibility", "private"),
                          description=body.get("description", ""))
        self.projects[path] = project
        if body.get("initialize_with_readme"):
            self._commit(project, project.default_branch, {"README.md": b"# readme\n"}, "Initial commit")
        return httpx.Response(201, json=self._project_json(project))

    def _delete_project(self, project: Project) -> httpx.Response:
        if self.delayed_deletion:
            project.marked_for_deletion = True
        else:
            del self.projects[project.path]
        return httpx.Response(202, json={"message": "202 Accepted"})

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

    # -- variables ---------------------------------------------------------------------------------------------
    def _create_variable(self, project: Project, body: dict[str, Any]) -> httpx.Response:
        key, scope = body.get("key", ""), body.get("environment_scope", "*")
        if not _KEY.fullmatch(key):
            return _error(400, {"key": ["can contain only letters, digits and '_'."]})
        if any(v["key"] == key and v["environment_scope"] == scope for v in project.variables):
            return _error(400, {"key": [f"({key}) has already been taken"]})
        if body.get("masked") and not _MASKABLE.fullmatch(str(body.get("value", ""))):
            return _error(400, {"value": ["is invalid"]})
        variable = {"key": key, "value": str(body.get("value", "")), "variable_type": body.get("variable_type",
                    "env_var"), "protected": bool(body.get("protected", False)), "masked": bool(body.get("masked")),
                    "raw": bool(body.get("raw", False)), "environment_scope": scope,
                    "description": body.get("description")}
        project.variables.append(variable)
        return httpx.Response(201, json=variable)

    def _variable(self, project: Project, key: str, method: str, query: dict[str, str],
                  body: dict[str, Any]) -> httpx.Response:
        scope = query.get("filter[environment_scope]")
        found = [v for v in project.variables if v["key"] == key and (scope is None or v["environment_scope"] == scope)]
        if not found:
            return _error(404, "404 Variable Not Found")
        if len(found) > 1:
            return _error(409, "There are multiple variables with provided parameters. Please use "
                               "'filter[environment_scope]'")
        variable = found[0]
        if method == "GET":
            return httpx.Response(200, json=variable)
        if method == "DELETE":
            project.variables.remove(variable)
            return httpx.Response(204)
        value = str(body.get("value", variable["value"]))
        if body.get("masked", variable["masked"]) and not _MASKABLE.fullmatch(value):
            return _error(400, {"value": ["is invalid"]})
        variable.update({k: v for k, v in body.items() if k in
                         ("value", "protected", "masked", "raw", "variable_type", "description")})
        return httpx.Response(200, json=variable)

    # -- hooks -------------------------------------------------------------------------------------------------
    def _new_hook(self, project: Project, body: dict[str, Any]) -> dict[str, Any]:
        hook: dict[str, Any] = {"id": next(self._ids), "url": body["url"], "project_id": project.id,
                                "created_at": "2024-01-01T00:00:00Z", "alert_status": "executable",
                                "disabled_until": None, "push_events_branch_filter": "",
                                "enable_ssl_verification": True, "token": ""}
        hook |= {flag: default for flag, default in HOOK_FLAGS.items()}
        return _update_hook(hook, body)

    def _create_hook(self, project: Project, body: dict[str, Any]) -> httpx.Response:
        if not body.get("url"):
            return httpx.Response(400, json={"error": "url is missing"})
        if not _HOOK_URL.fullmatch(str(body["url"])):
            return _error(422, "Invalid url given")
        hook = self._new_hook(project, body)
        project.hooks.append(hook)
        return httpx.Response(201, json=_hook_json(hook))

    def _hook(self, project: Project, hook_id: str, method: str, body: dict[str, Any]) -> httpx.Response:
        hook = next((h for h in project.hooks if str(h["id"]) == hook_id), None)
        if hook is None:
            return _error(404, "404 Not found")
        if method == "GET":
            return httpx.Response(200, json=_hook_json(hook))
        if method == "DELETE":
            project.hooks.remove(hook)
            return httpx.Response(204)
        if "url" in body and not _HOOK_URL.fullmatch(str(body["url"])):
            return _error(422, "Invalid url given")
        return httpx.Response(200, json=_hook_json(_update_hook(hook, body)))


_HOOK_URL = re.compile(r"https?://[^/\s]+(/\S*)?")


def _update_hook(hook: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Set what the request sends; GitLab ignores parameters it does not know."""
    for key in ("url", "token", "enable_ssl_verification", "push_events_branch_filter", *HOOK_FLAGS):
        if key in body:
            hook[key] = body[key] if key in ("url", "token", "push_events_branch_filter") else bool(body[key])
    return hook


def _hook_json(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hook.items() if k != "token"}  # "this isn't returned in the response"
