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
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
from nacl.public import PrivateKey, SealedBox

API_VERSION = "2022-11-28"
_STAMP = "1700000000 +0000"
_WHEN = "2024-01-01T00:00:00Z"
_SECRET_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_T = TypeVar("_T")
_CONTENT_LIMIT = 1_000_000  # the contents API leaves out the content of bigger files
# The repository webhook events GitHub accepts (its webhook event names), and its wildcard.
HOOK_EVENTS = frozenset({
    "*", "branch_protection_rule", "check_run", "check_suite", "code_scanning_alert", "commit_comment", "create",
    "delete", "dependabot_alert", "deploy_key", "deployment", "deployment_protection_rule", "deployment_review",
    "deployment_status", "discussion", "discussion_comment", "fork", "gollum", "issue_comment", "issues", "label",
    "member", "merge_group", "meta", "milestone", "package", "page_build", "ping", "project", "project_card",
    "project_column", "public", "pull_request", "pull_request_review", "pull_request_review_comment",
    "pull_request_review_thread", "push", "registry_package", "release", "repository", "repository_dispatch",
    "repository_import", "repository_ruleset", "repository_vulnerability_alert", "secret_scanning_alert",
    "secret_scanning_alert_location", "security_and_analysis", "star", "status", "watch", "workflow_job",
    "workflow_run",
})


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    method: str
    url: httpx.URL
    path: str  # relative to the API root, still percent-encoded
    headers: httpx.Headers
    body: bytes
    response: httpx.Response | None = None  # the stand-in's answer


@dataclass
class Injected:
    """An answer given instead of the real one, `times` times, to requests that match."""

    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass
class Secret:
    encrypted: str
    created_at: str
    updated_at: str


@dataclass
class Hook:
    """A repository webhook; `config` holds the secret itself (the API shows `********`)."""

    id: int
    events: list[str]
    active: bool
    config: dict[str, Any]


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    private: bool
    description: str
    default_branch: str = "main"
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> commit SHA
    secrets: dict[str, Secret] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def empty(self) -> bool:
        return not self.refs


def _error(message: str, **extra: Any) -> dict[str, Any]:
    """An error body as GitHub's are (its `basic-error` and `validation-error` schemas): `message` and
    `documentation_url` always, `errors` for a validation error."""
    return {"message": message, "documentation_url": "https://docs.github.com/rest", **extra}


class _Answer(Exception):
    """Raised by a route to answer at once with an error."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = _error(message, **extra)


def _tree_order(entry: tuple[str, str, str]) -> bytes:
    mode, name, _ = entry
    return (name + "/").encode() if mode == "40000" else name.encode()


class GitObjects:
    """Git's object database: blobs, trees and commits keyed by their real SHA-1."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, list[tuple[str, str, str]]] = {}  # sha -> [(mode, name, sha)] in git order
        self.commits: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _sha(kind: str, body: bytes) -> str:
        return hashlib.sha1(f"{kind} {len(body)}\0".encode() + body).hexdigest()

    def blob(self, data: bytes) -> str:
        sha = self._sha("blob", data)
        self.blobs[sha] = data
        return sha

    def tree(self, flat: dict[str, tuple[str, str]]) -> str:
        """Write the nested trees of `path -> (mode, sha)`; return the root tree's SHA."""
        here: dict[str, tuple[str, str]] = {}
        below: dict[str, dict[str, tuple[str, str]]] = {}
        for path, entry in flat.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = entry
            else:
                here[head] = entry
        entries = [(mode, name, sha) for name, (mode, sha) in here.items()]
        entries += [("40000", name, self.tree(sub)) for name, sub in below.items()]
        entries.sort(key=_tree_order)
        body = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries)
        sha = self._sha("tree", body)
        self.trees[sha] = entries
        return sha

    def flatten(self, tree: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        """`path -> (mode, sha)` of every file under the tree."""
        out: dict[str, tuple[str, str]] = {}
        for mode, name, sha in self.trees[tree]:
            if mode == "40000":
                out.update(self.flatten(sha, f"{prefix}{name}/"))
            else:
                out[f"{prefix}{name}"] = (mode, sha)
        return out

    def commit(self, tree: str, parents: list[str], message: str) -> str:
        who = f"dtm stand-in <standin@example.invalid> {_STAMP}"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {who}\ncommitter {who}\n\n{message}"
        sha = self._sha("commit", text.encode())
        self.commits[sha] = {"tree": tree, "parents": list(parents), "message": message}
        return sha

    def ancestors(self, commit: str) -> set[str]:
        seen: set[str] = set()
        todo = [commit]
        while todo:
            sha = todo.pop()
            if sha not in seen:
                seen.add(sha)
                todo.extend(self.commits[sha]["parents"])
        return seen


Route = Callable[..., httpx.Response]


class GitHubStandIn:
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

    # -- Actions secrets -------------------------------------------------------------------------------
    def _list_secrets(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        repo = self._find(**where)
        names, headers = self._page(request, sorted(repo.secrets), f"repositories/{repo.id}/actions/secrets")
        secrets = [{"name": n, "created_at": repo.secrets[n].created_at, "updated_at": repo.secrets[n].updated_at}
                   for n in names]
        return httpx.Response(200, headers=headers, json={"total_count": len(repo.secrets), "secrets": secrets})

    def _public_key(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        self._find(**where)
        return httpx.Response(200, json={"key_id": self.key_id, "key": self.public_key()})

    def _get_secret(self, request: httpx.Request, payload: Any, secret: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        found = repo.secrets.get(secret.upper())
        if found is None:
            raise _Answer(404, "Not Found")
        return httpx.Response(200, json={"name": secret.upper(), "created_at": found.created_at,
                                         "updated_at": found.updated_at})

    def _put_secret(self, request: httpx.Request, payload: dict[str, Any], secret: str,
                    **where: str) -> httpx.Response:
        repo = self._find(**where)
        name = secret.upper()  # GitHub's secret names are case-insensitive and kept in upper case
        if not _SECRET_NAME.fullmatch(name) or name.startswith("GITHUB_"):
            raise _Answer(422, f"Secret name {secret} is invalid")
        if payload.get("key_id") != self.key_id:
            raise _Answer(422, "Bad request - key_id does not match the repository's public key")
        try:
            SealedBox(self.private_key).decrypt(base64.b64decode(payload.get("encrypted_value", "")))
        except Exception:
            raise _Answer(422, "Bad request - encrypted_value could not be decrypted") from None
        existing = repo.secrets.get(name)
        repo.secrets[name] = Secret(str(payload["encrypted_value"]), existing.created_at if existing else _WHEN,
                                    _WHEN)
        return httpx.Response(204) if existing else httpx.Response(201, json={})

    def _delete_secret(self, request: httpx.Request, payload: Any, secret: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        if repo.secrets.pop(secret.upper(), None) is None:
            raise _Answer(404, "Not Found")
        return httpx.Response(204)

    # -- webhooks --------------------------------------------------------------------------------------
    def _hook_json(self, repo: Repo, hook: Hook) -> dict[str, Any]:
        config = {k: ("********" if k == "secret" else v) for k, v in hook.config.items()}
        base = f"repos/{repo.full_name}/hooks/{hook.id}"
        return {"type": "Repository", "id": hook.id, "name": "web", "active": hook.active, "events": hook.events,
                "config": config, "updated_at": _WHEN, "created_at": _WHEN, "url": self._url(base),
                "test_url": self._url(f"{base}/test"), "ping_url": self._url(f"{base}/pings"),
                "deliveries_url": self._url(f"{base}/deliveries"),
                "last_response": {"code": None, "status": "unused", "message": None}}

    def _find_hook(self, repo: Repo, hook_id: str) -> Hook:
        hook = repo.hooks.get(int(hook_id))
        if hook is None:
            raise _Answer(404, "Not Found")
        return hook

    def _hook_settings(self, repo: Repo, config: Any, events: list[str], other: int | None) -> dict[str, Any]:
        """The config of a hook to be, checked as GitHub checks it (`other`: the hook being updated)."""
        if not isinstance(config, dict) or not config.get("url"):
            raise _Answer(422, "Validation Failed", errors=[{"resource": "Hook", "code": "custom",
                                                              "message": "Config must contain URL for webhooks"}])
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", str(config["url"])):
            raise _Answer(422, "Validation Failed", errors=[{
                "resource": "Hook", "code": "custom",
                "message": "The URL you've entered is not valid. Please make sure that you encode all special "
                           "characters first"}])
        unknown = sorted(set(events) - HOOK_EVENTS)
        if unknown or not events:
            raise _Answer(422, "Validation Failed", errors=[{"resource": "Hook", "code": "invalid", "field": "events",
                                                              "message": f"{unknown} are not valid events"}])
        for hook in repo.hooks.values():
            if hook.id != other and hook.config.get("url") == config["url"] and set(hook.events) & set(events):
                raise _Answer(422, "Validation Failed", errors=[{
                    "resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}])
        return {"content_type": "form", "insecure_ssl": "0", **config}

    def _list_hooks(self, request: httpx.Request, payload: Any, **where: str) -> httpx.Response:
        repo = self._find(**where)
        in_order = [repo.hooks[i] for i in sorted(repo.hooks)]
        hooks, headers = self._page(request, in_order, f"repositories/{repo.id}/hooks")
        return httpx.Response(200, headers=headers, json=[self._hook_json(repo, h) for h in hooks])

    def _create_hook(self, request: httpx.Request, payload: dict[str, Any], **where: str) -> httpx.Response:
        repo = self._find(**where)
        if payload.get("name", "web") != "web":
            raise _Answer(422, "Validation Failed", errors=[{"resource": "Hook", "code": "invalid", "field": "name"}])
        events = [str(e) for e in payload.get("events") or ["push"]]
        config = self._hook_settings(repo, payload.get("config"), events, None)
        hook = Hook(next(self._ids), events, bool(payload.get("active", True)), config)
        repo.hooks[hook.id] = hook
        return httpx.Response(201, headers={"location": self._url(f"repos/{repo.full_name}/hooks/{hook.id}")},
                              json=self._hook_json(repo, hook))

    def _get_hook(self, request: httpx.Request, payload: Any, hook_id: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        return httpx.Response(200, json=self._hook_json(repo, self._find_hook(repo, hook_id)))

    def _update_hook(self, request: httpx.Request, payload: dict[str, Any], hook_id: str,
                     **where: str) -> httpx.Response:
        repo = self._find(**where)
        hook = self._find_hook(repo, hook_id)
        events = [str(e) for e in payload.get("events", hook.events)]
        events += [str(e) for e in payload.get("add_events", []) if e not in events]
        events = [e for e in events if e not in payload.get("remove_events", [])]
        # `config` replaces the whole config: a secret left out is removed, as GitHub documents
        config = self._hook_settings(repo, payload.get("config", hook.config), events, hook.id)
        hook.events, hook.config, hook.active = events, config, bool(payload.get("active", hook.active))
        return httpx.Response(200, json=self._hook_json(repo, hook))

    def _delete_hook(self, request: httpx.Request, payload: Any, hook_id: str, **where: str) -> httpx.Response:
        repo = self._find(**where)
        del repo.hooks[self._find_hook(repo, hook_id).id]
        return httpx.Response(204)
