"""GitLab over its REST API v4: projects, files, one-commit pushes, CI/CD variables and webhooks.

Where the API is: `apiURL` when given, else `<baseURL>/api/v4`, else the host of a non-gitlab.com `url`,
and only when none of these is given `https://gitlab.com/api/v4`. A self-hosted GitLab is therefore never
mistaken for gitlab.com (DevStream's gitlabci-generic POSTed to gitlab.com whatever `baseURL` said, #1019).
An address without the `/api/v4` suffix gets it, as GitLab's own clients do.

Requests carry the token in the `PRIVATE-TOKEN` header, which is never logged and is scrubbed from error
text. They go through the context's retrying client: 429 and 5xx are retried (honouring `Retry-After`) and
a failure that outlasts the retries is a `TransientError`. Lists follow `X-Next-Page` (offset pagination)
or a `Link: rel="next"` header (keyset pagination) to the end.

Whether a commit is still on a branch (its head or an ancestor) is asked of the merge-base API: the commit
is on the branch when it is its own merge base with the branch.

A project is addressed by its URL-encoded path (`group%2Fsub%2Fname`), so no id lookup is needed.
File identity is the git blob SHA that GitLab reports as `blob_id` (the tree's `id`, the
`X-Gitlab-Blob-Id` header), so what was pushed can be compared with what is there without downloading it.

Project webhooks are found by URL and created (POST) or updated in place (PUT). Their events are GitLab's
`*_events` flags, mapped from dtm's (GitHub's) event names by `WEBHOOK_EVENTS` in base.py: every flag of that
table is sent, true or false, because GitLab turns `push_events` on when it is left out; flags outside the
table are left as they are. The secret is the hook's `token` (sent empty to remove one, since a PUT without
it keeps or drops the old one depending on the GitLab version). GitLab cannot pause a hook, so `active=False`
is refused.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from devstream.errors import PermanentError, PluginError, TransientError
from devstream.plugin import PluginContext, raise_for_status
from devstream.plugin.http import safe_url
from devstream.plugins.scm.base import (
    FULL_SHA,
    WEBHOOK_EVENTS,
    FileInfo,
    RepoInfo,
    RepoSpec,
    Webhook,
    WebhookInfo,
    git_blob_sha,
    mask,
    next_page_url,
    one_hook_per_url,
    under,
    url_secrets,
)

__all__ = ["GITLAB_COM", "GitLabClient", "api_url", "gitlab_hook_flags", "maskable", "project_path"]

GITLAB_COM = "https://gitlab.com"
_API_SUFFIX = "/api/v4"
_PER_PAGE = 100
# Up to this many paths, a push asks for each file's blob id with one HEAD; beyond it, one tree listing.
_HEAD_LOOKUPS = 20
_MAX_PAGES = 10_000
_ALL_ENVIRONMENTS = "*"
_TAKEN = "has already been taken"
# What GitLab accepts as a masked value: one line of 8+ characters from the Base64 alphabets (RFC 4648,
# both the standard and the URL-safe one) plus `@ : . ~`. Newer GitLab versions allow more; this is the
# set every supported version takes.
_MASKABLE = re.compile(r"[A-Za-z0-9+/=_@:.~-]{8,}")
_SSH_URL = re.compile(r"[\w.-]+@([^:/]+):(.+)")


def maskable(value: str) -> bool:
    """Whether GitLab can mask this value in job logs (otherwise it must be stored unmasked)."""
    return bool(_MASKABLE.fullmatch(value))


def _url_parts(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port], path) of an https, ssh (`git@host:path`) or bare `host/path` repository URL."""
    ssh = _SSH_URL.fullmatch(url.strip())
    if ssh:
        return "https", ssh.group(1), ssh.group(2)
    split = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    scheme = split.scheme if split.scheme in ("http", "https") else "https"
    host = split.hostname or ""
    return scheme, f"{host}:{split.port}" if split.port else host, split.path


def api_url(spec: RepoSpec) -> str:
    """The REST API root for the spec's GitLab, always ending in `/api/v4`.

    Raises:
        PermanentError: the address is not an http(s) URL.
    """
    if spec.apiURL:
        root, field = spec.apiURL, "apiURL"
    elif spec.baseURL:
        root, field = spec.baseURL, "baseURL"
    elif spec.url and _url_parts(spec.url)[1] not in ("", "gitlab.com", "www.gitlab.com"):
        scheme, host, _ = _url_parts(spec.url)
        root, field = f"{scheme}://{host}", "url"
    else:
        root, field = GITLAB_COM, ""
    root = root.strip().rstrip("/")
    split = urlsplit(root)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise PermanentError(f"scm.{field} {root!r} is not an http(s) address; write it like "
                             f"https://gitlab.example.com")
    return root if root.endswith(_API_SUFFIX) else root + _API_SUFFIX


def project_path(spec: RepoSpec) -> str:
    """`namespace/name` of the project: from `org`/`owner` and `name`, else read from `url`.

    Raises:
        PermanentError: neither is enough to tell the project.
    """
    namespace = (spec.org or spec.owner or "").strip("/")
    if namespace and spec.name:
        return f"{namespace}/{spec.name}"
    if spec.url:
        segments = [s for s in _url_parts(spec.url)[2].strip("/").split("/") if s]
        if len(segments) >= 2:
            segments[-1] = segments[-1].removesuffix(".git")
            return "/".join([namespace or "/".join(segments[:-1]), spec.name or segments[-1]])
    raise PermanentError("scm: cannot tell the GitLab project: give `org` (a group) or `owner` (a user) and "
                         "`name`, or the project's `url`")


def gitlab_hook_flags(events: Sequence[str], where: str = "gitlab") -> dict[str, bool]:
    """Every `*_events` flag of `WEBHOOK_EVENTS`, true for the events asked for.

    Raises:
        PermanentError: an event GitLab has no flag for (named, with those it has).
    """
    flags = {m.gitlab: False for m in WEBHOOK_EVENTS.values() if m.gitlab}
    for event in events:
        mapping = WEBHOOK_EVENTS.get(event)
        if mapping is None or mapping.gitlab is None:
            known = ", ".join(e for e, m in WEBHOOK_EVENTS.items() if m.gitlab)
            raise PermanentError(f"{where}: GitLab webhooks have no {event!r} event; they can deliver {known}")
        flags[mapping.gitlab] = True
    return flags


def _scheduled_for_deletion(project: Mapping[str, Any]) -> bool:
    # GitLab's delayed deletion keeps a project visible (read-only) until the deletion runs.
    return bool(project.get("marked_for_deletion_at") or project.get("marked_for_deletion_on"))


class GitLabClient:
    """One GitLab project, through the REST API v4 (an `ScmClient`).

    The HTTP client is made on the first request and closed by `close()` (or leaving a `with` block).
    The token comes from `spec.token`, else from the `GITLAB_TOKEN` environment variable, as DevStream did.

    Args:
        spec: where the project is; `scmType` must be `gitlab`.
        ctx: the plugin call's context: its logger and its (retrying) HTTP client.
        timeout: seconds allowed for each request (connecting: at most 10).

    Example:
        >>> with GitLabClient(RepoSpec(scmType="gitlab", org="acme", name="web"), ctx) as gitlab:  # doctest: +SKIP
        ...     gitlab.push_files({".gitlab-ci.yml": b"test: {script: [make]}\\n"}, "ci: add the pipeline")
    """

    def __init__(self, spec: RepoSpec, ctx: PluginContext, *, timeout: float = 30.0) -> None:
        if spec.scmType != "gitlab":
            raise PermanentError(f"GitLabClient got a {spec.scmType} repository; scm.scmType must be gitlab")
        self.spec = spec
        self.ctx = ctx
        self.api_url = api_url(spec)
        self.path = project_path(spec)
        self._id = quote(self.path, safe="")
        self._timeout = timeout
        self._http: httpx.Client | None = None
        self._project_cache: dict[str, Any] | None = None

    # -- plumbing ------------------------------------------------------------------------------------------
    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client, if one was made."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def _token(self) -> str:
        token = self.spec.token.get_secret_value() if self.spec.token else os.environ.get("GITLAB_TOKEN", "")
        if not token.strip():
            raise PermanentError(f"gitlab {self.path}: no access token: set scm.token (for example "
                                 f"[[ env \"GITLAB_TOKEN\" ]]) or the GITLAB_TOKEN environment variable")
        return token.strip()

    @property
    def http(self) -> httpx.Client:
        """The HTTP client, bound to the API root and carrying the token."""
        if self._http is None:
            self._http = self.ctx.http_client(
                base_url=self.api_url,
                headers={"PRIVATE-TOKEN": self._token(), "Accept": "application/json"},
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
            )
        return self._http

    def _check(self, response: httpx.Response, secrets: Sequence[str] = ()) -> httpx.Response:
        """The response if it succeeded; else dtm's error, naming the project and scrubbed of `secrets`."""
        try:
            return raise_for_status(response)
        except PluginError as exc:
            raise type(exc)(f"gitlab {self.path}: {mask(str(exc), secrets)}{_hint(response.status_code)}") from None

    def _call(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
              json: Any = None, missing_ok: bool = False, secrets: Sequence[str] = ()) -> httpx.Response | None:
        """One request; None for a 404 when `missing_ok`, dtm's error for any other failure."""
        response = self.http.request(method, url, params=params, json=json)
        if missing_ok and response.status_code == 404:
            response.close()
            return None
        return self._check(response, secrets)

    def _pages(self, url: str, params: Mapping[str, Any], *, missing_ok: bool = False) -> Iterator[Any]:
        """Every item of a paginated list: `X-Next-Page` first, else `Link: rel="next"`."""
        query: dict[str, Any] | None = {**params, "per_page": _PER_PAGE}
        for _ in range(_MAX_PAGES):
            response = self._call("GET", url, params=query, missing_ok=missing_ok)
            if response is None:
                return
            items = response.json()
            if not isinstance(items, list):
                raise PermanentError(f"gitlab {self.path}: GET {url} did not return a list")
            yield from items
            next_page = response.headers.get("x-next-page", "").strip()
            link = response.links.get("next", {}).get("url")
            if next_page:
                query = {**(query or params), "per_page": _PER_PAGE, "page": next_page}
            elif link:
                url, query = next_page_url(link, self.api_url, f"gitlab {self.path}: the next page of {url}"), None
            else:
                return
            missing_ok = False  # a later page going missing is an error, not an empty list
        raise PermanentError(f"gitlab {self.path}: {url} has more than {_MAX_PAGES} pages")

    def _project_url(self, *parts: str) -> str:
        return "/".join([f"/projects/{self._id}", *parts])

    def _fetch_project(self) -> dict[str, Any] | None:
        response = self._call("GET", self._project_url(), missing_ok=True)
        self._project_cache = None if response is None else response.json()
        return self._project_cache

    def _project(self) -> dict[str, Any] | None:
        """The project's JSON (cached for this client's life), or None when missing or being deleted."""
        project = self._project_cache if self._project_cache is not None else self._fetch_project()
        if project is None or _scheduled_for_deletion(project):
            return None
        return project

    def _require_project(self) -> dict[str, Any]:
        project = self._project()
        if project is None:
            raise PermanentError(f"gitlab {self.path}: the project does not exist (or the token cannot see it) "
                                 f"on {self.api_url}; create it first, for example with repo-scaffolding")
        return project

    def _info(self, project: Mapping[str, Any]) -> RepoInfo:
        return RepoInfo(
            full_name=str(project.get("path_with_namespace") or self.path),
            default_branch=str(project.get("default_branch") or self.spec.default_branch),
            clone_url=str(project.get("http_url_to_repo") or ""),
            html_url=str(project.get("web_url") or ""),
            id=str(project["id"]) if project.get("id") is not None else None,
        )

    def branch(self, branch: str | None = None) -> str:
        """The branch to use: the argument, else the spec's, else the project's default, else `master`."""
        if branch:
            return branch
        if self.spec.branch:
            return self.spec.branch
        project = self._project()
        if project is not None and project.get("default_branch"):
            return str(project["default_branch"])
        return self.spec.default_branch

    def head(self, branch: str | None = None) -> str | None:
        """The commit SHA at the tip of the branch, or None when the branch does not exist."""
        name = self.branch(branch)
        response = self._call("GET", self._project_url("repository", "branches", quote(name, safe="")),
                              missing_ok=True)
        return None if response is None else str(response.json()["commit"]["id"])

    # -- repositories --------------------------------------------------------------------------------------
    def describe_repo(self) -> RepoInfo | None:
        """The project, or None when it does not exist (or is scheduled for deletion)."""
        project = self._project()
        return None if project is None else self._info(project)

    def create_repo(self, *, private: bool = True, description: str = "") -> RepoInfo:
        """Create the empty project (no README); one that already exists is described instead."""
        namespace, _, name = self.path.rpartition("/")
        visibility = self.spec.visibility or ("private" if private else "public")
        body: dict[str, Any] = {"name": name, "path": name, "visibility": visibility,
                                "initialize_with_readme": False}
        if description:
            body["description"] = description
        namespace_id = self._namespace_id(namespace)
        if namespace_id is not None:
            body["namespace_id"] = namespace_id
        response = self.http.post("/projects", json=body)
        if response.status_code == 400 and _TAKEN in response.text:
            project = self._fetch_project()
            if project is None:
                raise PermanentError(f"gitlab {self.path}: the name is taken but the token cannot see that "
                                     f"project; give the token access to it or choose another name")
            if _scheduled_for_deletion(project):
                raise PermanentError(f"gitlab {self.path}: a project of this path is scheduled for deletion; "
                                     f"restore it in GitLab, delete it for good, or wait for the deletion")
            self.ctx.logger.info("gitlab %s: the project exists already; using it", self.path)
            return self._info(project)
        project = self._check(response).json()
        self._project_cache = project
        self.ctx.logger.info("gitlab %s: created the project", self.path)
        return self._info(project)

    def _namespace_id(self, namespace: str) -> int | None:
        """The id to create the project in; None for the token's own user namespace (GitLab's default)."""
        if not self.spec.org:
            # `owner` is usually the token's user; but a path read from a url may be a group's.
            user = self._call("GET", "/user")
            assert user is not None
            if str(user.json().get("username", "")).lower() == namespace.lower():
                return None
        encoded = quote(namespace, safe="")
        for route in (f"/namespaces/{encoded}", f"/groups/{encoded}"):
            found = self._call("GET", route, missing_ok=True)
            if found is not None:
                return int(found.json()["id"])
        raise PermanentError(f"gitlab {self.path}: namespace {namespace!r} not found on {self.api_url}, or the "
                             f"token cannot see it; check scm.org / scm.owner")

    def delete_repo(self) -> None:
        """Delete the project; one already gone is success. GitLab may only schedule it (202 Accepted)."""
        response = self._call("DELETE", self._project_url(), missing_ok=True)
        self._project_cache = None
        if response is not None:
            self.ctx.logger.info("gitlab %s: deleted the project (%d)", self.path, response.status_code)

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

    # -- CI/CD variables -------------------------------------------------------------------------------------
    def list_variables(self) -> list[dict[str, Any]]:
        """The project's CI/CD variables without their values: key, scope, masked, protected, description."""
        keep = ("key", "environment_scope", "masked", "protected", "description")
        return [{k: v.get(k) for k in keep} for v in self._pages(self._project_url("variables"), {})]

    def list_secrets(self) -> list[str]:
        """Names of the project's CI/CD variables (each once, whatever its environment scopes)."""
        return sorted({str(v["key"]) for v in self.list_variables()})

    def put_secret(self, name: str, value: str, *, description: str | None = None) -> None:
        """Set a CI/CD variable for all environments: masked when GitLab can mask the value, unprotected
        (so every branch's pipelines get it) and raw (a `$` in it is not expanded)."""
        masked = maskable(value)
        if not masked:
            self.ctx.logger.warning(
                "gitlab %s: the value of CI/CD variable %s cannot be masked in job logs (GitLab needs 8 or more "
                "characters from A-Z a-z 0-9 + / = _ @ : . ~ -); it is stored unmasked", self.path, name)
        body: dict[str, Any] = {"value": value, "masked": masked, "protected": False, "raw": True,
                                "variable_type": "env_var"}
        if description is not None:
            body["description"] = description
        url = self._project_url("variables")
        response = self.http.post(url, json={"key": name, "environment_scope": _ALL_ENVIRONMENTS, **body})
        if response.status_code == 400 and _TAKEN in response.text:
            response = self.http.put(f"{url}/{quote(name, safe='')}", json=body,
                                     params={"filter[environment_scope]": _ALL_ENVIRONMENTS})
        self._check(response, secrets=[value])

    def delete_secret(self, name: str) -> None:
        """Remove the variable (all-environments scope); one already gone is success."""
        self._call("DELETE", self._project_url("variables", quote(name, safe="")),
                   params={"filter[environment_scope]": _ALL_ENVIRONMENTS}, missing_ok=True)

    # -- runners ---------------------------------------------------------------------------------------------
    def reset_runner_registration_token(self) -> str:
        """A new registration token for the project's runners (the old one stops registering new runners; runners
        already registered go on). Never logged: it registers runners."""
        response = self._call("POST", self._project_url("runners_reset_registration_token"))
        assert response is not None
        token = str(response.json().get("token") or "")
        if not token:
            raise PermanentError(f"gitlab {self.path}: GitLab returned no runner registration token")
        return token

    def set_shared_runners(self, enabled: bool) -> None:
        """Turn the instance's shared runners on or off for the project."""
        self._call("PUT", self._project_url(), json={"shared_runners_enabled": enabled})
        self._project_cache = None

    # -- webhooks --------------------------------------------------------------------------------------------
    def list_webhooks(self) -> list[WebhookInfo]:
        """The project's hooks ([] when the project does not exist); events are dtm's names of their flags."""
        return [_webhook_info(h) for h in self._hooks()]

    def _hooks(self) -> list[dict[str, Any]]:
        return [h for h in self._pages(self._project_url("hooks"), {}, missing_ok=True) if isinstance(h, dict)]

    def put_webhook(self, hook: Webhook) -> WebhookInfo:
        """Create the hook for `hook.url`, or update the one there in place; see the module's docstring."""
        where = f"gitlab {self.path}: webhook for {safe_url(hook.url)}"
        if not hook.active:
            raise PermanentError(f"{where}: GitLab cannot pause a project webhook; delete it instead (or leave "
                                 f"`active` true)")
        flags = gitlab_hook_flags(hook.events, where)
        secret = hook.secret.get_secret_value() if hook.secret is not None else ""
        masked = [secret, *url_secrets(hook.url)]
        body: dict[str, Any] = {"url": hook.url, **flags, "enable_ssl_verification": not hook.insecure_ssl,
                                "token": secret}
        existing = one_hook_per_url([h for h in self._hooks() if h.get("url") == hook.url], where)
        if existing is not None:
            response = self.http.put(self._project_url("hooks", str(existing["id"])), json=body)
            if response.status_code == 404:
                raise TransientError(f"{where}: hook {existing['id']} went away while dtm was updating it; try again")
        else:
            response = self.http.post(self._project_url("hooks"), json=body)
            if response.status_code == 404:
                self._project_cache = None
                self._require_project()  # a clear error when the project is missing
        info = _webhook_info(self._check(response, secrets=masked).json())
        self.ctx.logger.info("gitlab %s: %s webhook %s for %s (%s)", self.path,
                             "updated" if existing is not None else "created", info.id, safe_url(hook.url),
                             ", ".join(info.events))
        return info

    def delete_webhook(self, url: str) -> None:
        """Remove the project's hook(s) for `url`; none there (or no project) is success."""
        for hook in self._hooks():
            if hook.get("url") != url:
                continue
            self._call("DELETE", self._project_url("hooks", str(hook["id"])), missing_ok=True,
                       secrets=url_secrets(url))
            self.ctx.logger.info("gitlab %s: deleted webhook %s for %s", self.path, hook["id"], safe_url(url))


def _hint(status: int) -> str:
    if status == 401:
        return ("; the token was refused: check scm.token (a personal, group or project access token with the "
                "`api` scope) and that it belongs to this GitLab")
    if status == 403:
        return ("; the token may not do this: it needs the `api` scope, and CI/CD variables and webhooks need the "
                "Maintainer role on the project")
    return ""


def _webhook_info(hook: Mapping[str, Any]) -> WebhookInfo:
    return WebhookInfo(
        id=str(hook["id"]), url=str(hook.get("url") or ""),
        events=sorted(e for e, m in WEBHOOK_EVENTS.items() if m.gitlab and hook.get(m.gitlab)),
        # GitLab switches off a hook whose deliveries keep failing; that is the only way one is not active
        active=str(hook.get("alert_status") or "executable") == "executable",
        insecure_ssl=not hook.get("enable_ssl_verification", True), content_type="json", has_secret=None)
