"""Jira Cloud's REST API (v3), as the jira plugin needs it: does the project exist, and can these credentials see it.

Jira Cloud takes basic auth with the account's email address and an API token
(https://id.atlassian.com/manage-profile/security/api-tokens). Requests go through the context's retrying client
(429 and 5xx retried, honouring `Retry-After`); the token is sent only to the configured `baseURL`'s host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugin.http import json_answer

__all__ = ["TOKEN_ENV", "JiraClient", "Project"]

TOKEN_ENV = "JIRA_API_TOKEN"
_TIMEOUT = 30.0


@dataclass(frozen=True)
class Project:
    id: str
    key: str
    name: str


class JiraClient:
    """One Jira site (`base_url`, such as https://example.atlassian.net) as one user. The token is the options'
    or, when not given, the JIRA_API_TOKEN environment variable. Close it, or use it as a context manager."""

    def __init__(self, ctx: PluginContext, base_url: str, email: str, token: str | None) -> None:
        token = token or os.environ.get(TOKEN_ENV, "")
        if not token:
            raise PermanentError(f"{ctx.key}: no Jira API token: set jira.token (e.g. [[ env \"{TOKEN_ENV}\" ]]) or "
                                 f"the {TOKEN_ENV} environment variable")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = ctx.http_client(base_url=self.base_url, timeout=_TIMEOUT, auth=httpx.BasicAuth(email, token),
                                     headers={"Accept": "application/json", "User-Agent": "dtm"})

    def __enter__(self) -> JiraClient:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def project(self, key: str) -> Project | None:
        """The project with this key, or None when Jira has none these credentials can see."""
        response = self._http.get(f"/rest/api/3/project/{quote(key, safe='')}")
        response.read()
        if response.status_code == 404:
            return None
        data = json_answer(response, f"Jira {self.base_url}: read project {key}", secrets=[self._token], advice={
            401: "Jira refused the email and API token (401); check jira.userEmail and jira.token (an API token, "
                 "not the account's password)"})
        return Project(id=str(data["id"]), key=str(data["key"]), name=str(data.get("name", "")))
