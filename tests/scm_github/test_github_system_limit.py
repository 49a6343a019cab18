"""One Prefect concurrency limit throttles every plugin's calls to GitHub.

Each task run of a tool that calls GitHub is tagged `dtm-system-github` (besides `dtm-plugin-<name>`), so
`prefect concurrency-limit create dtm-system-github 1` makes repo-scaffolding, github-actions and ci-generic
take turns: GitHub asks clients not to send content-creating requests concurrently (its secondary rate
limits). Here four tools of three plugins, on four repositories, are applied under a limit of 1, and the
GitHub stand-in counts how many requests it ever had in flight at once.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN

from devstream.cli import run
from devstream.executor import ClientFactory
from devstream.plugin.http import RetryingTransport, http_client

pytestmark = pytest.mark.usefixtures("prefect_server")

TAG = "dtm-system-github"


class InFlight:
    """The stand-in behind a transport that counts concurrent requests (each held 20 ms, like a network).
    `client_factory` is what the engine is given: dtm's own client around that transport."""

    def __init__(self, standin: GitHubStandIn) -> None:
        self.standin, self.now, self.most = standin, 0, 0
        self._lock = threading.Lock()
        transport = RetryingTransport(httpx.MockTransport(self.handler))
        self.client_factory: ClientFactory = functools.partial(http_client, transport=transport)

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.02)
            with self._lock:  # the stand-in itself answers one request at a time
                return self.standin.handler(request)
        finally:
            with self._lock:
                self.now -= 1


@pytest.fixture
def in_flight(standin: GitHubStandIn) -> InFlight:
    return InFlight(standin)


@pytest.fixture
def github_limit() -> Iterator[None]:
    """A tag concurrency limit of 1 on dtm-system-github, removed again after the test."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency import services

    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=TAG, concurrency_limit=1)
        with services._cache_lock:  # Prefect keeps "no limit" answers for 5 s: earlier tests' must not hide it
            services._no_limits_cache.clear()
        try:
            yield
        finally:
            client.delete_concurrency_limit_by_tag(TAG)


def config(folder: Path) -> Path:
    repo = {"scmType": "github", "owner": "octo", "token": TOKEN}
    jenkins = {"type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any }\n"}}
    workflow = {"configContents": {"ci.yml": "on: push\n"}}
    (folder / "template").mkdir()
    (folder / "template" / "README.md").write_text("# service\n")
    tools = [
        {"name": "repo-scaffolding", "instanceID": "new", "options": {
            "sourceRepo": "template", "destinationRepo": {**repo, "name": "new"}}},
        {"name": "github-actions", "instanceID": "a", "options": {"scm": {**repo, "name": "a"}, "pipeline": workflow}},
        {"name": "ci-generic", "instanceID": "b", "options": {"projectRepo": {**repo, "name": "b"}, "ci": jenkins}},
        {"name": "ci-generic", "instanceID": "c", "options": {"projectRepo": {**repo, "name": "c"}, "ci": jenkins}},
        {"name": "noop", "instanceID": "elsewhere", "options": {}},  # calls no system: not held back
    ]
    path = folder / "dtm.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": tools}, sort_keys=False))
    return path


def test_a_limit_on_the_system_tag_makes_every_plugins_github_calls_take_turns(
        standin: GitHubStandIn, in_flight: InFlight, github_limit: None, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        standin.add_repo(f"octo/{name}", files={"README.md": b"# hi\n"})

    assert run.apply(config_path=config(tmp_path), yes=True, client_factory=in_flight.client_factory) == 0

    assert {"octo/new", "octo/a", "octo/b", "octo/c"} <= set(standin.repos)
    assert in_flight.most == 1  # one GitHub request at a time, across three plugins and four tools
    tags = task_run_tags()
    assert tags["create repo-scaffolding.new"] == ["dtm-plugin-repo-scaffolding", TAG]
    assert tags["create github-actions.a"] == ["dtm-plugin-github-actions", TAG]
    assert tags["create ci-generic.b"] == ["dtm-plugin-ci-generic", TAG]
    assert tags["create noop.elsewhere"] == ["dtm-plugin-noop"]


def task_run_tags() -> dict[str, list[str]]:
    """The tags of the task runs of the last flow run, by task run name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (flow_run,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    return {r.name: sorted(r.tags) for r in runs}
