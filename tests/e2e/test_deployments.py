"""dtm's flows as Prefect deployments, on a real `prefect server start` with a process worker.

The way a platform team uses them: `prefect deploy --all` from the repository, a worker on the pool, and
runs triggered from `prefect deployment run` and from the REST API.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_server import PREFECT as PREFECT_BIN
from e2e_server import REPO, Server

from devstream.prefect_boundary.state_store import PrefectStateStore

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
    assert state_keys(quickstart) == {"file_readme", "noop_registry", "file_ci-config", "noop_deploy",
                                      "repo-scaffolding_demo-service", "ci-generic_demo-service"}
    assert (quickstart.parent / "build" / "demo-service" / "ci.yml").exists()


def test_apply_and_destroy_triggered_over_rest(server: Server, quickstart: Path):
    apply_id = server.deployment_id("dtm-apply")
    run = server.api("POST", f"/deployments/{apply_id}/create_flow_run",
                     {"parameters": {"config": str(quickstart)}, "tags": ["api"], "name": "rest-triggered"})
    assert set(run["tags"]) >= {"api", "dtm"}
    assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
    assert len(state_keys(quickstart)) == 6

    destroy_id = server.deployment_id("dtm-destroy")
    run = server.api("POST", f"/deployments/{destroy_id}/create_flow_run", {"parameters": {"config": str(quickstart)}})
    assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
    assert state_keys(quickstart) == set()
    assert not (quickstart.parent / "build" / "demo-service" / "README.md").exists()


def test_a_failed_change_fails_the_deployment_run(server: Server, tmp_path: Path):
    config = tmp_path / "broken.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "noop", "instanceID": "bad", "options": {"fail_on": ["create"]}},
        {"name": "noop", "instanceID": "good"},
    ]}))
    run = server.api("POST", f"/deployments/{server.deployment_id('dtm-apply')}/create_flow_run",
                     {"parameters": {"config": str(config)}})
    assert server.wait_for_run(run["id"])["state"]["type"] == "FAILED"
    assert set(yaml.safe_load((tmp_path / "devstream.state").read_text())) == {"noop_good"}


def slow_config(tmp_path: Path, n: int = 4, latency_ms: int = 1500, backend: str = "local") -> Path:
    config = tmp_path / f"slow-{tmp_path.name[-12:].lower().replace('_', '-')}.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": backend}}, "tools": [
        {"name": "noop", "instanceID": f"slow-{i}", "options": {"latency_ms": latency_ms, "triggers": {"run": 1}}}
        for i in range(n)
    ]}))
    return config


def test_two_applies_at_once_run_one_after_the_other(server: Server, tmp_path: Path):
    # The default backend: state as artifacts on the server, its lock a global concurrency limit with a lease.
    config = slow_config(tmp_path, backend="prefect")
    apply_id = server.deployment_id("dtm-apply")
    first = server.api("POST", f"/deployments/{apply_id}/create_flow_run", {"parameters": {"config": str(config)}})
    second = server.api("POST", f"/deployments/{apply_id}/create_flow_run", {"parameters": {"config": str(config)}})
    done = [server.wait_for_run(r["id"], timeout=180) for r in (first, second)]
    assert [r["state"]["type"] for r in done] == ["COMPLETED", "COMPLETED"]
    # Both started at once; the state's lock made one wait, so it planned after the other had applied.
    plans = sorted(next(a["data"] for key, a in server.run_artifacts(r["id"]).items() if key.startswith("dtm-plan-"))
                   for r in done)
    assert "4 to create" in plans[1] and "No changes" in plans[0], plans
    records = PrefectStateStore(config.stem, api_url=server.url).read()
    assert set(records) == {f"noop_slow-{i}" for i in range(4)}
    assert not (tmp_path / "devstream.state").exists()


def test_a_killed_worker_leaves_no_lock_behind(server: Server, tmp_path: Path):
    import os
    import signal
    import time

    config = slow_config(tmp_path, n=3, latency_ms=4000)
    victim = server.worker("dtm", "doomed")
    apply_id = server.deployment_id("dtm-apply")
    run = server.api("POST", f"/deployments/{apply_id}/create_flow_run", {"parameters": {"config": str(config)}})
    lock = tmp_path / "devstream.state.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lock.exists(), "the apply never took the state's lock"
    # As if the machine died: SIGKILL the flow run's process (it holds the lock) and every worker.
    holder = json.loads(lock.read_text())
    os.kill(holder["pid"], signal.SIGKILL)
    for proc in list(server.procs[1:]):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    server.procs = server.procs[:1]
    victim.wait(timeout=10)
    time.sleep(1)
    assert lock.exists(), "a SIGKILLed run cannot remove its lock: the next run must take it over"

    server.worker("dtm", "worker-after-crash")
    server.api("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "CRASHED", "name": "Crashed"},
                                                             "force": True})
    retry = server.api("POST", f"/deployments/{apply_id}/create_flow_run", {"parameters": {"config": str(config)}})
    assert server.wait_for_run(retry["id"], timeout=180)["state"]["type"] == "COMPLETED"
    assert len(yaml.safe_load((tmp_path / "devstream.state").read_text())) == 3
    assert not lock.exists()


def test_a_hand_edit_is_found_by_the_drift_deployment_and_put_back_by_the_automation(server: Server, quickstart: Path):
    import subprocess
    import sys
    import time
    from datetime import UTC, datetime, timedelta

    apply_id = server.deployment_id("dtm-apply")
    run = server.api("POST", f"/deployments/{apply_id}/create_flow_run", {"parameters": {"config": str(quickstart)}})
    assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
    subprocess.run([sys.executable, str(REPO / "deployments" / "automation_drift.py"), "--deployment",
                    "dtm-apply/dtm-apply"], env=server.env, check=True, capture_output=True, timeout=60)

    readme = quickstart.parent / "build" / "demo-service" / "README.md"
    original = readme.read_text()
    readme.write_text("edited by hand\n")
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    check = server.api("POST", f"/deployments/{server.deployment_id('dtm-drift-check')}/create_flow_run",
                       {"parameters": {"config": str(quickstart)}})
    assert server.wait_for_run(check["id"])["state"]["type"] == "COMPLETED"  # drift found is not a failure

    report = server.api("GET", "/artifacts/dtm-drift-quickstart/latest")
    assert "file.readme" in report["data"] and "drifted" in report["data"]

    deadline, events = time.monotonic() + 30, []
    while not events and time.monotonic() < deadline:
        until = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
        page = server.api("POST", "/events/filter", {"filter": {"event": {"name": ["dtm.drift.detected"]},
                                                                "occurred": {"since": since, "until": until}},
                                                     "limit": 50})
        events = [e for e in page["events"] if e["resource"]["prefect.resource.id"] == "dtm.quickstart.file.readme"]
        time.sleep(1)
    assert events and "sha256" in str(events[0]["payload"]["fields"])

    # The automation answers the event with an apply of the same config, which puts the file back.
    deadline = time.monotonic() + 90
    while readme.read_text() != original and time.monotonic() < deadline:
        time.sleep(1)
    assert readme.read_text() == original


def test_dtm_serve_registers_the_configs_deployments_and_runs_them(server: Server, tmp_path: Path):
    import subprocess
    import time

    from processes import spawn, stop

    config = tmp_path / "served.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}},
                                      "tools": [{"name": "noop", "instanceID": "x", "options": {}}]}))
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    dtm = str(Path(PREFECT_BIN).parent / "dtm")
    # Started and stopped so that it works from any shell, a background job's included (see tests/processes.py).
    proc = spawn([dtm, "serve", "-f", str(config), "--drift-cron", "*/5 * * * *"], env=server.env, stdout=log,
                 stderr=subprocess.STDOUT)
    try:
        deadline, found = time.monotonic() + 60, []
        while len(found) < 4 and time.monotonic() < deadline:
            found = server.api("POST", "/deployments/filter", {"deployments": {"name": {"any_": ["served"]}}})
            time.sleep(0.5)
        assert len(found) == 4, (tmp_path / "serve.log").read_text()[-2000:]
        drift = [d for d in found if d["entrypoint"].endswith("drift_check")]
        assert drift and drift[0]["schedules"][0]["schedule"]["cron"] == "*/5 * * * *"
        apply = next(d for d in found if d["entrypoint"].endswith(":apply") or d["entrypoint"].endswith(".apply"))
        run = server.api("POST", f"/deployments/{apply['id']}/create_flow_run", {})
        assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
        assert set(yaml.safe_load((tmp_path / "devstream.state").read_text())) == {"noop_x"}
    finally:
        stop(proc)
        log.close()
