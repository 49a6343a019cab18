"""The engine's parts on their own, without Prefect: the executor with an injected HTTP client factory, the run's
progress told to listeners, and the one read path with a runner of the test's own.

A plugin that talks HTTP (`http-counter`) keeps a counter on a tiny service. The service is an
`httpx.MockTransport` handed to the workspace as its client factory, the way a test reaches a stand-in: no
module attribute is patched.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devstream.config.models import ToolSpec
from devstream.engine import Workspace
from devstream.errors import PermanentError, TransientError
from devstream.live import ReadOutcome, read_live_status, threaded_reads
from devstream.plugin import Plugin, PluginContext, http_client, raise_for_status
from devstream.plugin.base import PluginOptions
from devstream.plugin.registry import PluginRegistry
from devstream.retry import RetryPolicy

BASE_URL = "https://counter.example.internal"


class CounterOptions(PluginOptions):
    name: str
    start: int = 0


class CounterPlugin(Plugin[CounterOptions]):
    """One named counter on the service: created at `start`, read back, deleted."""

    name = "http-counter"
    Options = CounterOptions

    def _client(self, ctx: PluginContext) -> httpx.Client:
        return ctx.http_client(base_url=BASE_URL, timeout=5.0)

    def create(self, options: CounterOptions, ctx: PluginContext) -> dict[str, Any]:
        with self._client(ctx) as client:
            response = client.put(f"/counters/{options.name}", json={"value": options.start})
            raise_for_status(response)
            return {"outputs": {"url": f"{BASE_URL}/counters/{options.name}"}, "value": response.json()["value"]}

    update = create

    def read(self, options: CounterOptions, ctx: PluginContext) -> dict[str, Any] | None:
        with self._client(ctx) as client:
            response = client.get(f"/counters/{options.name}")
            if response.status_code == 404:
                return None
            raise_for_status(response)
            return {"outputs": {"url": f"{BASE_URL}/counters/{options.name}"}, "value": response.json()["value"]}

    def delete(self, options: CounterOptions, ctx: PluginContext) -> None:
        with self._client(ctx) as client:
            raise_for_status(client.delete(f"/counters/{options.name}"))


class CounterService:
    """The service behind the transport: counters by name, every request seen, failures on demand."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.requests: list[str] = []
        self.refuse: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        self.requests.append(f"{request.method} {request.url.path}")
        if name in self.refuse:
            return httpx.Response(400, json={"message": f"{name} is refused"})
        if request.method == "PUT":
            self.counters[name] = int(json.loads(request.content)["value"])
        elif request.method == "DELETE":
            self.counters.pop(name, None)
            return httpx.Response(204)
        if name not in self.counters:
            return httpx.Response(404, json={"message": "no such counter"})
        return httpx.Response(200, json={"value": self.counters[name]})

    def client_factory(self) -> functools.partial[httpx.Client]:
        return functools.partial(http_client, transport=httpx.MockTransport(self.handle))


@pytest.fixture
def service() -> CounterService:
    return CounterService()


def workspace(tmp_path: Path, service: CounterService, *names: str, retry: RetryPolicy | None = None) -> Workspace:
    tools = [{"name": "http-counter", "instanceID": n, "options": {"name": n, "start": i}} for i, n in enumerate(names)]
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": tools}, sort_keys=False))
    ws = Workspace.open(path, registry=PluginRegistry({"http-counter": CounterPlugin}, use_entry_points=False),
                        client_factory=service.client_factory())
    if retry is not None:
        ws.retry = retry
    return ws


def test_the_executor_builds_plugins_clients_with_the_factory_it_was_given(tmp_path, service):
    ws = workspace(tmp_path, service, "visits", "likes")
    plan = ws.current_plan()
    assert [c.action for c in plan.changes] == ["create", "create"]

    for change in plan.changes:
        ws.executor.run_change(change)

    assert service.counters == {"visits": 0, "likes": 1}
    assert service.requests == ["PUT /counters/visits", "PUT /counters/likes"]
    # Each record was written as its change ended, and the next plan reads the service through the same factory.
    assert ws.records()["http-counter_likes"].resourceStatus["value"] == 1
    assert ws.current_plan().empty
    assert service.requests[2:] == ["GET /counters/visits", "GET /counters/likes"]


def test_a_refused_request_fails_the_change_and_writes_no_record(tmp_path, service):
    ws = workspace(tmp_path, service, "visits")
    service.refuse.add("visits")
    (change,) = ws.current_plan().changes

    with pytest.raises(PermanentError, match="counters/visits returned 400"):
        ws.executor.run_change(change)
    assert ws.records() == {}


def test_listeners_are_told_how_each_change_ended_while_they_listen(tmp_path, service):
    ws = workspace(tmp_path, service, "visits", "likes")
    service.refuse.add("likes")
    told: list[tuple[str, str]] = []
    visits, likes = ws.current_plan().changes

    with ws.progress.listening(lambda key, result: told.append((key, result))):
        ws.executor.run_change(visits)
        with pytest.raises(PermanentError):
            ws.executor.run_change(likes)
    ws.executor.run_change(visits.model_copy(update={"only_if_inputs_change": True}))

    assert told == [("http-counter.visits", "succeeded"), ("http-counter.likes", "failed")]
    # The run's own account of every change, listened to or not (the server watch reads it).
    assert ws.progress.ended == {"http-counter.visits": "unchanged", "http-counter.likes": "failed"}


def test_no_change_starts_once_changes_are_stopped(tmp_path, service):
    ws = workspace(tmp_path, service, "visits")
    (change,) = ws.current_plan().changes

    assert ws.executor.stop_changes("the server went away", wait=0) == set()
    with pytest.raises(PermanentError, match="not run: the server went away"):
        ws.executor.run_change(change)
    assert service.requests == [] and ws.progress.ended == {"http-counter.visits": "failed"}


def applied(tmp_path: Path, service: CounterService, *names: str) -> Workspace:
    ws = workspace(tmp_path, service, *names)
    for change in ws.current_plan().changes:
        ws.executor.run_change(change)
    service.requests.clear()
    return ws


def outcomes(*results: ReadOutcome):
    """A runner of the test's own: it reads nothing, and answers with `results` in order."""
    seen: list[str] = []

    def run(targets: Sequence[tuple[ToolSpec, dict[str, Any]]]) -> list[ReadOutcome]:
        seen.extend(tool.key for tool, _ in targets)
        return list(results)

    return run, seen


def test_a_plan_fails_with_the_first_failed_read(tmp_path, service):
    ws = applied(tmp_path, service, "visits", "likes")
    run, seen = outcomes({"value": 0}, TransientError("likes: read failed: 503"))

    with pytest.raises(TransientError, match="likes: read failed"):
        read_live_status(ws, ws.records(), run)
    assert seen == ["http-counter.visits", "http-counter.likes"]


def test_a_check_keeps_each_failure_as_its_message_with_secrets_scrubbed(tmp_path, service):
    ws = applied(tmp_path, service, "visits", "likes")
    run, _ = outcomes(None, RuntimeError("crashed near likes"))

    status = read_live_status(ws, ws.records(), run, check=True)
    assert status.live == {"http-counter_visits": None}
    assert status.errors == {"http-counter_likes": "crashed near likes"}


def test_a_check_reads_only_the_keys_asked_for(tmp_path, service):
    ws = applied(tmp_path, service, "visits", "likes")

    status = read_live_status(ws, ws.records(), threaded_reads(ws), check=True, only={"http-counter_likes"})
    assert status.live == {"http-counter_likes": {"outputs": {"url": f"{BASE_URL}/counters/likes"}, "value": 1}}
    assert service.requests == ["GET /counters/likes"]


def test_the_thread_runner_retries_a_transient_failure_by_the_workspace_policy(tmp_path, service):
    ws = applied(tmp_path, service, "visits")
    ws.retry = RetryPolicy(retries=2, delay=0)
    failures = iter([httpx.Response(503), httpx.Response(503)])
    real = service.handle

    def flaky(request: httpx.Request) -> httpx.Response:
        return next(failures, None) or real(request)

    ws.executor.client_factory = functools.partial(http_client, transport=httpx.MockTransport(flaky), attempts=1)
    assert ws.refresh(ws.records()) == {"http-counter_visits": {"outputs": {"url": f"{BASE_URL}/counters/visits"},
                                                                "value": 0}}
