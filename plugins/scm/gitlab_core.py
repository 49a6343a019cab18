"""The core of dtm's GitLab client: the REST API v4 transport, errors and paging, and the project itself.
Files and commits (gitlab_files.py) and CI/CD variables, runners and webhooks (gitlab_settings.py) build on
it; `GitLabClient` (gitlab.py) is all three."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Self
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError, PluginError
from devstream.plugin import PluginContext, raise_for_status
from devstream.plugins.scm.base import (
    RepoInfo,
    RepoSpec,
    mask,
    next_page_url,
)
from devstream.repourl import GITLAB_COM, gitlab_api_root, url_segments

__all__ = ["GITLAB_COM", "TAKEN", "GitLabCore", "api_url", "project_path"]

_PER_PAGE = 100
_MAX_PAGES = 10_000
TAKEN = "has already been taken"  # GitLab's word for a name in use (a project, a variable)


def api_url(spec: RepoSpec) -> str:
    """The REST API root for the spec's GitLab, always ending in `/api/v4` (devstream.repourl's rule).

    Raises:
        PermanentError: the address is not an http(s) URL.
    """
    return gitlab_api_root(spec.apiURL, spec.baseURL, spec.url)


def project_path(spec: RepoSpec) -> str:
    """`namespace/name` of the project: from `org`/`owner` and `name`, else read from `url`.

    Raises:
        PermanentError: neither is enough to tell the project.
    """
    namespace = (spec.org or spec.owner or "").strip("/")
    if namespace and spec.name:
        return f"{namespace}/{spec.name}"
    if spec.url:
        segments = url_segments(spec.url)
        if len(segments) >= 2:
            segments[-1] = segments[-1].removesuffix(".git")
            return "/".join([namespace or "/".join(segments[:-1]), spec.name or segments[-1]])
    raise PermanentError("scm: cannot tell the GitLab project: give `org` (a group) or `owner` (a user) and "
                         "`name`, or the project's `url`")


def _scheduled_for_deletion(project: Mapping[str, Any]) -> bool:
    # GitLab's delayed deletion keeps a project visible (read-only) until the deletion runs.
    return bool(project.get("marked_for_deletion_at") or project.get("marked_for_deletion_on"))


class GitLabCore:
    """One GitLab project (`spec`) over the REST API v4: the transport, errors, paging and the project itself.
    `GitLabClient` (gitlab.py), which builds on it, documents its use."""

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
    def __enter__(self) -> Self:
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
        if response.status_code == 400 and TAKEN in response.text:
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



def _hint(status: int) -> str:
    if status == 401:
        return ("; the token was refused: check scm.token (a personal, group or project access token with the "
                "`api` scope) and that it belongs to this GitLab")
    if status == 403:
        return ("; the token may not do this: it needs the `api` scope, and CI/CD variables and webhooks need the "
                "Maintainer role on the project")
    return ""


