"""One lock protocol, four primitives: whichever thing keeps a state's lock (a lock file, an S3 object, a
Kubernetes Lease, a Prefect concurrency limit), a run sees the same behaviours (devstream/state/lock_protocol.py).

Another `dtm apply` is played by a child Python process that opens the same state and holds its lock.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lock_holder import LockHolder

from devstream.errors import StateLockedError

# Opens a backend's store from a JSON spec; the child process runs the very same code.
OPEN_STORE = '''
def open_store(spec):
    from pathlib import Path
    kind, renew = spec["kind"], spec.get("renew_every")
    if kind == "local":
        from devstream.state.local import LocalStateStore
        return LocalStateStore(Path(spec["path"]), config_path=Path("dtm.yaml"))
    if kind == "s3":
        from devstream.state.s3 import S3StateStore
        return S3StateStore(bucket=spec["bucket"], region="us-east-1", key="devstream.state",
                            endpoint=spec["endpoint"], config_path=Path("dtm.yaml"), renew_every=renew)
    if kind == "k8s":
        from devstream.plugins.kube import resolve_target
        from devstream.state.k8s import K8sStateStore
        return K8sStateStore(resolve_target(kubeconfig=spec["kubeconfig"]), config_path=Path("dtm.yaml"),
                             renew_every=renew)
    from devstream.prefect_boundary.state_store import PrefectStateStore
    return PrefectStateStore(spec["name"], api_url=spec["api_url"], config_path=Path("dtm.yaml"), renew_every=renew)
'''
namespace: dict[str, Any] = {}
exec(OPEN_STORE, namespace)  # noqa: S102 - the same text the child runs, so both sides open the state alike
open_store: Callable[[dict[str, Any]], Any] = namespace["open_store"]


class OtherRun(LockHolder):
    script = OPEN_STORE + '''
import json, sys
with open_store(json.loads(sys.argv[1])).lock("dtm apply"):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
'''


@pytest.fixture(params=["local", "s3", "k8s", "prefect"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Where one state lives, on the backend of this run of the test; its lock renews every 0.2 s."""
    kind = request.param
    if kind == "local":
        return {"kind": kind, "path": str(tmp_path / "devstream.state")}
    if kind == "s3":
        request.getfixturevalue("s3_env")
        server = request.getfixturevalue("s3_server")
        return {"kind": kind, "bucket": server.new_bucket(), "endpoint": server.endpoint, "renew_every": 0.2}
    if kind == "k8s":
        cluster = request.getfixturevalue("kube_cluster")
        return {"kind": kind, "kubeconfig": str(cluster.kubeconfig), "renew_every": 0.2}
    request.getfixturevalue("prefect_server")
    return {"kind": kind, "name": f"contract-{uuid.uuid4().hex[:8]}", "api_url": os.environ["PREFECT_API_URL"],
            "renew_every": 0.2}


@pytest.fixture
def other_runs(spec: dict[str, Any]) -> Iterator[Callable[[], OtherRun]]:
    started: list[OtherRun] = []

    def start() -> OtherRun:
        started.append(OtherRun(json.dumps(spec)))
        return started[-1]

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.finish()


def test_the_holder_is_recorded_the_lock_is_reentrant_and_free_after_the_outermost_exit(spec):
    store = open_store(spec)
    with store.lock("dtm apply"):
        holder = store.state_lock.holder()
        assert (holder["host"], holder["pid"], holder["command"]) == (socket.gethostname(), os.getpid(), "dtm apply")
        with store.lock("dtm apply"):  # the apply flow, in the CLI's process, takes it again
            assert store.state_lock.held_here()
        assert store.state_lock.held_here() and store.state_lock.holder()["pid"] == os.getpid()
    assert not store.state_lock.held_here() and store.state_lock.holder() is None


def test_a_live_holder_refuses_a_run_naming_it_and_how_long_it_waited(spec, other_runs):
    other = other_runs()
    with pytest.raises(StateLockedError) as refused, open_store(spec).lock("dtm plan", timeout=0.3):
        pass
    assert refused.value.holder["pid"] == other.pid
    assert "dtm apply" in str(refused.value) and "(waited 0.3s)" in str(refused.value)
    assert "force-unlock" in str(refused.value)
    other.finish()
    with open_store(spec).lock("dtm plan"):  # released: the next run takes it at once
        pass


def test_a_killed_holder_on_this_host_is_taken_over_at_once_and_named(spec, other_runs):
    other = other_runs()
    other.crash()
    store = open_store(spec)
    with store.lock("dtm apply"):
        assert store.taken_over()["pid"] == other.pid
        assert store.state_lock.holder()["pid"] == os.getpid()
    assert store.taken_over() is None  # handed out once


def test_force_unlock_frees_a_lock_and_its_holder_learns_it_lost_it(spec, other_runs, caplog):
    store = open_store(spec)
    with store.lock("dtm apply"):
        assert open_store(spec).force_unlock()["pid"] == os.getpid()
        other = other_runs()  # the freed lock is taken by another run
        if store.state_lock.renew_every is not None:  # a lease's renewer finds it out
            deadline = time.monotonic() + 30
            while not store.state_lock.lost() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert store.state_lock.lost()
    # Leaving, the broken holder says so and leaves the other run's lock alone.
    assert "was broken while this run held it" in caplog.text
    assert store.state_lock.holder()["pid"] == other.pid
    other.finish()
    assert store.state_lock.holder() is None
