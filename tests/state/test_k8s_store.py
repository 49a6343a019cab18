"""The `k8s` state backend on the Kubernetes stand-in: DevStream's ConfigMap written one record at a time, and a
real coordination.k8s.io/v1 Lease as its lock (holder identity, renewal, expiry, take-over, force-unlock).

Another run is played by a child Python process that takes the lock, says "locked" and holds it until told."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lock_holder import LockHolder

from devstream.errors import StateError, StateLockedError
from devstream.plugins.kube import KubeClient, resolve_target
from devstream.state import StateRecord
from devstream.state.k8s import K8sStateStore

HOLDER_SCRIPT = """
import sys
from devstream.plugins.kube import KubeClient, resolve_target
from devstream.state.k8s import K8sStateStore

store = K8sStateStore(resolve_target(kubeconfig=sys.argv[1]), lease_seconds=2)
with store.lock("dtm apply"):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class OtherRun(LockHolder):
    script = HOLDER_SCRIPT


def store_for(kube_cluster, **kwargs) -> K8sStateStore:
    return K8sStateStore(resolve_target(kubeconfig=str(kube_cluster.kubeconfig)), config_path=Path("c.yaml"),
                         **kwargs)


def record(i: int, payload: str = "x") -> StateRecord:
    return StateRecord(name="noop", instanceID=f"t{i}", options={"payload": payload},
                       resourceStatus={"outputs": {"n": i}})


def lease(kube_cluster) -> dict | None:
    return kube_cluster.get("coordination.k8s.io/v1", "Lease", "state-lock", "devstream")


def test_records_are_journalled_one_by_one_then_folded_into_devstream_s_state_key(kube_cluster):
    store = store_for(kube_cluster)
    assert store.read() == {}
    with store.lock("dtm apply"):
        for i in range(30):
            store.put(record(i, "p" * 200))
        store.delete("noop_t3")
        journal = kube_cluster.get("v1", "ConfigMap", "state", "devstream")["data"]
        assert len([k for k in journal if k.startswith("journal.")]) == 31
        assert sorted(store.read()) == sorted(f"noop_t{i}" for i in range(30) if i != 3)
        # O(N): each write sends its own record only, not the state as it has grown so far.
        one = len(record(0, "p" * 200).model_dump_json())
        assert 30 * one < store.bytes_written < 31 * (one + 150)
    data = kube_cluster.get("v1", "ConfigMap", "state", "devstream")["data"]
    assert list(data) == ["state"]  # the release folded the journal into DevStream's format
    assert "noop_t29:\n  name: noop\n  instanceID: t29" in data["state"]
    assert store_for(kube_cluster).read()["noop_t29"].outputs == {"n": 29}


def test_a_devstream_state_configmap_is_read_as_it_is(kube_cluster):
    kube_cluster.kubectl("create", "namespace", "devstream")
    state = "trello_default:\n  name: trello\n  instanceID: default\n  dependsOn: []\n  options:\n    board: b\n" \
            "  resourceStatus:\n    outputs:\n      boardId: \"42\"\n"
    kube_cluster.kubectl("create", "configmap", "state", "-n", "devstream", f"--from-literal=state={state}")
    assert store_for(kube_cluster).read()["trello_default"].outputs == {"boardId": "42"}


def test_the_lock_is_a_lease_naming_its_holder_renewed_while_held(kube_cluster):
    other = OtherRun(str(kube_cluster.kubeconfig))
    try:
        held = lease(kube_cluster)
        assert held["spec"]["holderIdentity"].split("/")[1] == str(other.pid)
        assert held["spec"]["leaseDurationSeconds"] == 2
        holder = json.loads(held["metadata"]["annotations"]["dtm.devstream.io/holder"])
        assert (holder["command"], holder["pid"]) == ("dtm apply", other.pid)
        with pytest.raises(StateLockedError, match=rf"locked by `dtm apply` \(pid {other.pid} on host .*Lease "
                                                   r"devstream/state-lock.*dtm force-unlock -f c.yaml"):
            store_for(kube_cluster).lock("dtm apply").__enter__()
        first = held["spec"]["renewTime"]
        for _ in range(100):  # renewed every third of its 2 s while held
            if lease(kube_cluster)["spec"]["renewTime"] != first:
                break
            time.sleep(0.1)
        assert lease(kube_cluster)["spec"]["renewTime"] != first
        assert store_for(kube_cluster).lock("dtm apply").__enter__  # a lock object is cheap to make
    finally:
        other.finish()
    assert lease(kube_cluster) is None  # released: the Lease is gone


def test_a_killed_holder_is_taken_over_and_force_unlock_frees_any_holder(kube_cluster):
    other = OtherRun(str(kube_cluster.kubeconfig))
    other.crash()
    store = store_for(kube_cluster)
    with store.lock("dtm apply"):  # the holder's process is gone on this host: no need to wait for expiry
        assert store.taken_over()["pid"] == other.pid
    other = OtherRun(str(kube_cluster.kubeconfig))
    try:
        assert store_for(kube_cluster).force_unlock()["pid"] == other.pid
        assert lease(kube_cluster) is None
    finally:
        other.proc.kill()
        other.proc.wait()
    assert store_for(kube_cluster).force_unlock() is None


def test_a_holder_on_another_host_is_waited_for_until_its_lease_expires(kube_cluster):
    kube_cluster.kubectl("create", "namespace", "devstream")
    # 6 s: still valid when the first attempt looks, even after a slow kubectl on a busy machine.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "state-lock", "namespace": "devstream", "annotations": {
            "dtm.devstream.io/holder": json.dumps({"host": "ci-7", "pid": 4242, "command": "dtm apply"})}},
        "spec": {"holderIdentity": "ci-7/4242/abc", "leaseDurationSeconds": 6, "renewTime": now,
                 "acquireTime": now}}))
    store = store_for(kube_cluster)
    with pytest.raises(StateLockedError, match=r"pid 4242 on host ci-7.*expires in"):
        store.lock("dtm apply").__enter__()
    with store.lock("dtm apply", timeout=30):
        assert store.taken_over()["host"] == "ci-7"
        assert lease(kube_cluster)["spec"]["leaseTransitions"] == 1


def test_a_holder_whose_clock_is_off_keeps_its_lock_while_it_renews_and_loses_it_when_it_stops(kube_cluster):
    """Expiry is judged on this process's clock (the Lease unchanged for its duration), never by comparing the
    holder's renewTime with our clock: a holder two minutes behind us renews timestamps that look long expired."""
    kube_cluster.kubectl("create", "namespace", "devstream")
    behind = lambda: (datetime.now(UTC) - timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "state-lock", "namespace": "devstream", "annotations": {
            "dtm.devstream.io/holder": json.dumps({"host": "ci-8", "pid": 4343, "command": "dtm apply"})}},
        "spec": {"holderIdentity": "ci-8/4343/abc", "leaseDurationSeconds": 3, "renewTime": behind(),
                 "acquireTime": behind()}}))
    renewing = threading.Event()
    renewing.set()

    def renew_with_a_slow_clock() -> None:
        with KubeClient(resolve_target(kubeconfig=str(kube_cluster.kubeconfig))) as kube:
            while renewing.is_set():
                held = kube.get("coordination.k8s.io/v1", "Lease", "state-lock", "devstream")
                held["spec"]["renewTime"] = behind()
                kube.replace(held)
                time.sleep(0.5)

    holder = threading.Thread(target=renew_with_a_slow_clock, daemon=True)
    holder.start()
    try:
        with pytest.raises(StateLockedError, match="pid 4343 on host ci-8"):
            store_for(kube_cluster).lock("dtm apply", timeout=8).__enter__()  # 8 s: more than two durations
    finally:
        renewing.clear()
        holder.join()
    store = store_for(kube_cluster)
    with store.lock("dtm apply", timeout=30):  # it stopped renewing: taken over once unchanged for 3 s
        assert store.taken_over()["host"] == "ci-8"


def test_a_state_past_a_configmap_s_size_is_folded_then_refused_naming_the_limit(kube_cluster):
    store = store_for(kube_cluster)
    big = "p" * 300_000
    with store.lock("dtm apply"):
        for _ in range(5):  # one record written five times: the journal outgrows 1 MiB, folded it is 300 KB
            store.put(record(1, big))
        assert store.read()["noop_t1"].options["payload"] == big
        for i in range(2, 4):
            store.put(record(i, big))
        with pytest.raises(StateError, match=r"no longer fits in ConfigMap devstream/state.*at most 1 MiB"):
            store.put(record(4, big))
    assert sorted(store_for(kube_cluster).read()) == ["noop_t1", "noop_t2", "noop_t3"]
