"""gitlab-ce-docker through dtm (Prefect flows, local state) on the Docker Engine stand-in: apply, what the real
`docker` CLI then sees, drift made with that CLI found by plan and drift and repaired by apply, destroy. And
DevStream's own sample config for the plugin validates unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker_standin import DockerStandIn

from devstream.cli import drift, run

pytestmark = pytest.mark.usefixtures("prefect_server")
DOCKER = shutil.which("docker")
# A tool using GitLab's outputs is updated after GitLab only if those outputs change.
DEPENDENT = ("noop.uses-gitlab", "update", "inputs from gitlab-ce-docker.default may change")
DTM = str(Path(sys.executable).with_name("dtm"))

# DevStream v0.12.1's `dtm show config -p gitlab-ce-docker` sample, comments dropped.
DEVSTREAM_SAMPLE = """
tools:
- name: gitlab-ce-docker
  instanceID: default
  dependsOn: [ ]
  options:
    hostname: gitlab.example.com
    gitlabHome: /srv/gitlab
    sshPort: 22
    httpPort: 80
    httpsPort: 443
    rmDataAfterDelete: false
    imageTag: "rc"
"""


def docker_cli(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert DOCKER is not None
    return subprocess.run([DOCKER, *args], env={**os.environ, "DOCKER_HOST": host}, capture_output=True, text=True,
                          timeout=60)


def plan_changes(config: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, str]]:
    capsys.readouterr()
    assert run.plan(config_path=config, json_out=True) == 0
    return [(c["key"], c["action"], c["reason"]) for c in json.loads(capsys.readouterr().out)["changes"]]


def write_config(tmp_path: Path, **options: Any) -> Path:
    config = tmp_path / "gitlab.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [
            {"name": "gitlab-ce-docker", "instanceID": "default",
             "options": {"hostname": "gitlab.test", "gitlabHome": str(tmp_path / "gitlab"), "httpPort": 8929,
                         "sshPort": 2224, **options}},
            {"name": "noop", "instanceID": "uses-gitlab",
             "options": {"outputs": {"gitlab": "${{ gitlab-ce-docker.default.outputs.url }}"}}},
        ],
    }, sort_keys=False))
    return config


@pytest.mark.skipif(DOCKER is None, reason="the docker CLI is part of this machine's image; drift is made with it")
def test_gitlab_on_docker_end_to_end(tmp_path: Path, standin: DockerStandIn, docker_host: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert run.apply(config_path=config, yes=True) == 0

    inspected = json.loads(docker_cli(docker_host, "inspect", "gitlab").stdout)[0]
    assert inspected["Config"]["Image"] == "gitlab/gitlab-ce:rc"
    assert inspected["State"]["Running"] is True and inspected["State"]["Health"]["Status"] == "healthy"
    assert inspected["HostConfig"]["PortBindings"]["80/tcp"] == [{"HostIp": "", "HostPort": "8929"}]
    state = yaml.safe_load((tmp_path / "devstream.state").read_text())
    assert state["noop_uses-gitlab"]["resourceStatus"]["outputs"] == {"gitlab": "http://gitlab.test:8929"}
    assert plan_changes(config, capsys) == []

    assert docker_cli(docker_host, "stop", "gitlab").returncode == 0
    assert plan_changes(config, capsys) == [("gitlab-ce-docker.default", "update", "drifted: status.running"),
                                            DEPENDENT]
    capsys.readouterr()
    assert drift.drift(config_path=config, json_out=True) == 2
    assert "gitlab-ce-docker.default" in capsys.readouterr().out
    assert run.apply(config_path=config, yes=True) == 0
    assert json.loads(docker_cli(docker_host, "inspect", "gitlab").stdout)[0]["State"]["Running"] is True
    assert plan_changes(config, capsys) == []

    assert docker_cli(docker_host, "rm", "-f", "gitlab").returncode == 0
    assert plan_changes(config, capsys) == [("gitlab-ce-docker.default", "create", "deleted outside dtm"), DEPENDENT]
    assert run.apply(config_path=config, yes=True) == 0
    assert plan_changes(config, capsys) == []

    write_config(tmp_path, imageTag="16.11.2-ce.0")  # an upgrade: the container is recreated, the data kept
    (tmp_path / "gitlab" / "data" / "keep").write_text("data")
    assert plan_changes(config, capsys)[0][:2] == ("gitlab-ce-docker.default", "update")
    assert run.apply(config_path=config, yes=True) == 0
    assert json.loads(docker_cli(docker_host, "inspect", "gitlab").stdout)[0]["Config"]["Image"] == \
        "gitlab/gitlab-ce:16.11.2-ce.0"
    assert (tmp_path / "gitlab" / "data" / "keep").read_text() == "data"

    assert run.destroy(config_path=config, yes=True) == 0
    assert docker_cli(docker_host, "ps", "-a", "-q").stdout.strip() == ""
    assert (tmp_path / "gitlab" / "data" / "keep").exists()  # rmDataAfterDelete: false


def test_devstream_s_sample_config_validates_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "devstream.yaml"
    config.write_text(DEVSTREAM_SAMPLE)
    done = subprocess.run([DTM, "validate", "-f", str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = subprocess.run([DTM, "show", "config", "-p", "gitlab-ce-docker"], capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0
    for option in ("hostname", "gitlabHome", "sshPort", "httpPort", "httpsPort", "rmDataAfterDelete", "imageTag",
                   "dockerHost", "healthTimeout"):
        assert option in shown.stdout
