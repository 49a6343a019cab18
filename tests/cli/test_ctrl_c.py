"""Ctrl-C during an apply, as a user presses it: the installed `dtm` in a terminal's process group gets SIGINT.

It used to exit 130 after a screenful of Prefect's "Crash detected ... CancelledError" lines and no word
on what had been done. Now no change starts after Ctrl-C, the changes in flight finish and are recorded,
and dtm prints "Interrupted" with what finished and what did not, and nothing else.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.usefixtures("prefect_server")

DTM = str(Path(sys.executable).parent / "dtm")
TOOLS = 12


def test_ctrl_c_stops_after_the_changes_in_flight_and_says_what_finished(tmp_path):
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{"name": "noop", "instanceID": f"slow{i:02d}", "options": {"latency_ms": 2000}}
                  for i in range(TOOLS)],
    }))
    journal = tmp_path / "devstream.state.journal"  # one line per finished change, written as it finishes
    apply = subprocess.Popen([DTM, "apply", "-f", str(config), "-y", "--parallelism", "3"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True,
                             env={**os.environ, "COLUMNS": "200"})
    try:
        while not (journal.exists() and journal.read_text().strip()):
            assert apply.poll() is None, apply.communicate()
            time.sleep(0.05)
        os.killpg(apply.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        out, err = apply.communicate(timeout=300)
    finally:
        if apply.poll() is None:
            os.killpg(apply.pid, signal.SIGKILL)
            apply.wait()

    assert apply.returncode == 130
    assert err == ""  # no "Crash detected", no CancelledError, no traceback: nothing but the summary
    assert "Interrupted" in out
    rows = dict(re.findall(r"(noop\.slow\d\d)\s*│\s*create\s*│\s*(succeeded|skipped)", out))
    assert len(rows) == TOOLS
    finished = {key for key, result in rows.items() if result == "succeeded"}
    assert 0 < len(finished) < TOOLS
    assert f"Apply interrupted: {len(finished)} finished ({len(finished)} succeeded), {TOOLS - len(finished)} not run" \
        in out
    # Every change that finished is in the state (the journal was compacted into it); nothing else is.
    state = yaml.safe_load((tmp_path / "devstream.state").read_text()) or {}
    assert {f"noop.{record['instanceID']}" for record in state.values()} == finished
