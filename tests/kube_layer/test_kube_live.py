"""Opt-in: dtm's Kubernetes layer, zentao and the `k8s` state backend against a real cluster. Set
DTM_LIVE_KUBECONFIG to a kubeconfig (its current context is used; kind, minikube or a test cluster: each test
works in a namespace of its own, `dtm-live-<random>`, and removes it); never run by CI.

- the client: a ConfigMap applied server-side, read, patched, deleted and waited for;
- zentao: created without waiting for its image (the cluster need not pull it), read, imported as a second
  tool that then leaves it in place, deleted with its volumes and the namespace it made; the PersistentVolumes
  and the NodePort are named and picked at random so a shared cluster keeps what it has;
- the `k8s` backend: the installed `dtm` applies, lists and destroys three noop tools with their state in a
  ConfigMap, and leaves no Lease behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstream.plugin import PluginContext
from devstream.plugins.kube import KubeClient, resolve_target
from devstream.plugins.zentao import ZentaoPlugin
from devstream.plugins.zentao.options import ZentaoOptions

DTM = str(Path(sys.executable).with_name("dtm"))
pytestmark = pytest.mark.skipif(not os.environ.get("DTM_LIVE_KUBECONFIG"),
                                reason="set DTM_LIVE_KUBECONFIG to run against a real cluster")


@pytest.fixture
def live_kubeconfig() -> str:
    return os.environ["DTM_LIVE_KUBECONFIG"]


@pytest.fixture
def namespace(live_kubeconfig: str) -> Iterator[str]:
    """A fresh namespace name, the namespace removed after the test (whoever made it)."""
    name = f"dtm-live-{uuid.uuid4().hex[:8]}"
    yield name
    with KubeClient(resolve_target(kubeconfig=live_kubeconfig)) as kube:
        kube.delete("v1", "Namespace", name)


def test_the_client_applies_reads_patches_and_deletes(live_kubeconfig: str, namespace: str) -> None:
    with KubeClient(resolve_target(kubeconfig=live_kubeconfig)) as kube:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        applied = kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "probe", "namespace": namespace}, "data": {"a": "1"}})
        assert applied["data"] == {"a": "1"}
        assert kube.get("v1", "ConfigMap", "probe", namespace)["data"] == {"a": "1"}
        patched = kube.merge_patch("v1", "ConfigMap", "probe", {"data": {"b": "2"}}, namespace)
        assert patched["data"] == {"a": "1", "b": "2"}
        assert kube.delete("v1", "ConfigMap", "probe", namespace)
        kube.wait_deleted("v1", "ConfigMap", "probe", namespace, timeout=60)
        assert kube.get("v1", "ConfigMap", "probe", namespace) is None


def zentao_options(kubeconfig: str, namespace: str) -> ZentaoOptions:
    suffix = namespace.removeprefix("dtm-live-")
    return ZentaoOptions.model_validate({
        "namespace": namespace, "storageClassName": f"dtm-live-{suffix}", "kubeconfig": kubeconfig,
        "waitTimeout": 0,  # the cluster need not pull ZenTao's image
        "persistentVolumes": [{"pvName": f"dtm-live-{suffix}-www", "pvCapacity": "1G",
                               "hostPath": f"/tmp/dtm-live-{suffix}/www"},
                              {"pvName": f"dtm-live-{suffix}-db", "pvCapacity": "1G",
                               "hostPath": f"/tmp/dtm-live-{suffix}/db"}],
        "persistentVolumeClaims": [{"pvcName": "www", "pvcCapacity": "1G"}, {"pvcName": "db", "pvcCapacity": "1G"}],
        "deployment": {"name": "zentao", "replicas": 1, "image": "easysoft/zentao:latest",
                       "envs": [{"key": "MYSQL_ROOT_PASSWORD", "value": uuid.uuid4().hex}]},
        "service": {"name": "zentao", "nodePort": random.randint(30000, 32767)}})


def test_zentao_creates_reads_imports_and_deletes(live_kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    options = zentao_options(live_kubeconfig, namespace)
    plugin = ZentaoPlugin()
    ctx = PluginContext(name="zentao", instance_id="live", workdir=tmp_path)
    try:
        created = plugin.create(options, ctx)
        assert created["missing"] == [] and created["outputs"]["namespace"] == namespace
        assert plugin.read(options, dataclasses.replace(ctx, prior=created)) == created

        other = PluginContext(name="zentao", instance_id="adopter", workdir=tmp_path)
        imported = plugin.import_resource(f"{namespace}/zentao", options, other)
        assert imported is not None and imported["adopted"] is True
        plugin.delete(options, dataclasses.replace(other, prior=imported))  # adopted: left in place
        assert plugin.read(options, ctx) is not None

        plugin.delete(options, dataclasses.replace(ctx, prior=created))
        assert plugin.read(options, ctx) is None
    finally:
        with KubeClient(resolve_target(kubeconfig=live_kubeconfig)) as kube:
            for pv in options.persistentVolumes:
                kube.delete("v1", "PersistentVolume", pv.pvName)


def dtm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *args], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, cwd=cwd)


@pytest.mark.usefixtures("prefect_server")
def test_the_k8s_backend_keeps_an_applys_state_in_the_cluster(live_kubeconfig: str, namespace: str,
                                                              tmp_path: Path) -> None:
    with KubeClient(resolve_target(kubeconfig=live_kubeconfig)) as kube:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "k8s", "options": {"namespace": namespace, "configmap": "live",
                                                           "kubeconfig": live_kubeconfig}}},
        "tools": [{"name": "noop", "instanceID": f"t{i}", "options": {}} for i in range(3)]}))

    done = dtm("apply", "-y", "-f", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    listed: list[dict[str, Any]] = json.loads(dtm("state", "list", "-f", str(config), "--json", cwd=tmp_path).stdout)
    assert sorted(r["key"] for r in listed) == ["noop.t0", "noop.t1", "noop.t2"]
    with KubeClient(resolve_target(kubeconfig=live_kubeconfig)) as kube:
        assert kube.get("v1", "ConfigMap", "live", namespace) is not None
        assert kube.get("coordination.k8s.io/v1", "Lease", "live-lock", namespace) is None

    done = dtm("destroy", "-y", "-f", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(dtm("state", "list", "-f", str(config), "--json", cwd=tmp_path).stdout) == []
