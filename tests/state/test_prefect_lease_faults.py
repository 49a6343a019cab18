"""The `prefect` state's lock when the server misbehaves: it restarts and forgets leases, or it is busy.

A Prefect server keeps concurrency leases in memory by default: a restart forgets every lease while the
slots they held stay taken in its database. Here that condition is made on the shared test server
without restarting it: the lease is revoked (`decrement-with-lease`, which frees its slot) and the slot
taken again (`active_slots: 1`), which is exactly what a restarted server holds. The real restart, through
`dtm` and its local server, is in tests/cli/test_server_faults.py.

The story: a dead holder whose lease the server lost is taken over at once; a live holder whose lease the
server lost takes it again and keeps the state; a refused run is told what is true about its holder; and
a run waiting for the lock with a timeout keeps waiting while the server answers 503.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from lock_holder import LockHolder

from devstream.errors import PrefectUnavailableError, StateLockedError
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

TRY_SCRIPT = """
import sys
from devstream.errors import StateLockedError
from devstream.prefect_boundary.state_store import PrefectStateStore

try:
    with PrefectStateStore(sys.argv[1]).lock("dtm apply"):
        print("got in")
except StateLockedError as exc:
    print(exc)
"""


class OtherRun(LockHolder):
    """A `dtm apply` in another process holding a state's lease lock."""

    script = HOLDER_SCRIPT
    exit_timeout = 30.0


@pytest.fixture
def state() -> str:
    return f"lockfault-{uuid.uuid4().hex[:8]}"


def active_slots(store: PrefectStateStore) -> int:
    response = store.api.call("GET", f"/v2/concurrency_limits/{store.lock_name}", retry=True, what="read the lock")
    return int(response.json()["active_slots"])


def server_forgets_the_lease(store: PrefectStateStore, lease_id: str) -> None:
    """What a restarted server holds: no lease `lease_id`, and its slot still taken."""
    # One more slot first, then the lease revoked with its slot: the holder's renewer never sees a state
    # in between (a lease gone with its slot freed would be a plain expiry).
    store.api.call("PATCH", f"/v2/concurrency_limits/{store.lock_name}", json={"active_slots": 2},
                   what="take a second slot")
    store.api.call("POST", "/v2/concurrency_limits/decrement-with-lease", json={"lease_id": lease_id},
                   what="revoke the lease")
    renew = store.api.call("POST", f"/v2/concurrency_limits/leases/{lease_id}/renew", json={"lease_duration": 60},
                           ok=(410,), retry=True, what="renew the revoked lease")
    assert renew.status_code == 410 and active_slots(store) == 1


def wait_for(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


# -- a server that lost its leases ------------------------------------------------------------------------


def test_a_dead_holder_whose_lease_the_server_lost_is_taken_over_at_once(
    state: str, caplog: pytest.LogCaptureFixture
) -> None:
    run = OtherRun(state)
    store = PrefectStateStore(state)
    dead = store.state_lock.holder()
    assert dead is not None and dead["pid"] == run.pid
    run.crash()
    server_forgets_the_lease(store, dead["lease_id"])
    # Its lease will never expire (the server has none), so only dtm can free the slot: its holder's
    # process is gone from this host, which dtm can see, so it takes over now, as the local lock does.
    with caplog.at_level(logging.WARNING, logger="devstream.state"), store.lock("dtm apply"):
        assert store.state_lock.holder()["pid"] == os.getpid()  # type: ignore[index]
        assert active_slots(store) == 1
    assert active_slots(store) == 0
    assert f"pid {run.pid}" in caplog.text and "no longer has the lease" in caplog.text


def test_a_live_holder_whose_lease_the_server_lost_takes_the_lock_again(
    state: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = PrefectStateStore(state, renew_every=0.2)
    with caplog.at_level(logging.WARNING, logger="devstream.state"), store.lock("dtm apply"):
        first = store.state_lock.holder()["lease_id"]  # type: ignore[index]
        server_forgets_the_lease(store, first)
        wait_for(lambda: store.state_lock.holder()["lease_id"] != first)  # type: ignore[index]
        assert not store.state_lock.lost()
        assert active_slots(store) == 1
        # Still ours: another run is refused, and told that the holder is alive.
        refused = subprocess.run([sys.executable, "-c", TRY_SCRIPT, state], capture_output=True, text=True,
                                 timeout=60)
        assert f"pid {os.getpid()} on host" in refused.stdout and "which is still running" in refused.stdout
    assert "took the lock again with a new lease" in caplog.text
    assert active_slots(store) == 0 and store.state_lock.holder() is None


def test_a_force_unlock_is_not_undone_by_the_holders_renewal(
    state: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The holder renews every 0.05 s; the force-unlock pauses right after revoking its lease, long enough
    # for a renewal to find the lease gone. Had the holder's record still named that lease, the renewal
    # would take the lock again as after a server restart, and the force-unlock would be undone.
    store = PrefectStateStore(state, renew_every=0.05)
    breaker = PrefectStateStore(state)
    revoke = breaker.state_lock.limit.give_back

    def revoke_then_pause(lease_id: str) -> None:
        revoke(lease_id)
        time.sleep(1.0)

    monkeypatch.setattr(breaker.state_lock.limit, "give_back", revoke_then_pause)
    with caplog.at_level(logging.WARNING, logger="devstream.state"), store.lock("dtm apply"):
        assert breaker.force_unlock()["pid"] == os.getpid()  # type: ignore[index]
        wait_for(store.state_lock.lost)
        assert active_slots(store) == 0 and store.state_lock.holder() is None
    assert "took the lock again" not in caplog.text
    assert "was broken while this run held it" in caplog.text
    assert active_slots(store) == 0


# -- what a refused run is told -------------------------------------------------------------------------------


def test_a_holder_on_this_host_is_said_to_be_running(state: str) -> None:
    run = OtherRun(state)
    try:
        with pytest.raises(StateLockedError) as caught, PrefectStateStore(state).lock("dtm apply"):
            pass
        message = str(caught.value)
        assert f"pid {run.pid} on host {socket.gethostname()}" in message and "which is still running" in message
        assert "frees itself" not in message and "expires" not in message
    finally:
        run.finish()


def test_a_holder_elsewhere_is_described_with_every_way_its_slot_may_stay_taken(state: str) -> None:
    run = OtherRun(state)
    store = PrefectStateStore(state)
    holder = {**store.state_lock.holder(), "host": "another-host"}  # type: ignore[dict-item]
    store.state_lock.api.call("PATCH", f"/variables/name/{store.holder_variable}", json={"value": holder},
                         what="rewrite the holder")
    try:
        with pytest.raises(StateLockedError) as caught, store.lock("dtm apply"):
            pass
        message = str(caught.value)
        assert "cannot tell from here whether that run is alive" in message
        assert "unless the server was restarted since and lost the lease" in message
        assert "dtm force-unlock" in message
    finally:
        store.force_unlock()
        run.finish()


# -- a busy server while a run waits ----------------------------------------------------------------------------


class BusyForAWhile(httpx.BaseTransport):
    """The real server behind a proxy that answers 503 to the first `busy` requests for a slot."""

    def __init__(self, busy: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.busy = busy
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/increment-with-lease") and self.refused < self.busy:
            self.refused += 1
            return httpx.Response(503, json={"exception_message": "Service Unavailable"})
        return self.inner.handle_request(request)


@pytest.fixture
def busy_store(state: str) -> Iterator[tuple[PrefectStateStore, BusyForAWhile]]:
    busy = BusyForAWhile(busy=10)
    store = PrefectStateStore(state, client=http_client(transport=busy, attempts=1, timeout=30))
    # dtm's client gives a busy server 60 s per call; a fraction of a second keeps this test short, and
    # shows that waiting for the lock is bounded by --lock-timeout, not by the client's retries.
    store.api.busy_seconds = 0.3
    yield store, busy
    store.close()


def test_a_run_waiting_for_the_lock_keeps_waiting_while_the_server_is_busy(busy_store) -> None:  # type: ignore[no-untyped-def]
    store, busy = busy_store
    with store.lock("dtm apply", timeout=120):
        assert store.state_lock.holder()["pid"] == os.getpid()  # type: ignore[index]
    assert busy.refused == 10


def test_without_a_timeout_a_server_that_stays_busy_is_named(busy_store) -> None:  # type: ignore[no-untyped-def]
    store, _busy = busy_store
    with pytest.raises(PrefectUnavailableError, match=r"stayed busy .* take the state's lock: 503"), \
            store.lock("dtm apply"):
        pass
