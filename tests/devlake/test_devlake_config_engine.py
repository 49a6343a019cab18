"""devlake-config through dtm (Prefect flows, local state) on the DevLake stand-in, its address taken from another
tool's output as it would be from helm-installer's devlake instance: apply, edits in DevLake's UI found by plan
and drift and put back by apply, destroy; the tokens never reach the state file. DevStream's own sample config
validates unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from devlake_standin import DevLakeStandIn

from devstream.cli import drift, run

pytestmark = pytest.mark.usefixtures("prefect_server")
DTM = str(Path(sys.executable).with_name("dtm"))
TOKEN = "ghp_engine_devlake_secret_789"

# DevStream v0.12.1's `dtm show config -p devlake-config` sample, comments dropped.
DEVSTREAM_SAMPLE = """
tools:
- name: devlake-config
  instanceID: default
  dependsOn: [ ]
  options:
    devlakeAddr: http://127.0.0.1:1234
    plugins:
    - name: github
      connections:
      - name: "default"
        endpoint: "https://github.com/changeme/changeme"
        proxy: ""
        rateLimitPerHour: 0
        auth:
          token: "xxx"
    - name: jira
      connections:
      - name: "default"
        endpoint: "https://changeme.atlassian.net"
        proxy: ""
        rateLimitPerHour: 0
        auth:
          username: "changeme"
          password: "changeme"
"""


def plan_changes(config: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    capsys.readouterr()
    assert run.plan(config_path=config, json_out=True) == 0
    return [(c["key"], c["action"]) for c in json.loads(capsys.readouterr().out)["changes"]]


def test_devlake_connections_and_blueprint_end_to_end(
        tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVLAKE_GITHUB_TOKEN", TOKEN)
    config = tmp_path / "devlake.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [
            {"name": "noop", "instanceID": "devlake", "options": {"outputs": {"url": devlake_url}}},
            {"name": "devlake-config", "instanceID": "default", "options": {
                "devlakeURL": "${{ noop.devlake.outputs.url }}",
                "plugins": [{"name": "github", "connections": [{
                    "name": "default", "endpoint": "https://api.github.com/",
                    "auth": {"token": '[[ env "DEVLAKE_GITHUB_TOKEN" ]]'},
                    "scopes": [{"scopeId": "1001", "githubId": 1001, "name": "shop", "fullName": "acme/shop"}]}]}],
                "blueprint": {"name": "acme", "cronConfig": "0 3 * * *"}}},
        ],
    }, sort_keys=False))

    assert run.apply(config_path=config, yes=True) == 0
    github = devlake.by_name("github", "default")
    assert github is not None and github["token"] == TOKEN
    (blueprint,) = devlake.blueprints.values()
    assert blueprint["connections"][0]["connectionId"] == github["id"]
    assert TOKEN not in (tmp_path / "devstream.state").read_text()
    assert plan_changes(config, capsys) == []

    github["rateLimitPerHour"] = 10  # edited in DevLake's UI
    assert plan_changes(config, capsys) == [("devlake-config.default", "update")]
    capsys.readouterr()
    assert drift.drift(config_path=config, json_out=True) == 2
    assert "devlake-config.default" in capsys.readouterr().out
    assert run.apply(config_path=config, yes=True) == 0
    assert devlake.by_name("github", "default")["rateLimitPerHour"] == 0  # type: ignore[index]
    assert plan_changes(config, capsys) == []

    assert run.destroy(config_path=config, yes=True) == 0
    assert devlake.connections["github"] == {} and devlake.blueprints == {}


def test_devstream_s_sample_config_validates_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "devstream.yaml"
    config.write_text(DEVSTREAM_SAMPLE)
    done = subprocess.run([DTM, "validate", "-f", str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
