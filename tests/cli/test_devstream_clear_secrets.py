"""A state file from DevStream v0.12.1 holds tokens in clear. dtm reads it, but never shows those tokens: plans
(text and JSON, both sides of every diff), status and apply output show fingerprints, and the first apply
rewrites the records with fingerprints only.

The tool is ci-generic on a local git repository with a `token` (a SecretStr option): the token is never
needed for a file:// remote, so the whole story runs here. The commands run through dtm's real entry point.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from dtm_cli import run_main

from devstream.secrets import fingerprint

pytestmark = pytest.mark.usefixtures("prefect_server")

OLD_TOKEN = "ghp_devstreamCleartextToken0001"
NEW_TOKEN = "ghp_rotatedToken000000000000002"


@pytest.fixture
def dtm(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`dtm(*args)` -> (exit code, stdout and stderr together)."""

    def call(*args: str) -> tuple[int, str]:
        done = run_main(monkeypatch, capsys, *args, width=250)
        return done.returncode, done.stdout + done.stderr

    return call


def write_config(folder: Path, token: str, *, with_tool: bool = True) -> Path:
    tools = [{"name": "ci-generic", "instanceID": "app", "options": {
        "ci": {"type": "generic", "configContents": {"ci.yml": "name: build\n"}},
        "projectRepo": {"scmType": "git", "url": "app.git", "name": "app", "token": token}}}]
    config = folder / "dtm.yaml"
    other = [{"name": "noop", "instanceID": "other", "options": {}}]
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}},
                                      "tools": tools if with_tool else other}, sort_keys=False))
    return config


@pytest.fixture
def devstream_state(tmp_path: Path, dtm) -> Path:
    """A config applied once, whose state record then holds the token in clear, as DevStream's did."""
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(tmp_path / "app.git")],
                   check=True)
    config = write_config(tmp_path, OLD_TOKEN)
    assert dtm("apply", "-f", str(config), "-y")[0] == 0
    state = tmp_path / "devstream.state"
    data = yaml.safe_load(state.read_text())
    repo = data["ci-generic_app"]["options"]["projectRepo"]
    assert repo["token"] == fingerprint(OLD_TOKEN)  # what dtm writes
    repo["token"] = OLD_TOKEN  # what DevStream v0.12.1 wrote
    state.write_text(yaml.safe_dump(data, sort_keys=True, indent=2))
    return config


def test_plans_and_status_never_show_a_token_the_state_holds_in_clear(devstream_state: Path, dtm) -> None:
    config = devstream_state

    code, text = dtm("plan", "-f", str(config))
    assert code == 0 and "No changes." in text  # the same token, fingerprinted on both sides: nothing to do
    assert "hold secrets in clear" in text and "the next apply rewrites them" in text
    code, text = dtm("plan", "-f", str(config), "--json")
    assert code == 0 and json.loads(text.split("\nNote:")[0])["changes"] == []
    code, text = dtm("show", "status", "-f", str(config), "--json")
    assert code == 0 and fingerprint(OLD_TOKEN) in text
    assert OLD_TOKEN not in text

    # A rotated token: an update whose two sides are fingerprints.
    write_config(config.parent, NEW_TOKEN)
    for args in (("plan", "-f", str(config)), ("plan", "-f", str(config), "--json")):
        code, text = dtm(*args)
        assert code == 0 and "projectRepo.token" in text
        assert fingerprint(OLD_TOKEN) in text and fingerprint(NEW_TOKEN) in text
        assert OLD_TOKEN not in text and NEW_TOKEN not in text

    # The tool left the config: the delete shows the recorded options, fingerprinted.
    write_config(config.parent, NEW_TOKEN, with_tool=False)
    code, text = dtm("plan", "-f", str(config), "--json")
    change = next(c for c in json.loads(text.split("\nNote:")[0])["changes"] if c["key"] == "ci-generic.app")
    assert change["action"] == "delete"
    assert change["before"]["options"]["projectRepo"]["token"] == fingerprint(OLD_TOKEN)
    assert OLD_TOKEN not in text


def test_the_first_apply_rewrites_the_record_with_fingerprints_only(devstream_state: Path, dtm) -> None:
    config = devstream_state
    state = config.parent / "devstream.state"
    assert OLD_TOKEN in state.read_text()

    code, text = dtm("apply", "-f", str(config), "-y")  # nothing to change but the record itself

    assert code == 0 and OLD_TOKEN not in text
    assert "Rewrote 1 state record(s) that held secrets in clear" in text
    assert OLD_TOKEN not in state.read_text()
    record = yaml.safe_load(state.read_text())["ci-generic_app"]
    assert record["options"]["projectRepo"]["token"] == fingerprint(OLD_TOKEN)
    code, text = dtm("plan", "-f", str(config))
    assert code == 0 and "hold secrets in clear" not in text
