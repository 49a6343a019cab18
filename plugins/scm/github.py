"""GitHub's side of the SCM layer: repositories, files, Actions secrets and webhooks over the REST API.

Every call goes through the plugin context's retrying httpx client (`ctx.http_client`), with a timeout, the
`2022-11-28` API version and the token as a Bearer header; the token is never logged or quoted. What the
transport gives up on (429 and 5xx after its retries) leaves as `TransientError`, so the engine may try
again later. GitHub's rate limits (a 403 or 429 with `Retry-After`, or with `X-RateLimit-Remaining: 0`) are
waited out by the transport when the reset is near (`DTM_RATE_LIMIT_WAIT`); a reset further away leaves as
`RateLimitError`, naming when it comes. A 401, a 404 where a resource must exist, or a 422 leave as
`PermanentError`.

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

Webhooks are found by their delivery URL (`config.url`) in the paginated listing, then created (POST) or
updated in place (PATCH, which replaces the whole config: a hook put without a secret loses its old one, as
declared). GitHub answers 404, not 403, on the webhooks of a repository the token may not administer; the
error then says so rather than claiming the repository is missing. A hook's secret, and a delivery URL that
carries credentials, are scrubbed from every error, and only the URL without its query is ever logged.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext, raise_for_status
from devstream.plugin.http import rate_limit_error, rate_limit_wait, safe_url
from devstream.plugins.scm.base import (
    FULL_SHA,
    WEBHOOK_EVENTS,
    FileInfo,
    RepoInfo,
    RepoSpec,
    Webhook,
    WebhookInfo,
    file_mode,
    git_blob_sha,
    mask,
    next_page_url,
    one_hook_per_url,
    under,
    url_secrets,
)
from devstream.plugins.scm.github_answers import MAX_TREE_DEPTH, TreeItem, decode_base64, field, tree_items

__all__ = ["API_URL", "API_VERSION", "GitHubClient", "api_url", "encrypt_secret"]

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TOKEN_ENV = "GITHUB_TOKEN"
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_PER_PAGE = 100
_HOOKS_HIDDEN = ("GitHub answers 404 on the webhooks of a repository the token may not administer: the token needs "
                 "admin rights on it (a classic token the admin:repo_hook scope, a fine-grained one the Webhooks "
                 "permission, read and write)")


def api_url(spec: RepoSpec) -> str:
    """The REST API's root: `apiURL` as given, `<baseURL>/api/v3` for GitHub Enterprise, else api.github.com."""
    if spec.apiURL:
        return spec.apiURL.rstrip("/")
    if spec.baseURL:
        return spec.baseURL.rstrip("/") + "/api/v3"
    return API_URL


def encrypt_secret(public_key: str, value: str) -> str:
    """`value` sealed for the repository's public key (both base64), as GitHub's secrets API wants it."""
    from nacl.public import PublicKey, SealedBox

    try:
        key = PublicKey(base64.b64decode(public_key, validate=True))
    except Exception as exc:  # binascii.Error, nacl's TypeError/ValueError: the server sent a bad key
        raise PermanentError(f"GitHub's repository public key cannot be used: {type(exc).__name__}") from None
    return base64.b64encode(SealedBox(key).encrypt(value.encode("utf-8"))).decode("ascii")


@dataclass(frozen=True)
class _Entry:
    """A file in a git tree."""

    mode: str
    sha: str


class _EmptyRepository(Exception):
    """The repository has no commit yet: the git data API answers 409."""


class GitHubClient:
    """One GitHub repository (`spec`), implementing the `ScmClient` protocol over the REST API.

    The token is `spec.token`, else the `GITHUB_TOKEN` environment variable. Use it as a context manager,
    or call `close()`, to release the HTTP connections.
    """

    def __init__(self, spec: RepoSpec, ctx: PluginContext) -> None:
        if spec.scmType != "github":
            raise PermanentError(f"GitHubClient is for scmType github, not {spec.scmType!r}")
        if not spec.name or not spec.namespace:
            raise PermanentError("a GitHub repository needs `name` and `owner` (a user) or `org` (an organisation)")
        token = spec.token.get_secret_value() if spec.token is not None else os.environ.get(TOKEN_ENV, "")
        if not token:
            raise PermanentError(f"no GitHub token for {spec.full_name}: set the repo's `token` "
                                 f"(e.g. [[ env \"{TOKEN_ENV}\" ]]) or the {TOKEN_ENV} environment variable")
        self.spec = spec
        self.ctx = ctx
        self.api = api_url(spec)
        self._repo = f"/repos/{quote(spec.namespace, safe='')}/{quote(spec.name, safe='')}"
        self._public_key: tuple[str, str] | None = None
        self._default_branch: str | None = spec.branch
        self._http = ctx.http_client(
            base_url=self.api,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "Authorization": f"Bearer {token}",
                "User-Agent": "dtm",
            },
            timeout=_TIMEOUT,
            follow_redirects=True,  # a renamed or transferred repository answers with a redirect
        )

    # -- plumbing --------------------------------------------------------------------------------------
    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, *, params: Mapping[str, str | int] | None = None,
              body: Any = None) -> httpx.Response:
        """One request; the response as it came (after the transport's retries)."""
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = dict(params)
        if body is not None:
            kwargs["json"] = body
        response = self._http.request(method, path, **kwargs)
        response.read()
        return response

    def _fail(self, response: httpx.Response, doing: str, secrets: Sequence[str] = ()) -> NoReturn:
        """Raise dtm's error for a response that was not what `doing` needed, with `secrets` masked in it."""
        try:
            self._raise_for(response, doing)
        except (PermanentError, TransientError) as exc:
            if not any(secrets):
                raise
            raise type(exc)(mask(str(exc), secrets)) from None

    def _raise_for(self, response: httpx.Response, doing: str) -> NoReturn:
        status = response.status_code
        where = f"GitHub {self.spec.full_name}: {doing}"
        limited = rate_limit_error(response, where)
        if limited is not None:
            raise limited
        if status == 401:
            raise PermanentError(f"{where}: GitHub refused the token (401 {_message(response)}); "
                                 f"check the repo's `token`")
        try:
            raise_for_status(response)
        except (PermanentError, TransientError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        raise PermanentError(f"{where}: unexpected answer {status} {_message(response)}")

    def _json(self, response: httpx.Response, doing: str, ok: tuple[int, ...] = (200,),
              secrets: Sequence[str] = ()) -> Any:
        if response.status_code not in ok:
            self._fail(response, doing, secrets)
        try:
            return response.json()
        except ValueError:
            raise PermanentError(f"GitHub {self.spec.full_name}: {doing}: the answer is not JSON") from None

    def _pages(self, path: str, params: Mapping[str, str | int], doing: str, *,
               missing: Callable[[], None] | None = None) -> Iterator[Any]:
        """Each page's JSON, following the `Link: <...>; rel="next"` headers. When the first page is a 404 and
        `missing` is given, it decides: it raises, or the list is empty."""
        response = self._send("GET", path, params={**params, "per_page": _PER_PAGE})
        if response.status_code == 404 and missing is not None:
            missing()
            return
        while True:
            yield self._json(response, doing)
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            response = self._send("GET", next_page_url(following, self.api, f"GitHub {self.spec.full_name}: {doing}"))

    def _where(self, doing: str) -> str:
        return f"GitHub {self.spec.full_name}: {doing}"

    def _branch(self, branch: str | None) -> str:
        """The branch to use: the one asked for, else the spec's, else the repository's default branch."""
        if branch:
            return branch
        if self._default_branch is None:
            info = self.describe_repo()
            self._default_branch = info.default_branch if info is not None else self.spec.default_branch
        return self._default_branch

    # -- repositories ----------------------------------------------------------------------------------
    def describe_repo(self) -> RepoInfo | None:
        response = self._send("GET", self._repo)
        if response.status_code == 404:
            return None
        return _repo_info(self._json(response, "describe the repository"), self._where("describe the repository"))

    def create_repo(self, *, private: bool = True, description: str = "") -> RepoInfo:
        body: dict[str, Any] = {"name": self.spec.name, "private": private, "auto_init": False}
        if description:
            body["description"] = description
        if self.spec.org:
            path = f"/orgs/{quote(self.spec.org, safe='')}/repos"
        else:
            self._check_owner()
            path = "/user/repos"
        response = self._send("POST", path, body=body)
        if response.status_code == 422 and _name_taken(response):
            existing = self.describe_repo()  # created earlier (perhaps by a try whose answer was lost)
            if existing is not None:
                return existing
        doing = "create the repository"
        return _repo_info(self._json(response, doing, ok=(201,)), self._where(doing))

    def _check_owner(self) -> None:
        """POST /user/repos creates under the token's user: refuse when that is not the configured owner."""
        response = self._send("GET", "/user")
        if response.status_code != 200:
            return  # e.g. an installation token has no user; the create call decides
        login = str(response.json().get("login", ""))
        if login and self.spec.owner and login.lower() != self.spec.owner.lower():
            raise PermanentError(f"GitHub {self.spec.full_name}: the token belongs to {login!r}, so the repository "
                                 f"would be created as {login}/{self.spec.name}; use that user's token, or `org` "
                                 f"for an organisation's repository")

    def delete_repo(self) -> None:
        response = self._send("DELETE", self._repo)
        if response.status_code in (204, 404):
            return
        if response.status_code == 403 and rate_limit_wait(response) is None:
            raise PermanentError(f"GitHub {self.spec.full_name}: delete the repository: 403 {_message(response)} "
                                 f"(the token needs the delete_repo scope, or admin rights on the repository)")
        self._fail(response, "delete the repository")

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
                                 f"to it ({_message(response)}); try again")
        self._json(response, f"move branch {branch}")

    def _create_branch(self, branch: str, commit: str) -> None:
        response = self._send("POST", f"{self._repo}/git/refs", body={"ref": f"refs/heads/{branch}", "sha": commit})
        if response.status_code == 422:
            raise TransientError(f"GitHub {self.spec.full_name}: branch {branch} appeared while dtm was creating "
                                 f"it ({_message(response)}); try again")
        self._json(response, f"create branch {branch}", ok=(201,))

    def _first_push(self, files: dict[str, bytes], message: str, branch: str) -> str:
        """The first commit of an empty repository (see the module's docstring)."""
        if not files:
            return ""  # nothing to write, and nothing there to delete
        paths = sorted(files)
        first = paths[0]
        response = self._send("PUT", f"{self._repo}/contents/{_quote_path(first)}", body={
            "message": message, "content": base64.b64encode(files[first]).decode("ascii"), "branch": branch})
        if response.status_code == 422 and "sha" in _message(response):
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

    # -- secrets ---------------------------------------------------------------------------------------
    def list_secrets(self) -> list[str]:
        names: list[str] = []
        try:
            for page in self._pages(f"{self._repo}/actions/secrets", {}, "list the Actions secrets"):
                names.extend(field(s, self._where("list the Actions secrets"), "name") for s in page.get("secrets", []))
        except PermanentError:
            if self.describe_repo() is None:
                return []  # no repository, no secrets
            raise
        return sorted(names)

    def put_secret(self, name: str, value: str) -> None:
        key_id, key = self._key()
        response = self._send("PUT", f"{self._repo}/actions/secrets/{quote(name, safe='')}",
                              body={"encrypted_value": encrypt_secret(key, value), "key_id": key_id})
        if response.status_code not in (201, 204):
            self._fail(response, f"set Actions secret {name}")

    def _key(self) -> tuple[str, str]:
        if self._public_key is None:
            data = self._json(self._send("GET", f"{self._repo}/actions/secrets/public-key"),
                              "read the Actions public key")
            where = self._where("read the Actions public key")
            self._public_key = (field(data, where, "key_id"), field(data, where, "key"))
        return self._public_key

    def delete_secret(self, name: str) -> None:
        response = self._send("DELETE", f"{self._repo}/actions/secrets/{quote(name, safe='')}")
        if response.status_code not in (204, 404):
            self._fail(response, f"delete Actions secret {name}")

    # -- webhooks --------------------------------------------------------------------------------------
    def list_webhooks(self) -> list[WebhookInfo]:
        return [_webhook_info(h, self._where("list the webhooks")) for h in self._hooks("list the webhooks")]

    def _hooks(self, doing: str) -> list[dict[str, Any]]:
        """The repository's hooks as GitHub lists them ([] when the repository does not exist)."""
        hooks: list[dict[str, Any]] = []
        for page in self._pages(f"{self._repo}/hooks", {}, doing, missing=lambda: self._hooks_404(doing, ok=True)):
            for hook in (h for h in page if isinstance(h, dict)):
                if not field(hook, self._where(doing), "id").isdigit():
                    raise PermanentError(f"{self._where(doing)}: GitHub's answer holds a webhook id that is "
                                         f"not a number")
                hooks.append(hook)
        return hooks

    def _hooks_404(self, doing: str, *, ok: bool) -> None:
        """Account for a 404 from the webhooks API: a missing repository (fine when `ok`), or no admin rights."""
        if self.describe_repo() is not None:
            raise PermanentError(f"GitHub {self.spec.full_name}: {doing}: {_HOOKS_HIDDEN}")
        if not ok:
            raise PermanentError(f"GitHub {self.spec.full_name}: {doing}: the repository does not exist")

    def put_webhook(self, hook: Webhook) -> WebhookInfo:
        doing = f"set the webhook for {safe_url(hook.url)}"
        events = _github_events(hook.events, f"GitHub {self.spec.full_name}: {doing}")
        secret = hook.secret.get_secret_value() if hook.secret is not None else ""
        masked = [secret, *url_secrets(hook.url)]
        config = {"url": hook.url, "content_type": "json", "insecure_ssl": "1" if hook.insecure_ssl else "0"}
        if secret:
            config["secret"] = secret
        body: dict[str, Any] = {"config": config, "events": events, "active": hook.active}

        existing = one_hook_per_url([h for h in self._hooks(doing) if _hook_url(h) == hook.url],
                                    f"GitHub {self.spec.full_name}: {doing}")
        if existing is None:
            response = self._send("POST", f"{self._repo}/hooks", body={"name": "web", **body})
            if response.status_code == 404:
                self._hooks_404(doing, ok=False)
            if response.status_code == 422 and "already exists" in _message(response).lower():
                raise TransientError(f"GitHub {self.spec.full_name}: {doing}: the webhook appeared while dtm was "
                                     f"creating it; try again")
            info = _webhook_info(self._json(response, doing, ok=(201,), secrets=masked), self._where(doing))
            verb = "created"
        else:
            response = self._send("PATCH", f"{self._repo}/hooks/{int(existing['id'])}", body=body)
            if response.status_code == 404:
                raise TransientError(f"GitHub {self.spec.full_name}: {doing}: webhook {existing['id']} went away "
                                     f"while dtm was updating it; try again")
            info = _webhook_info(self._json(response, doing, secrets=masked), self._where(doing))
            verb = "updated"
        self.ctx.logger.info("GitHub %s: %s webhook %s for %s (%s)", self.spec.full_name, verb, info.id,
                             safe_url(hook.url), ", ".join(info.events))
        return info

    def delete_webhook(self, url: str) -> None:
        doing = f"delete the webhook for {safe_url(url)}"
        for hook in self._hooks(doing):
            if _hook_url(hook) != url:
                continue
            response = self._send("DELETE", f"{self._repo}/hooks/{int(hook['id'])}")
            if response.status_code not in (204, 404):  # 404: gone meanwhile, as wanted
                self._fail(response, doing, url_secrets(url))
            self.ctx.logger.info("GitHub %s: deleted webhook %s for %s", self.spec.full_name, hook["id"],
                                 safe_url(url))


# -- helpers ---------------------------------------------------------------------------------------------

def _repo_info(data: Mapping[str, Any], where: str) -> RepoInfo:
    return RepoInfo(full_name=field(data, where, "full_name"), default_branch=str(data.get("default_branch") or "main"),
                    clone_url=str(data.get("clone_url", "")), html_url=str(data.get("html_url", "")),
                    id=str(data["id"]) if data.get("id") is not None else None)


def _quote_path(path: str) -> str:
    return quote(path.strip("/"), safe="/")


def _message(response: httpx.Response) -> str:
    """GitHub's `message` (and the `errors` it lists), or the reason phrase."""
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(data, dict):
        return response.reason_phrase
    text = str(data.get("message") or response.reason_phrase)
    details = [str(e.get("message") or e.get("code")) for e in data.get("errors") or [] if isinstance(e, dict)]
    return f"{text} ({'; '.join(details)})" if details else text


def _name_taken(response: httpx.Response) -> bool:
    return "already exists" in _message(response).lower()


def _github_events(events: Sequence[str], where: str) -> list[str]:
    """GitHub's names for dtm's events; refuses, by name, the ones only GitLab has."""
    out: list[str] = []
    for event in events:
        mapping = WEBHOOK_EVENTS.get(event)
        if mapping is None:
            out.append(event)  # one of GitHub's many other events: GitHub judges it
        elif mapping.github is None:
            raise PermanentError(f"{where}: GitHub webhooks have no {event!r} event; {mapping.instead}")
        else:
            out.append(mapping.github)
    return sorted(set(out))


def _hook_url(hook: Mapping[str, Any]) -> str:
    config = hook.get("config")
    return str(config.get("url") or "") if isinstance(config, dict) else ""


def _webhook_info(hook: Mapping[str, Any], where: str) -> WebhookInfo:
    raw = hook.get("config")
    config: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    try:  # "0"/"1", or a number
        insecure = float(config.get("insecure_ssl") or 0) != 0
    except (TypeError, ValueError):
        insecure = False
    return WebhookInfo(id=field(hook, where, "id"), url=_hook_url(hook),
                       events=sorted({str(e) for e in hook.get("events", [])}),
                       active=bool(hook.get("active", True)), insecure_ssl=insecure,
                       content_type=str(config.get("content_type") or "form"),  # form: GitHub's default
                       has_secret=bool(config.get("secret")))  # GitHub shows a set secret as "********"
