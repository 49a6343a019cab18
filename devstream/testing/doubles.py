"""Failures of an HTTP system, for harnesses of plugins that talk HTTP through `ctx.http_client`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from devstream.plugin.base import PluginContext
from devstream.plugin.http import http_client
from devstream.testing.checks import FailureKind

__all__ = ["http_failures", "failing_http_context"]


def failing_http_context(context: PluginContext, status: int) -> PluginContext:
    """`context`, but every HTTP request its client sends is answered `status` (retries do not wait)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": f"the test double answers {status}"})

    def factory(**kwargs: Any) -> httpx.Client:
        kwargs.update(transport=httpx.MockTransport(answer), sleep=lambda _seconds: None)
        return http_client(**kwargs)

    return dataclasses.replace(context, client_factory=factory)


def http_failures(options: Mapping[str, Any], context: PluginContext, *, transient: int = 503, permanent: int = 403
                  ) -> dict[FailureKind, Callable[[], tuple[Mapping[str, Any], PluginContext]]]:
    """`Harness.failures` for a plugin whose system is an HTTP API: the system answers 503 (transient) or
    403 (permanent) to every request."""
    return {"transient": lambda: (options, failing_http_context(context, transient)),
            "permanent": lambda: (options, failing_http_context(context, permanent))}
