"""An in-process, stateful stand-in for GitHub's REST API: the endpoints dtm's GitHub client uses.

It keeps real git objects (blob, tree and commit SHAs are the ones git would compute), so what a test
reads back can be compared with `git hash-object`. It answers as GitHub does where that matters to a
client: 404 for what does not exist, 409 from the git data API on an empty repository, 422 for a name
that is taken or a ref that does not fast-forward, Link headers on paginated lists (pointing at
`/repositories/{id}/...`, as GitHub's do), secrets sealed for a real NaCl key pair, and, on demand,
429 or 403 answers with `Retry-After` (see `inject`).

Webhooks behave as GitHub documents them: a create needs `config.url` (else 422) and known event names;
a second hook with the same URL and an overlapping event is refused (422 "Hook already exists"); a PATCH's
`config` replaces the whole config, so one without `secret` removes the secret; a set secret is shown as
`********`, never as itself.

The compare API (`/compare/BASE...HEAD`) walks the commit graph: `identical`, `ahead`, `behind` or `diverged`,
and 404 for a branch or SHA it does not know or for histories with no common ancestor. A commit that a
force-push (`force_push`) left behind is still known by its SHA, as on GitHub.

Every request is recorded in `requests` with the answer it got, so a test can check what was sent (and the
suite checks both against GitHub's OpenAPI description). Serve it with `httpx.MockTransport(standin.handler)`.

The stand-in is split along GitHub's API: the records and git objects (github_standin_objects.py), the
contents and git data routes (github_standin_git.py), and the secrets and webhook routes
(github_standin_settings.py); this module routes requests and holds the test helpers.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import httpx
from github_standin_git import GitDataRoutes
from github_standin_objects import (
    _T,
    API_VERSION,
    HOOK_EVENTS,
    GitObjects,
    Hook,
    Injected,
    Recorded,
    Repo,
    Route,
    Secret,
    _Answer,
    _error,
)
from github_standin_settings import SettingsRoutes
from nacl.public import PrivateKey, SealedBox

__all__ = ["API_VERSION", "HOOK_EVENTS", "GitHubStandIn", "Hook", "Injected", "Recorded", "Repo", "Secret"]


class GitHubStandIn(GitDataRoutes, SettingsRoutes):
    """GitHub, as far as dtm's client needs it. `handler` is the function for `httpx.MockTransport`."""

    def __init__(self, *, api: str = "https://api.github.com", token: str = "ghp_standin_token",
                 login: str = "octo", orgs: tuple[str, ...] = ("acme",)) -> None:
        self.api = httpx.URL(api.rstrip("/") + "/")
        self.token = token
        self.login = login
        self.orgs = set(orgs)
        self.repos: dict[str, Repo] = {}  # lower-cased full name -> repo
        self.git: dict[int, GitObjects] = {}
        self.requests: list[Recorded] = []
        self._serving = threading.Lock()  # the engine calls from several threads: one request at a time
        self.injected: list[Injected] = []
        self.sleeps: list[float] = []  # what the retrying transport waited, when the test wires it so
        self.tree_limit = 100_000  # a recursive tree listing longer than this is truncated, as GitHub's are
        # Where `Link: rel="next"` points, when a test plays a proxy or server that rewrites it (else the API).
        self.next_link_origin: str | None = None
        self.private_key = PrivateKey.generate()
        self.key_id = "568250167242549743"
        self._ids = itertools.count(1000)
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        by_id = r"/repositories/(?P<repo_id>\d+)"
        table: list[tuple[str, str, Route]] = [
            ("GET", r"/user", self._get_user),
            ("POST", r"/user/repos", self._create_user_repo),
            ("POST", r"/orgs/(?P<org>[^/]+)/repos", self._create_org_repo),
            ("GET", "", self._get_repo),
            ("DELETE", "", self._delete_repo),
            ("GET", r"/contents/(?P<path>.*)", self._get_contents),
            ("PUT", r"/contents/(?P<path>.+)", self._put_contents),
            ("GET", r"/git/ref/(?P<ref>.+)", self._get_ref),
            ("POST", r"/git/refs", self._create_ref),
            ("PATCH", r"/git/refs/(?P<ref>.+)", self._update_ref),
            ("GET", r"/git/trees/(?P<tree>.+)", self._get_tree),  # a SHA, or a branch name with its slashes
            ("POST", r"/git/trees", self._create_tree),
            ("GET", r"/git/blobs/(?P<sha>[0-9a-f]{40})", self._get_blob),
            ("POST", r"/git/blobs", self._create_blob),
            ("GET", r"/git/commits/(?P<sha>[0-9a-f]{40})", self._get_commit),
            ("POST", r"/git/commits", self._create_commit),
            ("GET", r"/compare/(?P<basehead>.+)", self._compare),
            ("GET", r"/actions/secrets", self._list_secrets),
            ("GET", r"/actions/secrets/public-key", self._public_key),
            ("GET", r"/actions/secrets/(?P<secret>[^/]+)", self._get_secret),
            ("PUT", r"/actions/secrets/(?P<secret>[^/]+)", self._put_secret),
            ("DELETE", r"/actions/secrets/(?P<secret>[^/]+)", self._delete_secret),
            ("GET", r"/hooks", self._list_hooks),
            ("POST", r"/hooks", self._create_hook),
            ("GET", r"/hooks/(?P<hook_id>\d+)", self._get_hook),
            ("PATCH", r"/hooks/(?P<hook_id>\d+)", self._update_hook),
            ("DELETE", r"/hooks/(?P<hook_id>\d+)", self._delete_hook),
        ]
        for method, pattern, route in table:
            if pattern.startswith(("/user", "/orgs")):
                self._routes.append((method, re.compile(pattern + "$"), route))
            else:
                self._routes.append((method, re.compile(repo + pattern + "$"), route))
                self._routes.append((method, re.compile(by_id + pattern + "$"), route))

    # -- test helpers ----------------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def inject(self, method: str, path: str, status: int, *, headers: dict[str, str] | None = None,
               message: str = "injected failure", times: int = 1, body: Any = None) -> None:
        """Answer the next `times` requests whose method matches and whose API path matches the regex: with an
        error carrying `message`, or with `body` when given (an answer GitHub may give but seldom does)."""
        self.injected.append(Injected(method.upper(), re.compile(path), status, dict(headers or {}),
                                      _error(message) if body is None else body, times))

    def add_repo(self, full_name: str, *, files: dict[str, bytes] | None = None, branch: str = "main",
                 private: bool = True) -> Repo:
        """A repository made behind the client's back, empty or with one commit of `files`."""
        owner, name = full_name.split("/")
        repo = Repo(id=next(self._ids), owner=owner, name=name, private=private, description="",
                    default_branch=branch)
        self.repos[full_name.lower()] = repo
        self.git[repo.id] = GitObjects()
        if files:
            self.commit_files(full_name, files, "seed", branch=branch)
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def files(self, full_name: str, branch: str | None = None) -> dict[str, bytes]:
        """Path -> content of every file on the branch ({} for an empty repository)."""
        repo = self.repo(full_name)
        head = repo.refs.get(f"refs/heads/{branch or repo.default_branch}")
        if head is None:
            return {}
        git = self.git[repo.id]
        flat = git.flatten(git.commits[head]["tree"])
        return {path: git.blobs[sha] for path, (_, sha) in flat.items()}

    def history(self, full_name: str, branch: str | None = None) -> list[dict[str, Any]]:
        """The branch's commits, newest first (first parents only)."""
        repo = self.repo(full_name)
        sha = repo.refs.get(f"refs/heads/{branch or repo.default_branch}")
        out = []
        while sha is not None:
            commit = self.git[repo.id].commits[sha]
            out.append({"sha": sha, **commit})
            sha = commit["parents"][0] if commit["parents"] else None
        return out

    def commit_files(self, full_name: str, files: Mapping[str, bytes | None], message: str,
                     branch: str | None = None) -> str:
        """A commit made by someone else (a hand edit): write files, or delete those mapped to None."""
        repo = self.repo(full_name)
        git = self.git[repo.id]
        ref = f"refs/heads/{branch or repo.default_branch}"
        head = repo.refs.get(ref)
        flat = git.flatten(git.commits[head]["tree"]) if head else {}
        for path, data in files.items():
            if data is None:
                flat.pop(path, None)
            else:
                flat[path] = ("100644", git.blob(data))
        repo.refs[ref] = git.commit(git.tree(flat), [head] if head else [], message)
        return repo.refs[ref]

    def force_push(self, full_name: str, files: dict[str, bytes], message: str = "rewritten", *,
                   parents: tuple[str, ...] = (), branch: str | None = None) -> str:
        """History rewritten by hand (`git push --force`): the branch is moved to a new commit of exactly `files`
        whose parents are `parents` (none: a new root), whatever it pointed at before. The commits it leaves
        behind stay in the object database, as GitHub keeps them, and stay known by SHA."""
        repo = self.repo(full_name)
        git = self.git[repo.id]
        flat = {path: ("100644", git.blob(data)) for path, data in files.items()}
        sha = git.commit(git.tree(flat), list(parents), message)
        repo.refs[f"refs/heads/{branch or repo.default_branch}"] = sha
        return sha

    def secret_value(self, full_name: str, name: str) -> str:
        """A secret's value, decrypted with the stand-in's private key."""
        sealed = base64.b64decode(self.repo(full_name).secrets[name].encrypted)
        return SealedBox(self.private_key).decrypt(sealed).decode()

    def public_key(self) -> str:
        return base64.b64encode(bytes(self.private_key.public_key)).decode()

    def add_hook(self, full_name: str, url: str, events: list[str] | None = None, *, secret: str | None = None,
                 content_type: str = "form") -> Hook:
        """A webhook made by hand in GitHub's settings (GitHub's default content type is form)."""
        repo = self.repo(full_name)
        config: dict[str, Any] = {"url": url, "content_type": content_type, "insecure_ssl": "0"}
        if secret is not None:
            config["secret"] = secret
        hook = Hook(next(self._ids), list(events or ["push"]), True, config)
        repo.hooks[hook.id] = hook
        return hook

    def calls(self, method: str | None = None, contains: str = "") -> list[str]:
        """`METHOD path` of the recorded requests, optionally filtered."""
        return [f"{r.method} {unquote(r.path)}" for r in self.requests
                if (method is None or r.method == method) and contains in unquote(r.path)]

    # -- dispatch --------------------------------------------------------------------------------------
    def handler(self, request: httpx.Request) -> httpx.Response:
        with self._serving:  # so that the answer is recorded with its own request
            response = self._respond(request)
            self.requests[-1].response = response
        return response

    def _respond(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        raw_path = request.url.raw_path.split(b"?", 1)[0].decode()
        base = self.api.raw_path.decode().rstrip("/")
        path = raw_path[len(base):] if raw_path.startswith(base + "/") else raw_path
        self.requests.append(Recorded(request.method, request.url, path, request.headers, body))
        if request.url.host != self.api.host or not raw_path.startswith(base + "/"):
            return httpx.Response(404, json=_error("Not Found"))
        for rule in self.injected:
            if rule.times > 0 and rule.method == request.method and rule.pattern.search(unquote(path)):
                rule.times -= 1
                return httpx.Response(rule.status, headers=rule.headers, json=rule.body)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json=_error("Bad credentials"))
        version = request.headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:
            return httpx.Response(400, json=_error(f"Invalid API version {version}"))
        for method, pattern, route in self._routes:
            match = pattern.match(path)
            if match and method == request.method:
                args = {k: unquote(v) for k, v in match.groupdict().items()}
                payload = json.loads(body) if body else {}
                try:
                    return route(request, payload, **args)
                except _Answer as answer:
                    return httpx.Response(answer.status, json=answer.body)
        return httpx.Response(404, json=_error("Not Found"))

    def _find(self, owner: str | None = None, name: str | None = None, repo_id: str | None = None) -> Repo:
        if repo_id is not None:
            found = next((r for r in self.repos.values() if r.id == int(repo_id)), None)
        else:
            found = self.repos.get(f"{owner}/{name}".lower())
        if found is None:
            raise _Answer(404, "Not Found")
        return found

    def _nonempty(self, repo: Repo) -> GitObjects:
        if repo.empty:
            raise _Answer(409, "Git Repository is empty.")
        return self.git[repo.id]

    def _url(self, path: str) -> str:
        return str(self.api.join(path.lstrip("/")))

    def _page(self, request: httpx.Request, items: list[_T], path: str) -> tuple[list[_T], dict[str, str]]:
        """The page of `items` the request asks for (`per_page`, default 30, at most 100; `page`, from 1), and the
        headers of the answer: a `link` to those of the next, last, first and previous pages of `path` (under the
        API) that exist."""
        per_page = min(int(request.url.params.get("per_page", "30")), 100)
        page = max(int(request.url.params.get("page", "1")), 1)
        last = max(1, -(-len(items) // per_page))
        base = self._url(path)
        links = []
        if page < last:
            origin = self.next_link_origin
            following = base if origin is None else str(httpx.URL(origin).join(httpx.URL(base).raw_path.decode()))
            links.append(f'<{following}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
        return items[(page - 1) * per_page: page * per_page], {"link": ", ".join(links)} if links else {}

    def _repo_json(self, repo: Repo) -> dict[str, Any]:
        return {
            "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
            "owner": {"login": repo.owner, "type": "Organization" if repo.owner in self.orgs else "User"},
            "private": repo.private, "description": repo.description or None, "default_branch": repo.default_branch,
            "html_url": f"https://github.com/{repo.full_name}", "clone_url": f"https://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git", "url": self._url(f"repos/{repo.full_name}"),
            "size": 0 if repo.empty else 1,
        }

    # -- users and repositories ------------------------------------------------------------------------
    def _get_user(self, request: httpx.Request, payload: Any) -> httpx.Response:
        return httpx.Response(200, json={"login": self.login, "id": 1, "type": "User"})

    def _create_user_repo(self, request: httpx.Request, payload: Any) -> httpx.Response:
        return self._create(self.login, payload)

    def _create_org_repo(self, request: httpx.Request, payload: Any, org: str) -> httpx.Response:
        known = next((o for o in self.orgs if o.lower() == org.lower()), None)
        if known is None:
            raise _Answer(404, "Not Found")
        return self._create(known, payload)

    def _create(self, owner: str, payload: dict[str, Any]) -> httpx.Response:
        name = str(payload.get("name", ""))
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise _Answer(422, "Repository creation failed.",
                          errors=[{"resource": "Repository", "code": "custom", "field": "name",
                                   "message": "name is invalid"}])
        if f"{owner}/{name}".lower() in self.repos:
            raise _Answer(422, "Repository creation failed.",
                          errors=[{"resource": "Repository", "code": "custom", "field": "name",
                                   "message": "name already exists on this account"}])
        repo = self.add_repo(f"{owner}/{name}", private=bool(payload.get("private", False)))
        repo.description = str(payload.get("description") or "")
        if payload.get("auto_init"):
            self.commit_files(repo.full_name, {"README.md": f"# {name}\n".encode()}, "Initial commit")
        return httpx.Response(201, json=self._repo_json(repo))

    def _get_repo(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        return httpx.Response(200, json=self._repo_json(self._find(**where)))

    def _delete_repo(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        repo = self._find(**where)
        del self.repos[repo.full_name.lower()]
        return httpx.Response(204)

