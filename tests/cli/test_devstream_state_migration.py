"""A state file that DevStream v0.12.1 wrote is migrated by the first `dtm apply`, without updating any tool.

DevStream stored every tool's options with `instanceID` injected into them and tokens in clear, and its
plugins' statuses in their own shape (ci-generic's: per file, `localSHA` and a list of `scm` SHAs and
branches). The toolchain here is ci-generic on a local bare git repository (its token is never needed for a
file:// remote) and a noop tool that depends on it. dtm applies it once, then the state file is rewritten
as DevStream would have written it; from there the user's story runs through dtm's real entry point.
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

TOKEN = "ghp_devstreamCleartextToken0077"


@pytest.fixture
def dtm(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`dtm(*args)` -> (exit code, stdout and stderr together)."""

    def call(*args: str) -> tuple[int, str]:
        done = run_main(monkeypatch, capsys, *args, width=250)
        return done.returncode, done.stdout + done.stderr

    return call


def write_config(folder: Path, ci_file: str = "name: build\n") -> Path:
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "ci-generic", "instanceID": "app", "options": {
            "ci": {"type": "generic", "configContents": {"ci.yml": ci_file}},
            "projectRepo": {"scmType": "git", "url": "app.git", "name": "app", "token": TOKEN}}},
        {"name": "noop", "instanceID": "notify", "dependsOn": ["ci-generic.app"],
         "options": {"triggers": {"ci": "on"}}},
    ]}, sort_keys=False))
    return config


def as_devstream_wrote_it(state: Path) -> None:
    """The state file in DevStream v0.12.1's form: instanceID injected, the token in clear, its own statuses."""
    records = yaml.safe_load(state.read_text())
    for record in records.values():
        record["options"]["instanceID"] = record["instanceID"]
    records["ci-generic_app"]["options"]["projectRepo"]["token"] = TOKEN
    records["ci-generic_app"]["resourceStatus"] = {
        "ci.yml": {"localSHA": "4f1c0ffee", "scm": [{"scmSHA": "9ab0ba5e", "scmBranch": "main"}]}}
    records["noop_notify"]["resourceStatus"] = {"outputs": {}}
    state.write_text(yaml.safe_dump(records, indent=2))


@pytest.fixture
def devstream_state(tmp_path: Path, dtm) -> tuple[Path, dict]:
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(tmp_path / "app.git")],
                   check=True)
    config = write_config(tmp_path)
    code, text = dtm("apply", "-f", str(config), "-y")
    assert code == 0, text
    state = tmp_path / "devstream.state"
    dtm_wrote = yaml.safe_load(state.read_text())
    as_devstream_wrote_it(state)
    return config, dtm_wrote


def test_the_first_apply_migrates_devstreams_state_once_and_updates_nothing(devstream_state, dtm) -> None:
    config, dtm_wrote = devstream_state
    state = config.parent / "devstream.state"

    code, text = dtm("plan", "-f", str(config))
    assert code == 0 and "No changes." in text, text  # neither the instanceID nor the statuses are changes
    assert "2 state record(s) were written by DevStream v0.12.1; the next apply migrates them" in text
    assert TOKEN not in text

    code, text = dtm("apply", "-f", str(config), "-y")
    assert code == 0 and "No changes." in text, text
    assert ("Migrated 2 state record(s) written by DevStream v0.12.1 to dtm's form (its injected "
            "options.instanceID dropped, secrets as fingerprints, the status as read now): ci-generic.app, "
            "noop.notify.") in text
    assert "Rewrote" not in text  # the secret's rewrite is part of the migration, not told twice
    assert TOKEN not in text and TOKEN not in state.read_text()
    migrated = yaml.safe_load(state.read_text())
    assert migrated == dtm_wrote  # options and statuses as dtm writes them: instanceID gone, token fingerprinted
    assert migrated["ci-generic_app"]["options"]["projectRepo"]["token"] == fingerprint(TOKEN)

    code, text = dtm("apply", "-f", str(config), "-y")  # reported once: the records are dtm's now
    assert code == 0 and "No changes." in text and "DevStream" not in text


def test_a_real_change_is_still_planned_after_devstreams_state(devstream_state, dtm) -> None:
    config, _ = devstream_state
    write_config(config.parent, ci_file="name: build and test\n")

    code, text = dtm("plan", "-f", str(config), "--json")
    changes = json.loads(text.split("\nNote:")[0])["changes"]
    assert [(c["key"], c["action"], c["reason"]) for c in changes] == [
        ("ci-generic.app", "update", "options changed: ci.configContents.ci.yml")]

    code, text = dtm("apply", "-f", str(config), "-y")
    assert code == 0 and "Migrated 2 state record(s)" in text
    record = yaml.safe_load((config.parent / "devstream.state").read_text())["ci-generic_app"]
    assert "instanceID" not in record["options"] and "ci.yml" not in record["resourceStatus"]
    code, text = dtm("plan", "-f", str(config))
    assert code == 0 and "No changes." in text


def test_state_mv_of_a_devstream_record_keeps_it_devstreams_until_the_apply(devstream_state, dtm) -> None:
    config, _ = devstream_state
    text = config.read_text().replace("instanceID: notify", "instanceID: announce")
    config.write_text(text)  # the noop tool's instanceID changed in the config

    code, text = dtm("state", "mv", "noop.notify", "noop.announce", "-f", str(config))
    assert code == 0, text
    moved = yaml.safe_load((config.parent / "devstream.state").read_text())["noop_announce"]
    assert moved["options"]["instanceID"] == "announce"  # still in DevStream's form, renamed
    code, text = dtm("plan", "-f", str(config))
    assert code == 0 and "No changes." in text and "2 state record(s) were written by DevStream" in text
    code, text = dtm("apply", "-f", str(config), "-y")
    assert code == 0 and "Migrated 2 state record(s)" in text and "ci-generic.app, noop.announce" in text
