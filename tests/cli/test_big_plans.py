"""Plans of any size run, through the installed `dtm`, and no option value becomes a flow-run parameter.

Prefect refuses flow-run parameters over 512 KB and keeps the parameters of every run in its database.
dtm used to send the whole plan as one: an apply of ~1,900 tools (or a few large options) and the
destroy of a 2,000-record state failed before anything ran, and every option value, also those filled
from the environment, was kept in Prefect's records. Now the CLI hands the flow its plan in process.

The default run applies and destroys a dozen tools whose plan is over 512 KB; DTM_TEST_SCALE=1 also
applies and destroys 5,000 tools in one run each, on both state backends (minutes each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstream.engine import Workspace

pytestmark = pytest.mark.usefixtures("prefect_server")

PREFECT_PARAMETER_LIMIT = 524_288
DTM = str(Path(sys.executable).parent / "dtm")


def dtm(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The installed `dtm` command, on the tests' Prefect server (PREFECT_API_URL is in the environment)."""
    return subprocess.run([DTM, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def write_config(folder: Path, tools: list[dict[str, Any]], backend: str) -> Path:
    state = ({"backend": "local"} if backend == "local"
             else {"backend": "prefect", "options": {"name": f"big-plans-{uuid.uuid4().hex[:8]}"}})
    path = folder / "dtm.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": state}, "tools": tools}, sort_keys=False))
    return path


def big_tools(count: int, value_bytes: int) -> list[dict[str, Any]]:
    """`count` noop tools, each with one option value of about `value_bytes`."""
    return [{"name": "noop", "instanceID": f"big{i:02d}",
             "options": {"triggers": {"blob": f"{i:02d}" + "x" * value_bytes}}} for i in range(count)]


def plan_bytes(config: Path, *args: str) -> int:
    planned = dtm("plan", "-f", str(config), "--json", *args)
    assert planned.returncode == 0, planned.stderr
    return len(planned.stdout.encode())


def flow_run_parameters(config: Path) -> list[tuple[str, dict[str, Any]]]:
    """(flow name, parameters) of every flow run on the server whose `config` parameter is this config."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200)
        names = {f.id: f.name for f in client.read_flows(limit=200)}
    return [(names.get(r.flow_id, "?"), r.parameters) for r in runs if r.parameters.get("config") == str(config)]


def records(config: Path) -> set[str]:
    return set(Workspace.open(config).records())


@pytest.mark.parametrize("backend", ["local", "prefect"])
def test_a_plan_over_512_kb_applies_and_destroys(tmp_path, backend):
    config = write_config(tmp_path, big_tools(12, 50_000), backend)
    assert plan_bytes(config) > PREFECT_PARAMETER_LIMIT

    applied = dtm("apply", "-f", str(config), "-y")
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete: 12 succeeded" in applied.stdout
    assert records(config) == {f"noop_big{i:02d}" for i in range(12)}

    destroyed = dtm("destroy", "-f", str(config), "-y")
    assert destroyed.returncode == 0, destroyed.stderr
    assert "Destroy complete: 12 succeeded" in destroyed.stdout
    assert records(config) == set()


def test_no_option_value_nor_env_value_is_a_flow_run_parameter(tmp_path):
    marker = f"from-the-environment-{uuid.uuid4().hex}"
    tools = [{"name": "noop", "instanceID": "env", "options": {"triggers": {"content": '[[ env "DTM_TEST_VALUE" ]]'}}},
             {"name": "noop", "instanceID": "plain", "options": {"outputs": {"greeting": "a plain option value"}}}]
    config = write_config(tmp_path, tools, "local")
    for command in ("apply", "destroy"):
        done = dtm(command, "-f", str(config), "-y", env={"DTM_TEST_VALUE": marker})
        assert done.returncode == 0, done.stderr

    runs = dict(flow_run_parameters(config))
    assert set(runs) == {"dtm-apply", "dtm-destroy"}
    for name, parameters in runs.items():
        # The config's path, the plan's fingerprint and size, and the run's settings; nothing else.
        assert set(parameters) == {"config", "plan_fingerprint", "changes", "parallelism", "retries",
                                   "retry_delay", "lock_timeout"}, name
        assert parameters["plan_fingerprint"].startswith("sha256:") and parameters["changes"] == 2
        text = json.dumps(parameters)
        assert marker not in text and "a plain option value" not in text and "greeting" not in text


SCALE = 5_000


@pytest.mark.skipif(not os.environ.get("DTM_TEST_SCALE"), reason="5,000-tool apply and destroy: set DTM_TEST_SCALE=1")
@pytest.mark.parametrize("backend", ["local", "prefect"])
def test_5000_tools_apply_and_destroy_in_one_run_each(tmp_path, backend):
    tools = [{"name": "noop", "instanceID": f"t{i:05d}", "options": {"outputs": {"id": f"t{i:05d}"}}}
             for i in range(SCALE)]
    config = write_config(tmp_path, tools, backend)

    applied = dtm("apply", "-f", str(config), "-y", "--parallelism", "50", timeout=3600)
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert f"Apply complete: {SCALE} succeeded" in applied.stdout
    assert len(records(config)) == SCALE

    destroyed = dtm("destroy", "-f", str(config), "-y", "--parallelism", "50", timeout=3600)
    assert destroyed.returncode == 0, destroyed.stderr[-3000:]
    assert f"Destroy complete: {SCALE} succeeded" in destroyed.stdout
    assert records(config) == set()
