"""zentao through dtm on the Kubernetes stand-in: DevStream's documented config validates unchanged; apply makes
its objects (each validated by the stand-in against Kubernetes' OpenAPI description); drift made with the real
kubectl is found by plan and drift and repaired by apply; destroy removes everything, the namespace too when dtm
made it; an install made another way is adopted by `dtm import`, taken over by apply and left by destroy. And
the conformance suite every plugin passes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstream.cli import drift, run
from devstream.plugin import PluginContext, http_client
from devstream.plugins.zentao import ZentaoPlugin
from devstream.plugins.zentao.options import ZentaoOptions
from devstream.plugins.zentao.plugin import manifests
from devstream.testing import Harness, PluginConformance

DTM = str(Path(sys.executable).with_name("dtm"))
PASSWORD = "zentao-db-secret-123456"

# DevStream v0.12.1's docs/plugins/zentao.md example, comments dropped.
DEVSTREAM_DOCS = """
config:
  state:
    backend: local
    options:
      stateFile: devstream.state
tools:
  - name: zentao
    instanceID: default
    dependsOn: []
    options:
      namespace: 'zentao'
      storageClassName: 'zentao-storage'
      persistentVolumes:
        - pvName: "zentao-pv"
          pvCapacity: "1G"
        - pvName: "mysql-pv"
          pvCapacity: "1G"
      persistentVolumeClaims:
        - pvcName: "zentao-pvc"
          pvcCapacity: "1G"
        - pvcName: "mysql-pvc"
          pvcCapacity: "1G"
      deployment:
        name: 'zentao-dp'
        replicas: 1
        image: 'easysoft/zentao:latest'
        envs:
          - key: 'MYSQL_ROOT_PASSWORD'
            value: '123456'
      service:
        name: 'zentao-svc'
        nodePort: 30081
"""


def zentao_options(kubeconfig: Path, **changes: Any) -> dict[str, Any]:
    options = yaml.safe_load(DEVSTREAM_DOCS)["tools"][0]["options"]
    options["deployment"]["envs"][0]["value"] = PASSWORD
    return {**options, "kubeconfig": str(kubeconfig), "waitTimeout": 60, **changes}


def plan_changes(config: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    capsys.readouterr()
    assert run.plan(config_path=config, json_out=True) == 0
    return [(c["key"], c["action"]) for c in json.loads(capsys.readouterr().out)["changes"]]


def test_devstream_s_documented_config_validates_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "zentao.yaml"
    config.write_text(DEVSTREAM_DOCS)
    done = subprocess.run([DTM, "validate", "-f", str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    config.write_text(DEVSTREAM_DOCS.replace("pvCapacity: \"1G\"", "pvCapacity: \"lots\"", 1))
    done = subprocess.run([DTM, "validate", "-f", str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "zentao.yaml:16:" in done.stderr and "quantity" in done.stderr


@pytest.mark.usefixtures("prefect_server")
def test_zentao_end_to_end(tmp_path: Path, kube_cluster, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "zentao.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "zentao", "instanceID": "default", "options": zentao_options(kube_cluster.kubeconfig)}]}))
    assert run.apply(config_path=config, yes=True) == 0

    deployment = json.loads(kube_cluster.kubectl("get", "deployment", "zentao-dp", "-n", "zentao", "-o",
                                                 "json").stdout)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "easysoft/zentao:latest"
    assert [p["containerPort"] for p in container["ports"]] == [80, 3306]
    assert container["env"] == [{"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "zentao-dp-env", "key": "MYSQL_ROOT_PASSWORD"}}}]
    assert container["volumeMounts"] == [{"name": "zentao-pvc", "mountPath": "/www/zentaopms"},
                                         {"name": "mysql-pvc", "mountPath": "/var/lib/mysql"}]
    secret = kube_cluster.get("v1", "Secret", "zentao-dp-env", "zentao")
    assert base64.b64decode(secret["data"]["MYSQL_ROOT_PASSWORD"]).decode() == PASSWORD
    assert kube_cluster.get("v1", "Service", "zentao-svc", "zentao")["spec"]["ports"][0]["nodePort"] == 30081
    assert kube_cluster.get("v1", "PersistentVolume", "mysql-pv")["spec"]["hostPath"] == {"path": "/var/lib/mysql"}
    assert kube_cluster.get("v1", "PersistentVolumeClaim", "zentao-pvc", "zentao") is not None
    state_text = (tmp_path / "devstream.state").read_text()
    assert PASSWORD not in state_text
    assert yaml.safe_load(state_text)["zentao_default"]["resourceStatus"]["running"] is True
    assert plan_changes(config, capsys) == []

    # Drift made with kubectl: an image changed, then the Service deleted.
    kube_cluster.kubectl("set", "image", "deployment/zentao-dp", "zentao=easysoft/zentao:18.0", "-n", "zentao")
    assert plan_changes(config, capsys) == [("zentao.default", "update")]
    capsys.readouterr()
    assert drift.drift(config_path=config, json_out=True) == 2
    assert "zentao.default" in capsys.readouterr().out
    kube_cluster.kubectl("delete", "service", "zentao-svc", "-n", "zentao")
    assert run.apply(config_path=config, yes=True) == 0
    assert kube_cluster.get("apps/v1", "Deployment", "zentao-dp", "zentao")["spec"]["template"]["spec"][
        "containers"][0]["image"] == "easysoft/zentao:latest"
    assert kube_cluster.get("v1", "Service", "zentao-svc", "zentao") is not None
    assert plan_changes(config, capsys) == []

    # A changed password is drift too, found without the password reaching the state.
    kube_cluster.kubectl("patch", "secret", "zentao-dp-env", "-n", "zentao", "--type", "merge", "-p",
                         json.dumps({"data": {"MYSQL_ROOT_PASSWORD": base64.b64encode(b"guessed").decode()}}))
    assert plan_changes(config, capsys) == [("zentao.default", "update")]
    assert run.apply(config_path=config, yes=True) == 0
    assert plan_changes(config, capsys) == []

    assert run.destroy(config_path=config, yes=True) == 0
    for api_version, kind, name, namespace in (("apps/v1", "Deployment", "zentao-dp", "zentao"),
                                               ("v1", "PersistentVolume", "zentao-pv", None),
                                               ("v1", "Secret", "zentao-dp-env", "zentao")):
        assert kube_cluster.get(api_version, kind, name, namespace) is None
    gone = kube_cluster.get("v1", "Namespace", "zentao")  # dtm made it: deleted (or finishing its deletion)
    assert gone is None or gone["metadata"].get("deletionTimestamp")


def test_a_namespace_dtm_did_not_make_is_kept(tmp_path: Path, kube_cluster) -> None:
    kube_cluster.kubectl("create", "namespace", "zentao")
    plugin, options = ZentaoPlugin(), ZentaoOptions.model_validate(zentao_options(kube_cluster.kubeconfig))
    ctx = PluginContext(name="zentao", instance_id="default", workdir=tmp_path)
    created = plugin.create(options, ctx)
    assert created["outputs"] == {"namespace": "zentao", "deployment": "zentao-dp", "service": "zentao-svc",
                                  "nodePort": 30081}
    plugin.delete(options, PluginContext(name="zentao", instance_id="default", workdir=tmp_path, prior=created))
    assert kube_cluster.get("v1", "Namespace", "zentao") is not None
    assert plugin.read(options, ctx) is None


@pytest.mark.usefixtures("prefect_server")
def test_an_install_made_another_way_is_imported_taken_over_and_left_by_destroy(
        tmp_path: Path, kube_cluster, capsys: pytest.CaptureFixture[str]) -> None:
    # ZenTao as an older install left it: another image, the password in the Deployment in clear, no dtm labels.
    options = ZentaoOptions.model_validate(zentao_options(kube_cluster.kubeconfig))
    kube_cluster.kubectl("create", "namespace", "zentao")
    by_hand = [o for o in manifests(options, "by-hand") if o["kind"] != "Secret"]
    for obj in by_hand:
        obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in ("labels", "annotations")}
        if obj["kind"] == "Deployment":
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container.update(image="easysoft/zentao:17.0", env=[{"name": "MYSQL_ROOT_PASSWORD", "value": PASSWORD}])
    for obj in by_hand:
        kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))
    config = tmp_path / "zentao.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "zentao", "instanceID": "default", "options": zentao_options(kube_cluster.kubeconfig)}]}))

    done = subprocess.run([DTM, "import", "-f", str(config), "zentao.default", "zentao/zentao-dp"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert PASSWORD not in (tmp_path / "devstream.state").read_text()
    assert plan_changes(config, capsys) == [("zentao.default", "update")]  # the image, the env Secret

    assert run.apply(config_path=config, yes=True) == 0
    container = kube_cluster.get("apps/v1", "Deployment", "zentao-dp", "zentao")["spec"]["template"]["spec"][
        "containers"][0]
    assert container["image"] == "easysoft/zentao:latest"
    assert kube_cluster.get("v1", "Secret", "zentao-dp-env", "zentao") is not None
    assert plan_changes(config, capsys) == []

    assert run.destroy(config_path=config, yes=True) == 0  # not dtm's to delete: everything stays
    assert kube_cluster.get("apps/v1", "Deployment", "zentao-dp", "zentao") is not None
    assert kube_cluster.get("v1", "Namespace", "zentao") is not None


class TestZentaoConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path, kube_cluster) -> Harness:
        options = zentao_options(kube_cluster.kubeconfig)
        ctx = PluginContext(name="zentao", instance_id="conformance", workdir=tmp_path)
        model = ZentaoOptions.model_validate(options)

        def cluster() -> dict[str, Any]:
            found = {}
            for obj in manifests(model, ctx.key):
                meta = obj["metadata"]
                live = kube_cluster.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
                found[f"{obj['kind']}/{meta['name']}"] = live and live["metadata"]["resourceVersion"]
            return found

        unreachable = tmp_path / "unreachable.yaml"
        unreachable.write_text(kube_cluster.kubeconfig.read_text().replace(kube_cluster.url, "https://127.0.0.1:9"))
        refused = tmp_path / "refused.yaml"
        refused.write_text(kube_cluster.kubeconfig.read_text().replace("token: ", "token: wrong-"))
        quick = PluginContext(name="zentao", instance_id="conformance", workdir=tmp_path,
                              client_factory=lambda **kw: http_client(**{**kw, "attempts": 1}))
        return Harness(plugin=ZentaoPlugin(), options=options, context=ctx, snapshot=cluster,
                       import_id="zentao/zentao-dp", failures={
            # no API server answering: may pass when retried (the control plane restarting)
            "transient": lambda: ({**options, "kubeconfig": str(unreachable)}, quick),
            # credentials the server refuses: retrying cannot help
            "permanent": lambda: ({**options, "kubeconfig": str(refused)}, ctx),
        })
