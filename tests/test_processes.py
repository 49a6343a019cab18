"""Processes the tests start stop cleanly from any shell, and none outlives the test run.

A shell without job control starts a background job (`pytest -q &`) with SIGINT ignored, and children inherit
that: the tests' servers, workers and `dtm serve` must still stop, first cleanly, then by force.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from processes import spawn, stop

CHILD = """
import signal, sys, time
for name in sys.argv[1:]:
    signal.signal(getattr(signal, name), signal.SIG_IGN)
try:  # "ready" inside the try: a SIGINT may come the moment the parent reads it
    print("ready", flush=True)
    time.sleep(120)
except KeyboardInterrupt:
    print("stopped cleanly", flush=True)
"""


@pytest.fixture
def as_a_background_job() -> Iterator[None]:
    """SIGINT ignored, as `sh -c 'pytest &'` leaves it for pytest and everything pytest starts."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start(*ignored: str) -> subprocess.Popen[str]:
    proc = spawn([sys.executable, "-c", CHILD, *ignored], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_child_started_from_a_background_job_still_stops_cleanly_on_sigint(as_a_background_job):
    proc = start()
    stop(proc, grace=30)
    assert proc.stdout is not None and "stopped cleanly" in proc.stdout.read()
    assert proc.returncode == 0


def test_a_child_that_ignores_sigint_and_sigterm_is_killed_and_leaves_nothing(as_a_background_job):
    proc = start("SIGINT", "SIGTERM")
    assert stop(proc, grace=0.5) == -signal.SIGKILL
    assert proc.poll() is not None
    assert stop(proc) == -signal.SIGKILL  # stopping it again is harmless


def test_a_test_that_leaves_a_process_running_fails_the_run_and_the_process_is_killed(tmp_path):
    import os
    from pathlib import Path

    leaky = tmp_path / "test_leaky.py"
    leaky.write_text("import subprocess, sys\n\n"
                     "def test_forgets_its_child():\n"
                     "    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
                     "    open('child.pid', 'w').write(str(proc.pid))\n")
    tests = Path(__file__).parent
    path = os.pathsep.join(filter(None, [str(tests), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "DTM_TESTS_LEAK_WAIT": "1", "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(leaky)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)

    pid = int((tmp_path / "child.pid").read_text())
    assert done.returncode == 1 and "1 passed" in done.stdout, done.stdout + done.stderr
    assert f"tests left 1 process(es) running (now killed):\n  {pid}: " in done.stdout
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
