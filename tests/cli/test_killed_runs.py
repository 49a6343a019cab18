"""A `dtm apply` killed with SIGKILL leaves its flow run Running; the next run on the state marks it Crashed.

CLI runs send Prefect no heartbeats, so nothing else would ever tell the server that the run died. The
next run takes over the dead run's lock (same host, pid gone) and, from the holder record, finds its flow
run. Checked through Prefect's own client, as the UI shows it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort

pytestmark = pytest.mark.usefixtures("prefect_server")

DTM = str(Path(sys.executable).parent / "dtm")


def flow_run_of(config: Path) -> FlowRun:
    """The newest dtm-apply flow run of this config."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["dtm-apply"])),
                                     sort=FlowRunSort.START_TIME_DESC, limit=200)
    mine = [r for r in runs if Path(str(r.parameters.get("config"))).resolve() == config.resolve()]
    assert mine, f"no dtm-apply flow run of {config}"
    return mine[0]


def journal_lines(state: Path) -> int:
    journal = state.with_name(state.name + ".journal")
    return len(journal.read_text().splitlines()) if journal.exists() else 0


def test_a_run_killed_with_sigkill_is_marked_crashed_by_the_next_run(tmp_path: Path) -> None:
    state = tmp_path / "demo.state"
    config = tmp_path / "dtm.yaml"
    tools = [{"name": "noop", "instanceID": f"t{i}", "options": {"latency_ms": 2000}} for i in range(6)]
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local", "options": {"stateFile": str(state)}}},
                                      "tools": tools}))
    killed = subprocess.Popen([DTM, "apply", "-f", str(config), "-y", "--parallelism", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while journal_lines(state) < 1:  # the flow runs: its first change is in state
        assert killed.poll() is None and time.monotonic() < deadline, "the apply never got going"
        time.sleep(0.2)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    dead = flow_run_of(config)
    assert dead.state_type == StateType.RUNNING  # nobody told the server

    again = subprocess.run([DTM, "apply", "-f", str(config), "-y"], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stdout + again.stderr

    with get_client(sync_client=True) as client:
        after = client.read_flow_run(dead.id)
    assert after.state_type == StateType.CRASHED
    assert after.state is not None and after.state.message
    assert f"pid {killed.pid} on host" in after.state.message and "ended without finishing" in after.state.message
    assert flow_run_of(config).id != dead.id and flow_run_of(config).state_type == StateType.COMPLETED
