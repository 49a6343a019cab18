"""The `prefect` state's lock: a global concurrency limit of one slot, held through a renewed lease.

Another `dtm apply` is played by a child Python process that takes the lock, prints "locked" and holds it
until we write a line to its stdin (or kill it). The story: a second run is refused at once and told who
holds the state; with a timeout it waits and gets in when the first run ends; one process may take its
own lock again; the lease is renewed while held; `force-unlock` frees a slot a live run holds; a crashed
run keeps the slot only until its lease expires.

Facts from the server's source (prefect 3.9.1) these tests rely on: leases last 60 s at least
(`lease_duration` ge=60 in api/concurrency_limits_v2.py); expired leases are freed by the repossessor
service every 15 s (PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS), which `prefect server start`
runs but the test harness's ephemeral server does not (it is not marked to run in ephemeral servers).
So the lease expiry itself is shown against a real `prefect server start` of its own, which takes about
a minute and a half and only runs with DTM_SLOW_TESTS=1.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lock_holder import LockHolder
from processes import spawn, stop

from devstream.errors import StateError, StateLockedError
from devstream.plugin.http import http_client
from devstream.prefect_boundary.state_store import PrefectStateStore

pytestmark = pytest.mark.usefixtures("prefect_server")

HOLDER_SCRIPT = """
import sys
from devstream.prefect_boundary.state_store import PrefectStateStore

store = PrefectStateStore(sys.argv[1])
with store.lock("dtm apply"):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class OtherRun(LockHolder):
    """A `dtm apply` in another process holding a state's lease lock."""

    script = HOLDER_SCRIPT
    exit_timeout = 30.0


@pytest.fixture
def state() -> str:
    return f"lock-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def other_run(state: str) -> Iterator[OtherRun]:
    run = OtherRun(state)
    yield run
    run.finish()


def active_slots(store: PrefectStateStore) -> int:
    response = store.api.call("GET", f"/v2/concurrency_limits/{store.lock_name}", retry=True, what="read the lock")
    return int(response.json()["active_slots"])


# -- one run at a time ------------------------------------------------------------------------------------


def test_a_second_run_is_refused_at_once_and_told_who_holds_the_state(state: str, other_run: OtherRun) -> None:
    store = PrefectStateStore(state)
    started = time.monotonic()
    with pytest.raises(StateLockedError) as caught, store.lock("dtm apply"):
        pass
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert f"`dtm apply` (pid {other_run.pid} on host {socket.gethostname()})" in message
    assert "dtm force-unlock -f" in message
    assert caught.value.holder["pid"] == other_run.pid
    assert caught.value.holder["lease_id"]


def test_with_a_timeout_a_run_waits_and_gets_in_when_the_holder_finishes(state: str) -> None:
    run = OtherRun(state)
    threading.Timer(2.0, run.finish).start()
    store = PrefectStateStore(state)
    started = time.monotonic()
    with store.lock("dtm apply", timeout=40):
        waited = time.monotonic() - started
        assert store.state_lock.holder()["pid"] == os.getpid()  # type: ignore[index]
    print(f"\nwaited {waited:.1f}s for a lock released after 2s (the server's Retry-After paces the retries)")
    assert waited >= 1.5
    run.proc.wait(timeout=10)


def test_a_timeout_that_runs_out_says_how_long_it_waited(state: str, other_run: OtherRun) -> None:
    store = PrefectStateStore(state)
    started = time.monotonic()
    with pytest.raises(StateLockedError, match=r"waited 2s"), store.lock("dtm apply", timeout=2):
        pass
    assert 1.9 < time.monotonic() - started < 10


def test_one_process_may_take_its_own_lock_again(state: str) -> None:
    store = PrefectStateStore(state)
    also = PrefectStateStore(state)  # e.g. the CLI's store and the apply flow's, in one process
    with store.lock("dtm apply"), also.lock("dtm apply (flow)"), store.lock("dtm apply"):
        assert active_slots(store) == 1
    assert active_slots(store) == 0
    # Released fully: the holder record is gone and another process gets in at once.
    assert store.state_lock.holder() is None
    OtherRun(state).finish()


def test_the_lease_is_renewed_while_held_and_no_longer_after_release(state: str) -> None:
    renewals: list[float] = []

    def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/renew"):
            renewals.append(time.monotonic())

    store = PrefectStateStore(state, client=http_client(event_hooks={"request": [hook]}), renew_every=0.3)
    with store.lock("dtm apply"):
        time.sleep(1.3)
        assert not store.state_lock.lost()
    held = len(renewals)
    time.sleep(0.8)
    assert held >= 3
    assert len(renewals) == held


def test_a_limit_that_cannot_lock_is_refused_not_silently_passed(state: str) -> None:
    store = PrefectStateStore(state)
    with store.lock("dtm apply"):
        pass
    # Someone raised the limit to 2 (or disabled it): two runs could then change the state at once.
    path = f"/v2/concurrency_limits/{store.lock_name}"
    store.api.call("PATCH", path, json={"limit": 2}, retry=True, what="raise the limit")
    with pytest.raises(StateError, match=r"its limit is 2, not 1.*prefect gcl update"), store.lock("dtm apply"):
        pass
    store.api.call("PATCH", path, json={"limit": 1, "active": False}, retry=True, what="disable the limit")
    with pytest.raises(StateError, match="it is inactive"), store.lock("dtm apply"):
        pass


# -- breaking the lock ------------------------------------------------------------------------------------


def test_force_unlock_frees_the_slot_of_a_live_run_and_returns_who_held_it(state: str) -> None:
    run = OtherRun(state)
    store = PrefectStateStore(state)
    holder = store.force_unlock()
    assert holder is not None and holder["pid"] == run.pid and holder["command"] == "dtm apply"
    with store.lock("dtm apply"):
        # The broken run ends while we hold the lock: its release must not free our slot or our record.
        run.finish()
        assert active_slots(store) == 1
        assert store.state_lock.holder()["pid"] == os.getpid()  # type: ignore[index]
    assert store.force_unlock() is None  # nothing left to free


def test_a_broken_lock_is_noticed_by_its_holder(state: str, caplog: pytest.LogCaptureFixture) -> None:
    store = PrefectStateStore(state, renew_every=0.2)
    with caplog.at_level(logging.WARNING, logger="devstream.state"), store.lock("dtm apply"):
        PrefectStateStore(state).force_unlock()
        deadline = time.monotonic() + 10
        while not store.state_lock.lost() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.state_lock.lost()
    assert "was lost" in caplog.text
    assert "was broken while this run held it" in caplog.text


def test_force_unlock_of_a_free_state_says_so(state: str) -> None:
    assert PrefectStateStore(state).force_unlock() is None


def test_a_slot_taken_with_no_holder_on_record_is_freed_too(state: str) -> None:
    store = PrefectStateStore(state)
    with store.lock("dtm apply"):
        pass
    # A slot taken outside dtm (or whose lease a server restart forgot): no holder is recorded.
    path = f"/v2/concurrency_limits/{store.lock_name}"
    store.api.call("PATCH", path, json={"active_slots": 1}, retry=True, what="take a slot")
    with pytest.raises(StateLockedError, match="an unknown holder"), store.lock("dtm apply"):
        pass
    assert store.force_unlock() == {}
    with store.lock("dtm apply"):
        pass


# -- a run that crashed -----------------------------------------------------------------------------------


def test_a_crashed_run_on_this_host_is_taken_over_at_once(state: str, caplog: pytest.LogCaptureFixture) -> None:
    run = OtherRun(state)
    dead_pid = run.pid
    run.crash()
    store = PrefectStateStore(state)
    # Its lease would live on for up to a minute (the server's minimum); its process is gone from this
    # host, so the next run revokes it, as the local lock takes over a dead pid's lock file.
    with store.lock("dtm apply"):
        assert store.state_lock.holder()["pid"] == os.getpid()  # type: ignore[index]
    assert f"pid {dead_pid}" in caplog.text and "taking over" in caplog.text


def test_a_crashed_run_elsewhere_is_named_until_its_lease_expires_and_force_unlock_frees_it_now(state: str) -> None:
    run = OtherRun(state)
    dead_pid = run.pid
    run.crash()
    store = PrefectStateStore(state)
    # Pretend it ran on another machine: dtm cannot tell whether that process lives, so it waits.
    holder = {**store.state_lock.holder(), "host": "another-host"}  # type: ignore[dict-item]
    store.state_lock.api.call("PATCH", f"/variables/name/{store.holder_variable}", json={"value": holder},
                         what="rewrite the holder")
    with pytest.raises(StateLockedError) as caught, store.lock("dtm apply"):
        pass
    message = str(caught.value)
    assert f"pid {dead_pid} on host another-host" in message
    assert "once its lease expires (60s after its last renewal, plus the server's repossessor interval)" in message
    assert store.force_unlock()["pid"] == dead_pid  # type: ignore[index]
    with store.lock("dtm apply"):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def real_server() -> Iterator[str]:
    """`prefect server start` with its services, the repossessor looking for expired leases every second."""
    home = tempfile.mkdtemp(prefix="dtm-prefect-server-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=home,
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{Path(home) / 'prefect.db'}",
        PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    proc = spawn(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "prefect server start exited"
            assert time.monotonic() < deadline, "prefect server start did not answer within 90s"
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)  # SIGINT first: SIGTERM may leave it running (prefect-3.9.md, section 8)


@pytest.mark.skipif(not os.environ.get("DTM_SLOW_TESTS"), reason="about 90 s: set DTM_SLOW_TESTS=1 to run")
def test_a_crashed_runs_lease_expires_and_the_server_frees_its_slot(real_server: str, state: str) -> None:
    env = {**os.environ, "PREFECT_API_URL": real_server}
    run = OtherRun(state, env=env)
    taken = time.monotonic()
    run.crash()
    store = PrefectStateStore(state, api_url=real_server)
    with pytest.raises(StateLockedError), store.lock("dtm apply"):
        pass
    # No force-unlock: only the lease running out (60 s) and the repossessor (every 1 s here) free it.
    with store.lock("dtm apply", timeout=120):
        freed_after = time.monotonic() - taken
    print(f"\nthe crashed run's slot was free again {freed_after:.1f}s after it took the lock")
    assert 55 < freed_after < 60 + 1 + 30
