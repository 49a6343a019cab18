"""The OpenAPI check itself: what it lets through and what it catches."""

from __future__ import annotations

import httpx
import pytest
from github_openapi import OpenAPIChecker
from github_standin import GitHubStandIn
from github_testkit import TOKEN, nonconforming

API = "https://api.github.com"


def send(standin: GitHubStandIn, method: str, path: str, **kwargs: object) -> httpx.Response:
    with httpx.Client(transport=standin.transport(), base_url=API,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_a_malformed_request_sent_to_the_stand_in_is_caught(standin: GitHubStandIn, openapi: OpenAPIChecker) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"a"})
    tree = {"base_tree": "0" * 40, "tree": [{"path": "a.txt", "mode": "100645", "type": "blob", "content": "x",
                                             "contents": "typo"}]}
    send(standin, "POST", "/repos/octo/web/git/trees", json=tree)

    problems = nonconforming(standin, openapi)

    assert any("body.tree[0].mode: '100645' is not one of" in p for p in problems), problems
    assert any("body.tree[0].contents: not a property of the schema" in p for p in problems), problems
    standin.requests.clear()  # caught: the autouse check after this test has nothing left to fail on


@pytest.mark.parametrize(("method", "path", "kwargs", "expected"), [
    ("GET", "/repos/octo/web/no-such-thing", {}, "no such path"),
    ("PUT", "/repos/octo/web/git/trees", {"json": {"tree": []}}, "takes POST, not PUT"),
    ("GET", "/repos/octo/web/contents/a.txt", {"params": {"branch": "main"}}, "query parameter 'branch' is not"),
    ("GET", "/repos/octo/web/actions/secrets", {"params": {"per_page": "many"}}, "'many' is not of type 'integer'"),
    ("GET", "/repos/octo/web", {"json": {"x": 1}}, "takes no request body"),
    ("POST", "/user/repos", {"json": {"private": True}}, "'name' is a required property"),
    ("POST", "/user/repos", {"json": {"name": "x", "auto_init": "no"}}, "'no' is not of type 'boolean'"),
    ("PUT", "/repos/octo/web/actions/secrets/X", {"content": b"{}", "headers": {"content-type": "text/plain"}},
     "content type text/plain"),
    ("PATCH", "/repos/octo/web/git/refs/heads/main", {}, "a request body is required"),
])
def test_what_the_check_catches(openapi: OpenAPIChecker, method: str, path: str, kwargs: dict[str, object],
                                expected: str) -> None:
    request = httpx.Request(method, API + path, **kwargs)  # type: ignore[arg-type]
    problems = openapi.problems(method, path, request.url.params.multi_items(), request.read(),
                                request.headers.get("content-type"))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(("method", "path", "query", "body"), [
    ("GET", "/repos/octo/web/git/ref/heads/feature/x", [], None),
    ("GET", "/repos/octo/web/contents/.github/workflows/ci.yml", [("ref", "main")], None),
    ("GET", "/repositories/1234/actions/secrets", [("per_page", "100"), ("page", "2")], None),
    ("GET", "/repos/octo/web/actions/secrets/public-key", [], None),
    ("POST", "/repos/octo/web/git/trees", [], {"tree": [{"path": "a", "mode": "100644", "type": "blob",
                                                         "sha": None}], "base_tree": "0" * 40}),
    ("PATCH", "/repos/octo/web/git/refs/heads/main", [], {"sha": "0" * 40, "force": True}),
])
def test_what_the_check_lets_through(openapi: OpenAPIChecker, method: str, path: str,
                                     query: list[tuple[str, str]], body: object) -> None:
    request = httpx.Request(method, API + path, params=tuple(query), json=body)
    assert openapi.problems(method, path, query, request.read() if body is not None else b"",
                            request.headers.get("content-type")) == []
