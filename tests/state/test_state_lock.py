"""The state's lock file: one run at a time on a state, and a clear message naming who holds it.

Another process is played by a child Python process that takes the lock, says "locked" and holds it
until we write a line to its stdin.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lock_holder import LockHolder

from devstream.errors import StateLockedError
from devstream.state import LocalStateStore, StateRecord

HOLDER_SCRIPT = """
import sys
from pathlib import Path
from devstream.state import LocalStateStore

with LocalStateStore(Path(sys.argv[1])).lock("dtm apply"):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class OtherRun(LockHolder):
    """A `dtm apply` in another process holding the lock on a state file."""

    script = HOLDER_SCRIPT


@pytest.fixture
def store(tmp_path: Path) -> LocalStateStore:
    return LocalStateStore(tmp_path / "devstream.state", config_path=tmp_path / "config.yaml")


@pytest.fixture
def other_run(store: LocalStateStore) -> Iterator[OtherRun]:
    run = OtherRun(str(store.path))
    yield run
    run.finish()


def write_lock_file(store: LocalStateStore, **holder: object) -> dict[str, object]:
    content = {"host": socket.gethostname(), "pid": 1, "command": "dtm apply",
               "since": "2026-01-01T00:00:00+00:00", "id": "old"}
    content.update(holder)
    store.lock_path.write_text(json.dumps(content))
    return content


def a_dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- two runs -----------------------------------------------------------------------------------------------


def test_a_second_run_fails_at_once_naming_the_holder(store: LocalStateStore, other_run: OtherRun) -> None:
    started = time.monotonic()
    with pytest.raises(StateLockedError) as err, store.lock("dtm apply"):
        pass
    assert time.monotonic() - started < 1

    message = str(err.value)
    assert message.startswith(f"state {store.path} is locked by `dtm apply` (pid {other_run.pid} on host ")
    assert f"if that run is gone, run `dtm force-unlock -f {store.path.parent / 'config.yaml'}`" in message
    assert err.value.holder["pid"] == other_run.pid
    assert err.value.holder["host"] == socket.gethostname()
    # The holder's lock is left alone.
    assert json.loads(store.lock_path.read_text())["pid"] == other_run.pid


def test_with_a_timeout_a_run_waits_for_the_holder_to_finish(store: LocalStateStore, other_run: OtherRun) -> None:
    threading.Timer(0.3, other_run.finish).start()
    with store.lock("dtm apply", timeout=10):
        assert json.loads(store.lock_path.read_text())["pid"] == os.getpid()


def test_a_timeout_that_runs_out_says_how_long_it_waited(store: LocalStateStore, other_run: OtherRun) -> None:
    with pytest.raises(StateLockedError, match=r"\(waited 0.3s\)"), store.lock("dtm apply", timeout=0.3):
        pass


# -- locks left behind --------------------------------------------------------------------------------------


def test_the_lock_of_a_dead_process_on_this_host_is_taken_over(
    store: LocalStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    dead = a_dead_pid()
    write_lock_file(store, pid=dead)

    with caplog.at_level(logging.WARNING, logger="devstream.state"), store.lock("dtm apply"):
        assert json.loads(store.lock_path.read_text())["pid"] == os.getpid()
    assert f"`dtm apply` (pid {dead} on host {socket.gethostname()})" in caplog.text
    assert "is gone" in caplog.text


def test_a_lock_held_on_another_host_is_never_taken_over(store: LocalStateStore) -> None:
    write_lock_file(store, host="some-other-machine", pid=a_dead_pid())
    with pytest.raises(StateLockedError, match="on host some-other-machine"), store.lock("dtm apply"):
        pass


def test_an_empty_lock_file_is_stale_only_once_it_is_old(store: LocalStateStore) -> None:
    # A run that crashed between creating the lock file and writing it, or one writing it right now.
    store.lock_path.write_bytes(b"")
    with pytest.raises(StateLockedError, match="unknown holder") as err, store.lock("dtm apply"):
        pass
    assert err.value.holder == {}

    a_minute_ago = time.time() - 60
    os.utime(store.lock_path, (a_minute_ago, a_minute_ago))
    with store.lock("dtm apply"):
        assert json.loads(store.lock_path.read_text())["pid"] == os.getpid()


# -- one process ----------------------------------------------------------------------------------------------


def test_the_lock_is_reentrant_within_one_process(store: LocalStateStore) -> None:
    # The CLI holds the lock while the apply flow, in the same process, takes it again.
    with store.lock("dtm apply"):
        first = store.lock_path.read_text()
        with LocalStateStore(store.path).lock("apply flow"):
            assert store.lock_path.read_text() == first
        # Leaving the inner block keeps the lock.
        assert store.lock_path.read_text() == first

        # Another thread of this process enters too, without waiting.
        entered = threading.Event()

        def flow_task() -> None:
            with store.lock("apply flow"):
                entered.set()

        t = threading.Thread(target=flow_task)
        t.start()
        t.join(timeout=5)
        assert entered.is_set()
        assert store.lock_path.exists()
    assert not store.lock_path.exists()


def test_a_forked_child_does_not_inherit_the_hold(store: LocalStateStore) -> None:
    # Re-entrance is per process: a child forked while we hold the lock is another run.
    def child() -> None:
        try:
            with store.lock("dtm apply"):
                os._exit(1)
        except StateLockedError:
            os._exit(0)

    with store.lock("dtm apply"):
        proc = multiprocessing.get_context("fork").Process(target=child)
        proc.start()
        proc.join(timeout=10)
    assert proc.exitcode == 0


def test_leaving_the_lock_compacts_the_journal_and_removes_the_lock_file(store: LocalStateStore) -> None:
    with store.lock("dtm apply"):
        store.put(StateRecord(name="noop", instanceID="default"))
        assert store.journal_path.exists()
    assert not store.lock_path.exists()
    assert not store.journal_path.exists()
    assert "noop_default:" in store.path.read_text()


def test_the_lock_file_is_removed_even_when_the_run_fails(store: LocalStateStore) -> None:
    with pytest.raises(RuntimeError), store.lock("dtm apply"):
        raise RuntimeError("plugin blew up")
    assert not store.lock_path.exists()


def test_force_unlock_removes_the_lock_and_says_who_held_it(store: LocalStateStore) -> None:
    assert store.force_unlock() is None
    holder = write_lock_file(store, host="ci-runner-7", pid=4242)
    assert store.force_unlock() == holder
    assert not store.lock_path.exists()
    with store.lock("dtm apply"):
        pass


def test_a_run_that_was_force_unlocked_leaves_the_state_to_the_new_holder(
    store: LocalStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="devstream.state"), store.lock("dtm apply"):
        store.put(StateRecord(name="noop", instanceID="default"))
        store.force_unlock()
        newcomer = write_lock_file(store, host="ci-runner-7", pid=4242, id="newcomer")
    # Its lock file stays, and so does the journal: compacting it is now the newcomer's job.
    assert json.loads(store.lock_path.read_text()) == newcomer
    assert store.journal_path.exists()
    assert "was broken while this run held it" in caplog.text
    assert "noop_default" in LocalStateStore(store.path).read()
