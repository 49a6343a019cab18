"""One retry policy for every live read, wherever it runs: the planning reads of `dtm plan`, `apply` and `verify`
(a thread pool in the CLI's process) and the read tasks of a flow (Prefect's retries) take the same budget.

The noop plugin's `transient_failures` makes the first calls of each action fail transiently, per process:
a fresh `dtm` process reads a tool that fails twice, then answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_builders import tool

from devstream.cli import drift, run
from devstream.engine import Workspace
from devstream.errors import TransientError
from devstream.plugins.noop import NoopPlugin

pytestmark = pytest.mark.usefixtures("prefect_server")

DTM = str(Path(sys.executable).parent / "dtm")


def dtm(*argv: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *map(str, argv)], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


def test_plan_verify_and_apply_retry_a_read_that_fails_transiently(write_config):
    config = write_config([tool("noop", "flaky", transient_failures=2, outputs={"ok": True})])
    assert run.apply(config_path=config, yes=True, retry_delay=0.01) == 0  # the create failed twice, then worked

    # Each command is a fresh process, whose first two reads of the tool fail.
    commands = (["plan", "-f", config, "--detailed-exitcode"], ["verify", "-f", config], ["apply", "-f", config, "-y"])
    for argv in commands:
        done = dtm(*argv, DTM_RETRY_DELAY="0.01")
        assert done.returncode == 0, f"dtm {argv[0]}: {done.stdout}{done.stderr}"
        assert "retry 2/3" in done.stderr  # said on the terminal, as a retry in a flow shows in the UI
    assert "in sync" in done.stdout or "No changes" in done.stdout

    done = dtm("show", "status", "-f", config, "--json", DTM_RETRY_DELAY="0.01")
    assert done.returncode == 0 and json.loads(done.stdout)[0]["error"] is None, done.stdout + done.stderr


def test_reads_in_a_flow_and_outside_it_take_the_same_budget(write_config, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DTM_RETRY_DELAY", "0.01")
    config = write_config([tool("noop", "flaky", transient_failures=3)])
    assert run.apply(config_path=config, yes=True) == 0

    # The default budget, 3 retries, outlasts 3 failures: at plan time and in the drift check's read task.
    NoopPlugin.reset_counters()
    assert Workspace.open(config).current_plan().empty
    NoopPlugin.reset_counters()
    assert drift.drift(config_path=config, json_out=True) == 0

    # With DTM_RETRIES=2 neither outlasts them: the same policy, wherever the read runs.
    monkeypatch.setenv("DTM_RETRIES", "2")
    NoopPlugin.reset_counters()
    with pytest.raises(TransientError, match="noop.flaky: read failed"):
        Workspace.open(config).current_plan()
    NoopPlugin.reset_counters()
    assert drift.drift(config_path=config, json_out=True) == 1


def test_a_wrong_retry_setting_is_named(write_config):
    config = write_config([tool("noop", "one")])
    done = dtm("plan", "-f", config, DTM_RETRIES="many")
    assert done.returncode == 1 and "DTM_RETRIES='many'" in done.stdout + done.stderr
