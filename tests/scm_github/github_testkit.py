"""Helpers shared by the GitHub tests: stand-ins registered for the OpenAPI check, and contexts wired to them.

(A module of its own, not conftest.py: other test folders have a conftest module too, so importing
`conftest` by name could find theirs.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import httpx
from github_openapi import OpenAPIChecker
from github_standin import GitHubStandIn

from devstream.plugin import http as plugin_http
from devstream.plugin.http import RetryingTransport

TOKEN = "ghp_standin_token"

made: list[tuple[GitHubStandIn, OpenAPIChecker]] = []
"""The stand-ins the running test made, with the checker their requests are held to."""


def make_standin(checker: OpenAPIChecker, *, api: str = "https://api.github.com") -> GitHubStandIn:
    """A stand-in whose requests and answers are checked against the OpenAPI description after the test."""
    standin = GitHubStandIn(token=TOKEN, api=api)
    made.append((standin, checker))
    return standin


def nonconforming(standin: GitHubStandIn, checker: OpenAPIChecker) -> list[str]:
    """What is wrong with the requests the stand-in received, and with its answers to them, as GitHub's OpenAPI
    description sees them."""
    found: list[str] = []
    for r in standin.requests:
        if r.url.host != standin.api.host:
            continue  # not a request to the API (e.g. a CI file fetched by URL)
        found += checker.problems(r.method, r.path, r.url.params.multi_items(), r.body,
                                  r.headers.get("content-type"))
        if r.response is not None:
            found += checker.response_problems(r.method, r.path, r.response.status_code, r.response.content,
                                               r.response.headers.get("content-type"))
    return found


def retrying_transport(standin: GitHubStandIn) -> RetryingTransport:
    """dtm's retrying transport around the stand-in, with a sleep that only records how long it would wait."""
    return RetryingTransport(standin.transport(), sleep=standin.sleeps.append, attempts=3)


def client_factory(standin: GitHubStandIn) -> Callable[..., httpx.Client]:
    """What `ctx.http_client` builds: dtm's own client and retrying transport, around the stand-in."""
    return functools.partial(plugin_http.http_client, transport=retrying_transport(standin))
