"""The core of dtm's GitHub client: the REST API transport, errors and paging, and repositories. Files and
commits (github_files.py) and Actions secrets and webhooks (github_settings.py) build on it; `GitHubClient`
(github.py) is all three."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn, Self
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext, raise_for_status
from devstream.plugin.http import rate_limit_error, rate_limit_wait
from devstream.plugins.scm.base import RepoInfo, RepoSpec, mask, next_page_url
from devstream.plugins.scm.github_answers import error_message, field
from devstream.repourl import GITHUB_API, github_api_root

__all__ = ["API_URL", "API_VERSION", "TOKEN_ENV", "GitHubCore", "api_url"]

API_URL = GITHUB_API
API_VERSION = "2022-11-28"
TOKEN_ENV = "GITHUB_TOKEN"
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_PER_PAGE = 100



def api_url(spec: RepoSpec) -> str:
    """The REST API's root: `apiURL` as given, `<baseURL>/api/v3` for GitHub Enterprise, else api.github.com."""
    return github_api_root(spec.apiURL, spec.baseURL)


class GitHubCore:
    """One GitHub repository (`spec`) over the REST API: the transport, errors, paging and the repository itself.

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
    def __enter__(self) -> Self:
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
            raise PermanentError(f"{where}: GitHub refused the token (401 {error_message(response)}); "
                                 f"check the repo's `token`")
        try:
            raise_for_status(response)
        except (PermanentError, TransientError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        raise PermanentError(f"{where}: unexpected answer {status} {error_message(response)}")

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
        visibility = self.spec.visibility or ("private" if private else "public")
        body: dict[str, Any] = {"name": self.spec.name, "private": visibility != "public", "auto_init": False}
        if description:
            body["description"] = description
        if self.spec.org:
            body["visibility"] = visibility  # an organisation's repository may also be internal (Enterprise)
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
            raise PermanentError(f"GitHub {self.spec.full_name}: delete the repository: 403 {error_message(response)} "
                                 f"(the token needs the delete_repo scope, or admin rights on the repository)")
        self._fail(response, "delete the repository")

# -- helpers ---------------------------------------------------------------------------------------------

def _repo_info(data: Mapping[str, Any], where: str) -> RepoInfo:
    return RepoInfo(full_name=field(data, where, "full_name"), default_branch=str(data.get("default_branch") or "main"),
                    clone_url=str(data.get("clone_url", "")), html_url=str(data.get("html_url", "")),
                    id=str(data["id"]) if data.get("id") is not None else None)


def _name_taken(response: httpx.Response) -> bool:
    return "already exists" in error_message(response).lower()
