"""harbor-docker: what Harbor's installer does, declaratively, on the Docker Engine stand-in: harbor.yml from the
options, Harbor's prepare image run once, each generated service started on dtm's network and waited for; drift
per service, repaired by apply; destroy removes the services and the network, never a container dtm did not make."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import harbor_prepare
import pytest
import yaml
from docker_standin import DockerStandIn

from devstream.cli import run
from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.harbor_docker import HarborDockerOptions, HarborDockerPlugin

plugin = HarborDockerPlugin()
VERSION = "v2.4.3"
ADMIN_PASSWORD = "harbor-admin-secret-321"


@pytest.fixture
def harbor_registry(standin: DockerStandIn) -> DockerStandIn:
    standin.registry.update(harbor_prepare.images(VERSION))
    standin.programs["goharbor/prepare:"] = harbor_prepare.prepare
    standin.health_after = 2
    return standin


def options(tmp_path: Path, **more: Any) -> HarborDockerOptions:
    return HarborDockerOptions.model_validate({"hostname": "harbor.test", "dataVolume": str(tmp_path / "data"),
                                               "adminPassword": ADMIN_PASSWORD, **more})


def test_create_prepares_harbor_and_starts_every_service(
        tmp_path: Path, harbor_registry: DockerStandIn, docker_host: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    ctx = PluginContext(name="harbor-docker", instance_id="default", workdir=tmp_path)
    status = plugin.create(options(tmp_path, httpPort=8088), ctx)

    harbor_yml = yaml.safe_load((tmp_path / "harbor" / "harbor.yml").read_text())
    assert harbor_yml["hostname"] == "harbor.test" and harbor_yml["http"] == {"port": 8088}
    assert harbor_yml["harbor_admin_password"] == ADMIN_PASSWORD
    assert oct((tmp_path / "harbor" / "harbor.yml").stat().st_mode)[-3:] == "600"

    names = {c["Name"].lstrip("/"): c for c in harbor_registry.containers.values()}
    assert set(names) == set(harbor_prepare.CONTAINERS.values())  # prepare's one-shot container is gone
    nginx = names["nginx"]
    assert nginx["HostConfig"]["PortBindings"] == {"8080/tcp": [{"HostIp": "", "HostPort": "8088"}]}
    assert nginx["HostConfig"]["NetworkMode"] == "dtm-default-harbor"
    assert names["harbor-core"]["HostConfig"]["LogConfig"] == {
        "Type": "syslog", "Config": {"syslog-address": "tcp://localhost:1514", "tag": "core"}}
    assert "POSTGRES_PASSWORD=root123" in names["harbor-db"]["Config"]["Env"]
    assert f"{tmp_path}/data/registry:/storage:z" in names["registry"]["HostConfig"]["Binds"]
    assert all(c["State"]["Health"]["Status"] == "healthy" for c in names.values())
    assert harbor_registry.networks["dtm-default-harbor"]["Labels"] == {"io.devstream.tool": "harbor-docker.default"}

    assert status["outputs"]["url"] == "http://harbor.test:8088"
    assert status["outputs"]["services"] == sorted(harbor_prepare.CONTAINERS.values())
    assert ADMIN_PASSWORD not in json.dumps(status) and ADMIN_PASSWORD not in caplog.text
    ctx.prior = status
    assert plugin.read(options(tmp_path, httpPort=8088), ctx) == status


def test_with_trivy_harbor_runs_its_scanner_and_turning_it_off_removes_it(
        tmp_path: Path, harbor_registry: DockerStandIn, docker_host: str) -> None:
    ctx = PluginContext(name="harbor-docker", instance_id="default", workdir=tmp_path)
    status = plugin.create(options(tmp_path, withTrivy=True), ctx)

    names = {c["Name"].lstrip("/"): c for c in harbor_registry.containers.values()}
    assert set(names) == {*harbor_prepare.CONTAINERS.values(), "trivy-adapter"}
    trivy = names["trivy-adapter"]
    assert trivy["Config"]["Image"] == "goharbor/trivy-adapter-photon:v2.4.3"
    assert f"{tmp_path}/data/trivy-adapter/trivy:/home/scanner/.cache/trivy" in trivy["HostConfig"]["Binds"]
    assert "WITH_TRIVY=True" in names["harbor-core"]["Config"]["Env"]
    assert "trivy-adapter" in status["outputs"]["services"]
    ctx.prior = status
    assert plugin.read(options(tmp_path, withTrivy=True), ctx) == status

    updated = plugin.update(options(tmp_path), ctx)  # withTrivy off: prepare writes no scanner, dtm removes it
    names = {c["Name"].lstrip("/") for c in harbor_registry.containers.values()}
    assert names == set(harbor_prepare.CONTAINERS.values()) and "trivy-adapter" not in updated["services"]
    ctx.prior = updated
    assert plugin.read(options(tmp_path), ctx) == updated


def test_prepare_refusing_the_config_fails_with_its_own_words(
        tmp_path: Path, harbor_registry: DockerStandIn, docker_host: str) -> None:
    ctx = PluginContext(name="harbor-docker", instance_id="default", workdir=tmp_path)
    harbor_registry.programs["goharbor/prepare:"] = lambda container: (1, "ERROR:root:Please specify hostname\n")
    with pytest.raises(PermanentError, match=r"goharbor/prepare:v2.4.3 exited with code 1: "
                                             r"ERROR:root:Please specify hostname"):
        plugin.create(options(tmp_path), ctx)
    assert harbor_registry.containers == {}


def test_hostnames_harbor_refuses_are_refused() -> None:
    with pytest.raises(ValueError, match="not localhost or 127.0.0.1"):
        HarborDockerOptions.model_validate({"hostname": "localhost"})
    with pytest.raises(ValueError, match="Field required"):
        HarborDockerOptions.model_validate({})


@pytest.mark.usefixtures("prefect_server")
def test_harbor_end_to_end_through_dtm(tmp_path: Path, harbor_registry: DockerStandIn, docker_host: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "harbor.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{"name": "harbor-docker", "instanceID": "default",
                   "options": {"hostname": "harbor.test", "dataVolume": str(tmp_path / "data"),
                               "adminPassword": ADMIN_PASSWORD}}]}))
    assert run.apply(config_path=config, yes=True) == 0
    assert ADMIN_PASSWORD not in (tmp_path / "devstream.state").read_text()

    def changes() -> list[tuple[str, str]]:
        capsys.readouterr()
        assert run.plan(config_path=config, json_out=True) == 0
        return [(c["key"], c["reason"]) for c in json.loads(capsys.readouterr().out)["changes"]]

    assert changes() == []
    docker = shutil.which("docker")
    if docker:  # the real CLI stops a service by hand
        env = {**os.environ, "DOCKER_HOST": docker_host}
        assert subprocess.run([docker, "stop", "harbor-portal"], env=env, capture_output=True).returncode == 0
    else:
        harbor_registry.container("harbor-portal")["State"].update(Running=False)  # type: ignore[index]
    assert changes() == [("harbor-docker.default", "drifted: status.services.harbor-portal.running")]
    assert run.apply(config_path=config, yes=True) == 0
    assert changes() == []

    assert run.destroy(config_path=config, yes=True) == 0
    assert harbor_registry.containers == {} and harbor_registry.networks == {}
    assert (tmp_path / "harbor" / "harbor.yml").exists()  # the installer's folder, as the installer leaves it
