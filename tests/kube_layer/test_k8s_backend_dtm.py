"""The `k8s` state backend through the installed dtm: `dtm validate` accepts it, an apply waits while another run
holds the Lease and runs once it is released (two whole applies at once with DTM_SLOW_TESTS=1), and an apply
SIGKILLed while holding the Lease is taken over by the next one, which converges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from processes import spawn, stop

pytestmark = pytest.mark.usefixtures("prefect_server")
DTM = str(Path(sys.executable).with_name("dtm"))


def write_config(tmp_path: Path, kube_cluster, tools: int, latency_ms: int) -> Path:
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "k8s", "options": {"namespace": "dtm-state", "configmap": "team",
                                                           "kubeconfig": str(kube_cluster.kubeconfig),
                                                           "leaseSeconds": 5}}},
        "tools": [{"name": "noop", "instanceID": f"t{i}", "options": {"latency_ms": latency_ms}}
                  for i in range(tools)]}))
    return config


def dtm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def journal_writers(kube_cluster) -> list[int]:
    """The pid behind each journal entry the server received, in order (`journal.<time>.<pid>.<seq>`)."""
    pids = []
    for request in kube_cluster.requests:
        if request.method == "PATCH" and request.path.endswith("/configmaps/team"):
            pids += [int(key.split(".")[2]) for key in (request.body or {}).get("data", {})]
    return pids


def test_dtm_validate_accepts_k8s_and_names_a_bad_option(tmp_path: Path, kube_cluster) -> None:
    config = write_config(tmp_path, kube_cluster, 1, 0)
    done = dtm("validate", "-f", str(config))
    assert done.returncode == 0, done.stderr
    config.write_text(config.read_text().replace("configmap: team", "configMap: team"))
    done = dtm("validate", "-f", str(config))
    assert done.returncode == 1 and "unknown option 'configMap' for state backend `k8s`" in " ".join(
        done.stderr.split())


@pytest.mark.skipif(not os.environ.get("DTM_SLOW_TESTS"), reason="two whole applies at once: DTM_SLOW_TESTS=1 (the "
                    "default run sees an apply wait for a held Lease below)")
def test_two_applies_at_once_take_turns_on_the_lease(tmp_path: Path, kube_cluster) -> None:
    config = write_config(tmp_path, kube_cluster, 6, 150)
    # Each run applies three tools of its own, one at a time, so that unlocked they would interleave.
    halves = [[f"--target=noop.t{i}" for i in range(first, first + 3)] for first in (0, 3)]
    runs = [spawn([DTM, "apply", "-y", "-f", str(config), "--parallelism", "1", "--lock-timeout", "120", *half],
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for half in halves]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    writers = journal_writers(kube_cluster)
    # Whoever came first wrote all its records before the other wrote any: the Lease kept them apart.
    assert sorted(set(writers)) == sorted(run.pid for run in runs)
    assert writers == sorted(writers, key=writers.index)
    assert kube_cluster.get("coordination.k8s.io/v1", "Lease", "team-lock", "dtm-state") is None


HOLDER = """
import sys
from devstream.plugins.kube import resolve_target
from devstream.state.k8s import K8sStateStore

store = K8sStateStore(resolve_target(kubeconfig=sys.argv[1]), namespace="dtm-state", configmap="team")
with store.lock("dtm apply"):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def test_an_apply_waits_for_the_lease_holder_then_runs(tmp_path: Path, kube_cluster) -> None:
    """The other run is a child process holding the Lease until told, so the wait is seen, not timed."""
    config = write_config(tmp_path, kube_cluster, 2, 0)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(kube_cluster.kubeconfig)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "locked"
    waiting = spawn([DTM, "apply", "-y", "-f", str(config), "--lock-timeout", "120"], stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True)
    try:
        assert waiting.stdout is not None
        said = ""
        for line in iter(waiting.stdout.readline, ""):  # until it says it waits (or ends without waiting)
            if "waiting up to 120s" in line:
                said = line
                break
        assert "is locked by `dtm apply`" in said, "the apply did not wait for the Lease"
        assert journal_writers(kube_cluster) == []  # nothing written while the other run holds the state
        holder.stdin.write("done\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        output = waiting.communicate(timeout=300)[0]
        assert waiting.returncode == 0, output
        assert set(journal_writers(kube_cluster)) == {waiting.pid}
    finally:
        holder.kill()
        holder.wait()
        stop(waiting)


def test_a_sigkilled_holder_is_taken_over_and_the_next_apply_converges(tmp_path: Path, kube_cluster) -> None:
    config = write_config(tmp_path, kube_cluster, 3, 600)
    first = spawn([DTM, "apply", "-y", "-f", str(config), "--parallelism", "1"], stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # until it holds the Lease and has recorded a first tool
            if journal_writers(kube_cluster):
                break
            time.sleep(0.1)
        lease = kube_cluster.get("coordination.k8s.io/v1", "Lease", "team-lock", "dtm-state")
        assert lease is not None and lease["spec"]["holderIdentity"].split("/")[1] == str(first.pid)
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        stop(first)
    again = dtm("apply", "-y", "-f", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    state = yaml.safe_load(kube_cluster.get("v1", "ConfigMap", "team", "dtm-state")["data"]["state"])
    assert sorted(state) == [f"noop_t{i}" for i in range(3)]
    assert json.loads(dtm("plan", "-f", str(config), "--json").stdout)["changes"] == []
