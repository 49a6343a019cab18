"""Scale-out on PostgreSQL: a `prefect server start` on a throwaway PostgreSQL cluster, two process workers,
several configs applied at once from the REST API, and a drift check.

What a team that outgrows SQLite runs: `prefect deploy --all` from the repository, more than one worker on
the pool, and applies of many configs triggered together. Two applies of the same config triggered together
must still take turns on the state (dtm's state lock, waited for with `lock_timeout`): the later one plans
after the earlier one wrote its records, so it finds nothing to do, and nothing is lost.

prefect.yaml gives `dtm-apply` a deployment concurrency limit of 1, which queues every apply behind every
other, whatever its config; to apply different configs at once the limit is raised here, as a team would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_server import Server
from postgres import postgres_url  # noqa: F401  (the fixture: a PostgreSQL database of the module's own)

from devstream.prefect_boundary.state_store import PrefectStateStore

pytestmark = pytest.mark.e2e

POOL = "dtm"
WORKERS = ("pg-worker-1", "pg-worker-2")
# (config name, state backend, applied twice at once?)
CONFIGS = (("pg-alpha", "prefect", True), ("pg-bravo", "local", True),
           ("pg-charlie", "prefect", False), ("pg-delta", "local", False))
RUNS = sum(2 if twice else 1 for _, _, twice in CONFIGS)
LATENCY_MS = 1000
LOCK_TIMEOUT = 150


def _t(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    t0 = time.monotonic()
    srv = Server(tmp_path_factory.mktemp("prefect-home-pg"), database_url=postgres_url)
    srv.start(timeout=150)
    t1 = time.monotonic()
    try:
        srv.cli("work-pool", "create", POOL, "--type", "process")
        srv.cli("deploy", "--all")
        apply_id = srv.deployment_id("dtm-apply")
        srv.api("PATCH", f"/deployments/{apply_id}", {"concurrency_limit": RUNS})
        assert srv.api("GET", f"/deployments/{apply_id}")["global_concurrency_limit"]["limit"] == RUNS
        t2 = time.monotonic()
        # Each worker takes at most half the runs, so both must take some; together they run all at once
        # (fewer slots could park a run that waits for a lock behind the run holding it).
        for name in WORKERS:
            srv.worker(POOL, name, "--limit", str(-(-RUNS // len(WORKERS))))
        deadline, online = time.monotonic() + 60, set()
        while online != set(WORKERS) and time.monotonic() < deadline:
            workers = srv.api("POST", f"/work_pools/{POOL}/workers/filter", {})
            online = {w["name"] for w in workers if w["status"] == "ONLINE"}
            time.sleep(0.5)
        assert online == set(WORKERS), f"workers online: {online}"
        print(f"\nprefect server on postgres: start {t1 - t0:.1f} s, work pool and deploy --all {t2 - t1:.1f} s, "
              f"two workers online {time.monotonic() - t2:.1f} s")
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each config in a folder of its own: three slow noop tools (one after another in part) and a file."""
    root = tmp_path_factory.mktemp("configs")
    out = {}
    for name, backend, _ in CONFIGS:
        folder = root / name
        folder.mkdir()
        noop = {"latency_ms": LATENCY_MS, "triggers": {"config": name}}
        tools = [
            {"name": "noop", "instanceID": "network", "options": noop},
            {"name": "noop", "instanceID": "registry", "options": noop},
            {"name": "noop", "instanceID": "cluster", "dependsOn": ["noop.network"], "options": noop},
            {"name": "file", "instanceID": "manifest", "dependsOn": ["noop.cluster", "noop.registry"],
             "options": {"path": f"out/{name}.txt", "content": f"{name} is provisioned\n"}},
        ]
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"config": {"state": {"backend": backend}}, "tools": tools}, sort_keys=False))
        out[name] = path
    return out


TOOL_KEYS = {"noop_network", "noop_registry", "noop_cluster", "file_manifest"}


def state_keys(config: Path, backend: str, server: Server) -> set[str]:
    if backend == "prefect":
        return set(PrefectStateStore(config.stem, api_url=server.url).read())
    state = config.parent / "devstream.state"
    return set(yaml.safe_load(state.read_text()) or {}) if state.exists() else set()


def run_artifacts(server: Server, run_id: str) -> dict[str, dict[str, Any]]:
    """The artifacts a flow run published, by key (each key once per run)."""
    found = server.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    return {a["key"]: a for a in found if a.get("key")}


def test_many_configs_at_once_on_two_workers(server: Server, configs: dict[str, Path]):
    apply_id = server.deployment_id("dtm-apply")
    requests = [(name, configs[name]) for name, _, twice in CONFIGS for _ in range(2 if twice else 1)]

    def trigger(item: tuple[str, Path]) -> tuple[str, str]:
        name, path = item
        run = server.api("POST", f"/deployments/{apply_id}/create_flow_run",
                         {"parameters": {"config": str(path), "lock_timeout": LOCK_TIMEOUT}, "tags": ["scale-out"]})
        return name, run["id"]

    t0 = time.monotonic()
    with ThreadPoolExecutor(len(requests)) as pool:
        triggered = list(pool.map(trigger, requests))
    runs = [(name, server.wait_for_run(run_id, timeout=240)) for name, run_id in triggered]
    elapsed = time.monotonic() - t0

    print(f"\n{len(runs)} applies triggered together, all finished in {elapsed:.1f} s:")
    for name, run in sorted(runs, key=lambda r: r[1]["start_time"] or ""):
        print(f"  {name:<11} {run['state']['type']:<9} {run['labels'].get('prefect.worker.name', '?'):<12} "
              f"{run['start_time'][11:23]} -> {(run['end_time'] or '')[11:23]}  ({run['total_run_time']:.1f} s)")
    assert [run["state"]["type"] for _, run in runs] == ["COMPLETED"] * len(runs), [r["state"] for _, r in runs]

    # The worker that submitted a run labels it with its name.
    by_worker: dict[str, int] = {}
    for _, run in runs:
        worker = run["labels"].get("prefect.worker.name")
        by_worker[worker] = by_worker.get(worker, 0) + 1
    assert set(by_worker) == set(WORKERS), f"runs per worker: {by_worker}"

    for name, backend, _ in CONFIGS:
        assert state_keys(configs[name], backend, server) == TOOL_KEYS, name
        manifest = configs[name].parent / "out" / f"{name}.txt"
        assert manifest.read_text() == f"{name} is provisioned\n"
        if backend == "prefect":
            assert not (configs[name].parent / "devstream.state").exists(), "prefect state must not touch files"

    # Same config twice at once: one after the other on the state's lock. The later run planned only once the
    # earlier one had published the state it left, and so found nothing to do.
    for name, backend, twice in CONFIGS:
        if not twice:
            continue
        pair = [(run, run_artifacts(server, run["id"])) for n, run in runs if n == name]
        plan_key, state_key = f"dtm-plan-{name}", f"dtm-state-table-{name}"
        assert all(plan_key in arts and state_key in arts for _, arts in pair), [list(a) for _, a in pair]
        (first, first_arts), (second, second_arts) = sorted(pair, key=lambda p: _t(p[1][plan_key]["created"]))
        assert "4 to create" in first_arts[plan_key]["data"], first_arts[plan_key]["data"]
        assert "No changes" in second_arts[plan_key]["data"], f"{backend}: {second_arts[plan_key]['data']}"
        first_done, second_planned = _t(first_arts[state_key]["created"]), _t(second_arts[plan_key]["created"])
        assert first_done <= second_planned, f"{name} ({backend}): the two applies held the state at once"
        print(f"  {name} ({backend} state): the second apply planned "
              f"{(second_planned - first_done).total_seconds():.1f} s after the first finished")


def test_drift_check_deployment_finds_a_hand_edit(server: Server, configs: dict[str, Path]):
    name = "pg-charlie"
    config = configs[name]
    manifest = config.parent / "out" / f"{name}.txt"
    if not manifest.exists():  # run on its own: apply first
        run = server.api("POST", f"/deployments/{server.deployment_id('dtm-apply')}/create_flow_run",
                         {"parameters": {"config": str(config)}})
        assert server.wait_for_run(run["id"])["state"]["type"] == "COMPLETED"
    manifest.write_text("edited by hand\n")

    t0 = time.monotonic()
    check = server.api("POST", f"/deployments/{server.deployment_id('dtm-drift-check')}/create_flow_run",
                       {"parameters": {"config": str(config)}})
    run = server.wait_for_run(check["id"])
    print(f"\ndrift check on {name}: {run['state']['type']} in {time.monotonic() - t0:.1f} s "
          f"(worker {run['labels'].get('prefect.worker.name')})")
    assert run["state"]["type"] == "COMPLETED", run["state"]  # drift found is not a failure
    report = server.api("GET", f"/artifacts/dtm-drift-{name}/latest")
    assert report["flow_run_id"] == check["id"]
    assert "file.manifest" in report["data"] and "drifted" in report["data"], report["data"]
    assert manifest.read_text() == "edited by hand\n", "a drift check only reports"
