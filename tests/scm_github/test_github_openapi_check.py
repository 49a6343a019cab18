"""The OpenAPI check itself: what it lets through and what it catches, in requests and in answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from github_openapi import OpenAPIChecker
from github_standin import GitHubStandIn, Repo
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


# -- answers -----------------------------------------------------------------------------------------------

def test_an_answer_github_would_not_give_is_caught(standin: GitHubStandIn, openapi: OpenAPIChecker,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"a"})
    real = standin._repo_json

    def made_up(repo: Repo) -> dict[str, Any]:  # a field GitHub never sends, and one of another type
        return {**real(repo), "default_branch_name": repo.default_branch, "id": str(repo.id)}

    monkeypatch.setattr(standin, "_repo_json", made_up)
    standin.inject("GET", r"/git/ref/", 418, message="I'm a teapot")
    send(standin, "GET", "/repos/octo/web")
    send(standin, "GET", "/repos/octo/web/git/ref/heads/main")

    problems = nonconforming(standin, openapi)

    assert any("GET /repos/octo/web -> 200: body.default_branch_name: not a property of the schema" in p
               for p in problems), problems
    assert any("GET /repos/octo/web -> 200: body.id: " in p and "is not of type 'integer'" in p
               for p in problems), problems
    assert any("-> 418: /repos/{owner}/{repo}/git/ref/{ref} does not document status 418" in p
               for p in problems), problems
    standin.requests.clear()  # caught: the autouse check after this test has nothing left to fail on


def _json(value: object) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


@pytest.mark.parametrize(("method", "path", "status", "body", "expected"), [
    ("GET", "/repos/octo/web", 200, {"full_name": "octo/web", "default_branch_name": "main"},
     "body.default_branch_name: not a property of the schema"),
    ("GET", "/repos/octo/web", 200, {"id": "12"}, "body.id: '12' is not of type 'integer'"),
    ("GET", "/repos/octo/web", 200, {"name": None}, "body.name: None for not nullable"),
    ("GET", "/repos/octo/web", 200, {"owner": {"login": "octo", "nick": "o"}}, "body.owner.nick: not a property"),
    ("GET", "/repos/octo/web/git/ref/heads/main", 200, {"object": {"sha": "abc"}},
     "body.object.sha: 'abc' is too short"),
    ("GET", "/repos/octo/web/hooks", 200, [{"id": 1, "config": {"url": "https://x", "token": "y"}}],
     "body[0].config.token: not a property"),
    ("GET", "/repos/octo/web/hooks", 200, [{"config": {"insecure_ssl": False}}], "body[0].config.insecure_ssl: False"),
    ("GET", "/repos/octo/web/contents/a", 200, {"type": "file", "content": "", "lines": 3},
     "body.lines: not a property"),
    ("GET", "/repos/octo/web/contents/a", 200, {"type": "folder"}, "is not valid under any of the given schemas"),
    ("GET", "/repos/octo/web/compare/main...abc1234", 200, {"base_commit": {"author": {"login": "x", "karma": 1}}},
     "body.base_commit.author.karma: not a property"),
    ("GET", "/repos/octo/web/actions/secrets/public-key", 404, {"message": "Not Found"},
     "does not document status 404"),
    ("DELETE", "/repos/octo/web/hooks/1", 200, {}, "does not document status 200"),
    ("DELETE", "/repos/octo/web/hooks/1", 204, {"deleted": True}, "GitHub answers 204 without a body"),
    ("GET", "/repos/octo/web", 200, b"", "GitHub answers 200 with a body"),
    ("GET", "/repos/octo/web", 200, b"<html>", "the body is not JSON"),
    ("POST", "/user/repos", 422, {"message": "x", "documentation_url": "u", "errors": "taken"},
     "body.errors: 'taken' is not of type 'array'"),
    ("POST", "/user/repos", 422, {"message": "x"}, "'documentation_url' is a required property"),
    ("POST", "/user/repos", 422, {"message": "x", "documentation_url": "u", "errors": [{"field": "name"}]},
     "body.errors[0]: 'code' is a required property"),
    ("GET", "/repos/octo/web", 404, {"message": "Not Found", "status": 404},
     "body.status: 404 is not of type 'string'"),
    ("GET", "/repos/octo/web", 429, {"message": "slow down", "retry_in": 5}, "body.retry_in: not a property"),
])
def test_what_the_answer_check_catches(openapi: OpenAPIChecker, method: str, path: str, status: int, body: object,
                                       expected: str) -> None:
    problems = openapi.response_problems(method, path, status, _json(body), "application/json; charset=utf-8")
    assert any(expected in p for p in problems), problems


def test_an_answer_of_another_content_type_is_caught(openapi: OpenAPIChecker) -> None:
    problems = openapi.response_problems("GET", "/repos/octo/web", 200, b"octo/web", "text/plain")
    assert any("content type text/plain is not one of ['application/json']" in p for p in problems), problems


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    # a subset of the fields, a null where the schema allows one
    ("GET", "/repos/octo/web", 200, {"full_name": "octo/web", "description": None, "owner": {"login": "octo"}}),
    ("GET", "/user", 200, {"login": "octo", "id": 1, "type": "User"}),  # fits both branches of the oneOf
    ("GET", "/repos/octo/web/contents/a.txt", 200, {"type": "file", "encoding": "base64", "content": "YQ==\n"}),
    ("GET", "/repos/octo/web/contents/src", 200, [{"type": "dir", "name": "src", "path": "src", "sha": "0" * 40}]),
    ("GET", "/repos/octo/web/compare/main...abc1234", 200, {"status": "behind", "base_commit": {"author": None}}),
    ("GET", "/repos/octo/web/hooks", 200, [{"id": 1, "config": {"url": "https://x", "insecure_ssl": 0}}]),
    ("GET", "/repositories/1234/actions/secrets", 200, {"total_count": 1, "secrets": [{"name": "A"}]}),
    ("PUT", "/repos/octo/web/actions/secrets/A", 201, {}),
    ("DELETE", "/repos/octo/web/hooks/1", 204, b""),
    ("GET", "/repos/octo/web", 404, {"message": "Not Found", "documentation_url": "u", "status": "404"}),
    ("POST", "/user/repos", 422, {"message": "Repository creation failed.", "documentation_url": "u",
                                  "errors": [{"resource": "Repository", "code": "custom", "field": "name"}]}),
    # statuses GitHub may send anywhere, and one it sends where the description does not say so
    ("GET", "/repos/octo/web/actions/secrets/public-key", 429, {"message": "slow down"}),
    ("GET", "/repos/octo/web/actions/secrets/public-key", 403, {"message": "API rate limit exceeded"}),
    ("PUT", "/repos/octo/web/actions/secrets/A", 502, {"message": "Server Error"}),
    ("DELETE", "/repos/octo/web/actions/secrets/A", 404, {"message": "Not Found", "documentation_url": "u"}),
])
def test_what_the_answer_check_lets_through(openapi: OpenAPIChecker, method: str, path: str, status: int,
                                            body: object) -> None:
    assert openapi.response_problems(method, path, status, _json(body), "application/json") == []
