"""dtm's flows as Prefect deployments, on a real `prefect server start` with a process worker.

The way a platform team uses them: `prefect deploy --all` from the repository, a worker on the pool, and
runs triggered from `prefect deployment run` and from the REST API.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_server import REPO, Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("prefect-home"))
    srv.start()
    try:
        srv.cli("work-pool", "create", "dtm", "--type", "process")
        srv.cli("deploy", "--all")
        srv.worker("dtm", "worker-1")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("build", "*.state*"))
    return tmp_path / "examples" / "quickstart.yaml"


def state_keys(config: Path) -> set[str]:
    state = config.parent / "quickstart.state"
    return set(yaml.safe_load(state.read_text()) or {}) if state.exists() else set()


def test_apply_triggered_from_the_prefect_cli(server: Server, quickstart: Path):
    out = server.cli("deployment", "run", "dtm-apply/dtm-apply", "--param", f"config={quickstart}")
    run_id = out.split("/runs/flow-run/")[1].split()[0].strip()
    run = server.wait_for_run(run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert state_keys(quickstart) == {"file_readme", "noop_registry", "file_ci-config", "noop_deploy"}
    assert (quickstart.parent / "build" / "demo-service" / "ci.yml").exists()


def test_apply_and_destroy_triggered_over_rest(server: Server, quickstart: Path):
    apply_id = server.deployment_id("dtm-apply")
    run = server.api("POST", f"/deployments/{apply_id}/create_flow_run",
                     {"parameters": {"config": str(quickstart)}, "tags": ["api"], "name": "rest-triggered"})
    assert set(run["tags"]) >= {"api", "dtm"}
    assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
    assert len(state_keys(quickstart)) == 4

    destroy_id = server.deployment_id("dtm-destroy")
    run = server.api("POST", f"/deployments/{destroy_id}/create_flow_run", {"parameters": {"config": str(quickstart)}})
    assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
    assert state_keys(quickstart) == set()
    assert not (quickstart.parent / "build" / "demo-service" / "README.md").exists()


def test_a_failed_change_fails_the_deployment_run(server: Server, tmp_path: Path):
    config = tmp_path / "broken.yaml"
    config.write_text(yaml.safe_dump({"tools": [
        {"name": "noop", "instanceID": "bad", "options": {"fail_on": ["create"]}},
        {"name": "noop", "instanceID": "good"},
    ]}))
    run = server.api("POST", f"/deployments/{server.deployment_id('dtm-apply')}/create_flow_run",
                     {"parameters": {"config": str(config)}})
    assert server.wait_for_run(run["id"])["state"]["type"] == "FAILED"
    assert set(yaml.safe_load((tmp_path / "devstream.state").read_text())) == {"noop_good"}
