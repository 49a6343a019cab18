"""Child processes that tests start (servers, workers, `dtm serve`), started and stopped the same way from any shell.

A shell without job control (`pytest &`, a CI step, a script) starts a background job with SIGINT ignored,
and an ignored signal stays ignored across fork and exec: a Python child then never installs its
KeyboardInterrupt handler, and SIGINT, Prefect's way to stop a server or a worker cleanly, does nothing.
`spawn` gives the child its own session (a signal to its group reaches its own children, never pytest) with
SIGINT's default action restored; `stop` sends SIGINT, then SIGTERM, then SIGKILL, waiting for each, so no
process outlives the test that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

__all__ = ["spawn", "stop"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **kwargs)` in a session of its own, with SIGINT handled as in a terminal."""
    return subprocess.Popen(list(argv), start_new_session=True, preexec_fn=_default_sigint, **kwargs)


def _signal_group(proc: subprocess.Popen[Any], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen[Any], grace: float = 15.0) -> int:
    """Stop a spawned process and its group: SIGINT (a clean stop), then SIGTERM, then SIGKILL, each given
    `grace` seconds. Returns its exit status. Safe to call on a process that already ended."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if proc.poll() is not None:
            break
        _signal_group(proc, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        _signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=30)
    # What the leader left in its group (a worker's flow-run process) goes with it.
    _signal_group(proc, signal.SIGKILL)
    return proc.returncode
