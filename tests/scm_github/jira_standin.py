"""An in-process, stateful stand-in for Jira Cloud's REST API (v3): the projects one account can see.

Built from Jira Cloud's REST API reference (developer.atlassian.com/cloud/jira/platform/rest/v3): `GET
/rest/api/3/project/{projectIdOrKey}` (query `expand`, `properties`) and `GET /rest/api/3/myself`. Jira Cloud's
OpenAPI description is published on Atlassian's site only, in no package registry this project installs from, so
the operations and their query parameters are listed here (`OPERATIONS`): anything else is answered 400 (an
unknown path 404) and reported by `problems()`.

As Jira Cloud does: basic auth with the account's email and API token, else 401 "Client must be authenticated to
access this resource."; a project the account cannot see is 404 with Jira's `errorMessages`; `inject` answers the
next requests with a given status (429 with `Retry-After`, 503, ...).
"""

from __future__ import annotations

import base64
import re
import threading

import httpx
from http_standin import OneAtATime, Recorded

OPERATIONS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", r"/rest/api/3/project/(?P<key>[^/]+)"): frozenset({"expand", "properties"}),
    ("GET", r"/rest/api/3/myself"): frozenset({"expand"}),
}


class JiraStandIn(OneAtATime):
    """One Jira Cloud site (`host`) and the one account (`email`, `token`) the tests use."""

    def __init__(self, *, host: str = "octo.atlassian.net", email: str = "dev@example.com",
                 token: str = "jira-standin-token", scheme: str = "https") -> None:
        self.host, self.email, self.token, self.scheme = host, email, token, scheme
        self.projects: dict[str, dict[str, str]] = {}  # key -> {id, key, name}
        self.requests: list[Recorded] = []
        self._serving = threading.Lock()
        self.injected: list[tuple[str, re.Pattern[str], int, dict[str, str], int]] = []

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def add_project(self, key: str, name: str = "") -> dict[str, str]:
        project = {"id": str(10000 + len(self.projects)), "key": key, "name": name or key.title()}
        self.projects[key] = project
        return project

    def inject(self, method: str, path: str, status: int, *, headers: dict[str, str] | None = None,
               times: int = 1) -> None:
        self.injected.append((method.upper(), re.compile(path), status, dict(headers or {}), times))

    def problems(self) -> list[str]:
        return [p for r in self.requests for p in _check(r.method, r.path, r.params)]

    def _respond(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params.multi_items())
        path = request.url.path
        self.requests.append(Recorded(request.method, path, params))
        for i, (method, pattern, status, headers, times) in enumerate(self.injected):
            if method == request.method and pattern.search(path):
                self.injected[i] = (method, pattern, status, headers, times - 1)
                if times <= 1:
                    del self.injected[i]
                return httpx.Response(status, json={"errorMessages": ["injected"], "errors": {}}, headers=headers)
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, text="Client must be authenticated to access this resource.",
                                  headers={"content-type": "text/html;charset=UTF-8"})
        problems = _check(request.method, path, params)
        if problems:
            return httpx.Response(400 if "no such" not in problems[0] else 404,
                                  json={"errorMessages": problems, "errors": {}})
        found = re.fullmatch(r"/rest/api/3/project/(?P<key>[^/]+)", path)
        if found:
            key = found.group("key")
            project = self.projects.get(key) or next((p for p in self.projects.values() if p["id"] == key), None)
            if project is None:
                return httpx.Response(404, json={"errorMessages": [f"No project could be found with key '{key}'."],
                                                 "errors": {}})
            return httpx.Response(200, json={**project, "self": f"{self.url}/rest/api/3/project/{project['id']}",
                                             "projectTypeKey": "software", "simplified": False})
        return httpx.Response(200, json={"accountId": "5b10a2844c20165700ede21g", "emailAddress": self.email,
                                         "active": True})


def _check(method: str, path: str, params: dict[str, str]) -> list[str]:
    for (m, pattern), allowed in OPERATIONS.items():
        if m == method and re.fullmatch(pattern, path):
            return [f"{method} {path}: query parameter {name!r} is not one of {sorted(allowed)}"
                    for name in params if name not in allowed]
    return [f"{method} {path}: no such operation in Jira Cloud's REST API"]
