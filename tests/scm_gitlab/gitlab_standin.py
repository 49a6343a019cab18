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
- runners made through the API (GitLab 15.10+): `POST /user/runners` (400 without `runner_type`, or a
  `project_type` runner without `project_id`; 403 for a project the user cannot see; `tag_list` an array or
  a comma-separated string) answers the id and a `glrt-` token once; `GET`/`DELETE /runners/:id`, 404 once gone;
- 401 without the right PRIVATE-TOKEN; 429 with Retry-After (or 503) on demand (`fail_next`); chosen requests
  refused on demand (`refuse`), for a call that fails midway.

The stand-in is split along GitLab's API: its records (gitlab_standin_objects.py), the repository routes
(gitlab_standin_repository.py), and the variables and hooks (gitlab_standin_settings.py); this module
routes requests and holds the set-up and inspection helpers.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import unquote

import httpx
from gitlab_standin_objects import HOOK_FLAGS, Commit, Namespace, Project, _error, _Refusal
from gitlab_standin_repository import RepositoryRoutes
from gitlab_standin_settings import SettingsRoutes, _hook_json

from devstream.plugin.http import RetryingTransport, http_client

__all__ = ["HOOK_FLAGS", "GitLabStandIn", "Project"]


class GitLabStandIn(RepositoryRoutes, SettingsRoutes):
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
        self.runners: dict[int, dict[str, Any]] = {}  # as stored: with the `token`
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
            case ["user", "runners"] if method == "POST":
                return self._create_runner(body)
            case ["runners", runner_id] if method in ("GET", "DELETE"):
                runner = self.runners.get(int(runner_id)) if runner_id.isdigit() else None
                if runner is None:
                    return _error(404, "404 Runner Not Found")
                if method == "DELETE":
                    del self.runners[runner["id"]]
                    return httpx.Response(204)
                return httpx.Response(200, json={k: v for k, v in runner.items() if k != "token"})
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

    def _create_runner(self, body: dict[str, Any]) -> httpx.Response:
        if "runner_type" not in body:
            return _error(400, "runner_type is missing")
        if body["runner_type"] != "project_type" or "project_id" not in body:
            return _error(400, "project_id is missing" if body["runner_type"] == "project_type" else "unsupported")
        project = self._find(str(body["project_id"]))
        if project is None:
            return _error(403, "403 Forbidden")
        tags = body.get("tag_list", [])
        tags = [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else list(tags)
        runner_id = next(self._ids)
        self.runners[runner_id] = {
            "id": runner_id, "runner_type": "project_type", "description": body.get("description", ""),
            "tag_list": tags, "run_untagged": bool(body.get("run_untagged", True)), "paused": False,
            "projects": [{"id": project.id, "path_with_namespace": project.path}],
            "token": f"glrt-standin{next(self._shas):06d}"}
        return httpx.Response(201, json={"id": runner_id, "token": self.runners[runner_id]["token"],
                                         "token_expires_at": None})

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
