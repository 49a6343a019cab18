"""A failed apply as a user meets it through the installed `dtm` command, and as Prefect records it.

A third-party plugin with a bug (it raises KeyError) is installed beside dtm, as any plugin package would be:
a module and its dist-info with a `devstream.plugins` entry point, on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.usefixtures("prefect_server")

DTM = str(Path(sys.executable).with_name("dtm"))

BUGGY_PLUGIN = '''
from typing import ClassVar

from devstream.plugin.base import Plugin, PluginOptions


class BuggyOptions(PluginOptions):
    pass


class BuggyPlugin(Plugin[BuggyOptions]):
    name: ClassVar[str] = "buggy"
    Options: ClassVar[type[BuggyOptions]] = BuggyOptions
    description: ClassVar[str] = "A plugin with a bug."

    def create(self, options, ctx):
        digests = {}
        return {"sha": digests["sha256"]}  # the bug

    def read(self, options, ctx):
        return None

    def update(self, options, ctx):
        return self.create(options, ctx)

    def delete(self, options, ctx):
        return None
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config whose first tool hits the plugin's bug; one tool depends on it, one on that, one is apart."""
    site = tmp_path / "site"
    (site / "dtm_buggy_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "dtm_buggy_plugin.py").write_text(BUGGY_PLUGIN)
    (site / "dtm_buggy_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dtm-buggy-plugin\nVersion: 1.0\n")
    (site / "dtm_buggy_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[devstream.plugins]\nbuggy = dtm_buggy_plugin:BuggyPlugin\n")
    config = tmp_path / "team.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [
            {"name": "buggy", "instanceID": "a"},
            {"name": "noop", "instanceID": "after", "dependsOn": ["buggy.a"]},
            {"name": "noop", "instanceID": "last", "dependsOn": ["noop.after"]},
            {"name": "noop", "instanceID": "apart"},
        ]}, sort_keys=False))
    return config


def dtm(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "PYTHONPATH": str(project.parent / "site")}
    return subprocess.run([DTM, *args, "-f", str(project)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300)


def flow_run_id_in(output: str) -> str:
    match = re.search(r"Prefect flow run: (http\S+)/runs/flow-run/([0-9a-f-]{36})", output)
    assert match, output
    assert match.group(1) == os.environ["PREFECT_API_URL"].removesuffix("/api")
    return match.group(2)


def task_run_states(flow_run_id: str, expected: int) -> dict[str, Any]:
    """The final state of each task run of a flow run, by name, as Prefect's API reports it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        # Task runs reach the server as events, recorded shortly after the run ends.
        for _ in range(480):
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            states = {r.name: r.state for r in runs}
            if len(states) >= expected and all(s is not None and s.is_final() for s in states.values()):
                return states
            time.sleep(0.25)
        return states


def test_a_failed_apply_shows_the_table_the_bug_and_the_run_and_ends_every_change(project: Path) -> None:
    result = dtm(project, "apply", "-y")

    assert result.returncode == 1
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│ ")}
    assert "KeyError: 'sha256'" in rows["buggy.a"]  # the type, not only `'sha256'`
    assert "not run: buggy.a failed" in rows["noop.after"]
    assert "not run: noop.after was not run" in rows["noop.last"]
    assert "succeeded" in rows["noop.apart"]
    assert "Apply failed: 1 succeeded, 1 failed, 2 skipped" in result.stdout
    # The table and the summary are the message: no Prefect traceback of dtm's own summary.
    assert "Traceback" not in result.stderr and "ChangesFailed" not in result.stderr

    flow_run_id = flow_run_id_in(result.stdout)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).state.is_failed()
    states = task_run_states(flow_run_id, expected=4)
    assert set(states) == {"create buggy.a", "create noop.after", "create noop.last", "create noop.apart"}, \
        (states, result.stderr)
    assert states["create buggy.a"].is_failed()
    assert states["create noop.apart"].is_completed()
    # What did not run is finished too (never Pending in the UI), saying why.
    assert states["create noop.after"].is_cancelled()
    assert states["create noop.after"].message == "not run: buggy.a failed"
    assert states["create noop.last"].is_cancelled()
    assert states["create noop.last"].message == "not run: noop.after was not run"


def test_debug_prints_the_plugins_traceback(project: Path) -> None:
    result = dtm(project, "--debug", "apply", "-y")

    assert result.returncode == 1
    assert "buggy.a: create failed; the plugin's traceback:" in result.stderr
    assert 'return {"sha": digests["sha256"]}' in result.stderr and "KeyError: 'sha256'" in result.stderr


def test_apply_drift_and_destroy_say_where_the_run_is(project: Path) -> None:
    applied = dtm(project, "apply", "--json")
    drift = dtm(project, "drift")
    destroyed = dtm(project, "destroy", "--json")

    assert flow_run_id_in(drift.stdout)
    for result in (applied, destroyed):
        data = json.loads(result.stdout)
        assert re.fullmatch(r"[0-9a-f-]{36}", data["flow_run_id"]), result.stdout
        ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
        assert data["flow_run_url"] == f"{ui}/runs/flow-run/{data['flow_run_id']}"
    assert destroyed.returncode == 0


def test_a_bug_in_dtm_prints_its_type_and_a_report_with_the_versions(monkeypatch, capsys) -> None:
    from devstream.cli import inspect, main, render

    def broken() -> int:
        raise ValueError("a bug in dtm")

    monkeypatch.setattr(inspect, "version", broken)
    monkeypatch.setattr(render.err_console, "width", 500)
    monkeypatch.setattr(sys, "argv", ["dtm", "--debug", "version"])
    with pytest.raises(SystemExit) as exited:
        main.main()
    monkeypatch.setattr(render, "debug", False)

    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err  # --debug
    assert "internal error (ValueError: a bug in dtm); this is a bug in dtm" in err
    report = Path(re.search(r"A report is in (\S+);", err).group(1))  # type: ignore[union-attr]
    text = report.read_text()
    report.unlink()
    assert re.match(r"dtm \S+, Prefect 3\.\d+\.\d+, typer \S+, Python 3\.\d+\.\d+ on ", text)
    assert text.rstrip().endswith("ValueError: a bug in dtm")
