"""The `dtm` command line as a user meets it: exit codes, messages, JSON shapes.

`dtm(...)` runs the real entry point (its one error handler included) in this process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [
            {"name": "file", "instanceID": "readme", "options": {"path": "out/README.md", "content": "hi\n"}},
            {"name": "noop", "instanceID": "after",
             "options": {"triggers": {"sha": "${{ file.readme.outputs.sha256 }}"}}},
        ],
    }, sort_keys=False))
    return path


def test_version(dtm):
    code, out, _ = dtm("version")
    assert code == 0 and out.startswith("dtm ")


def test_validate_reports_a_valid_config(dtm, config):
    code, out, _ = dtm("validate", "-f", str(config), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True
    assert [t["key"] for t in data["tools"]] == ["file.readme", "noop.after"]


def test_a_config_error_exits_1_naming_file_line_and_field(dtm, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tools:\n- name: noop\n  instanceID: ok\n- name: noop\n  instanceID: Not_Valid\n")
    code, out, err = dtm("validate", "-f", str(bad))
    assert code == 1
    assert "bad.yaml:5" in err and "instanceID" in err
    code, out, _ = dtm("validate", "-f", str(bad), "--json")
    assert code == 1
    (issue,) = json.loads(out)["errors"]
    assert issue["file"].endswith("bad.yaml") and issue["line"] == 5 and issue["field"] == "tools[1].instanceID"


def test_plan_json_has_the_documented_shape(dtm, config):
    code, out, _ = dtm("plan", "-f", str(config), "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["format_version"] == "1"
    assert [(c["key"], c["action"], c["reason"]) for c in plan["changes"]] == [
        ("file.readme", "create", "not in state"), ("noop.after", "create", "not in state")]
    assert set(plan["changes"][0]) >= {"key", "name", "instanceID", "action", "reason", "before", "after"}


def test_plan_detailed_exitcode_and_verify_say_changes_are_pending(dtm, config):
    assert dtm("plan", "-f", str(config), "--detailed-exitcode")[0] == 2
    code, out, _ = dtm("verify", "-f", str(config))
    assert code == 2 and "create" in out


def test_plan_prints_a_readable_diff(dtm, config):
    code, out, _ = dtm("plan", "-f", str(config))
    assert code == 0
    assert "+ create file.readme" in out and "Plan: 2 to create, 0 to update, 0 to delete." in out


def test_apply_without_yes_and_without_a_terminal_refuses(dtm, config):
    code, _, err = dtm("apply", "-f", str(config))
    assert code == 1 and "pass -y" in err
    assert not (config.parent / "devstream.state").exists()


def test_list_plugins_shows_the_built_ins(dtm):
    code, out, _ = dtm("list", "plugins")
    assert code == 0 and "noop" in out and "file" in out
    code, out, _ = dtm("list", "plugins", "-r", "^fi")
    assert "file" in out and "noop" not in out


def test_show_config_prints_a_sample_and_a_plugins_options(dtm, tmp_path):
    code, out, _ = dtm("show", "config")
    (tmp_path / "sample.yaml").write_text(out)
    assert dtm("validate", "-f", str(tmp_path / "sample.yaml"))[0] == 0
    assert code == 0 and yaml.safe_load(out)["tools"]
    # The sample names the real default backend, and its links lead somewhere.
    assert yaml.safe_load(out)["config"]["state"]["backend"] == "prefect"
    assert "later releases" not in out
    links = re.findall(r"https?://\S+", out)
    assert links and all(urlsplit(link).path.strip("/") for link in links)
    code, out, _ = dtm("show", "config", "-p", "file")
    assert code == 0 and "path:" in out and "content:" in out


@pytest.mark.parametrize(("command", "says"), [
    ("plan", "How many live reads of resources run at once."),
    ("verify", "How many live reads of resources run at once."),
    ("drift", "How many live reads (and, with --remediate, changes) run at once."),
    ("apply", "How many changes (and, while planning, live reads) run at once."),
])
def test_parallelism_says_what_it_does_for_each_command(dtm, command, says):
    code, out, _ = dtm(command, "--help")
    assert code == 0 and says in " ".join(out.split())


def test_show_config_of_an_unknown_plugin_lists_the_installed_ones(dtm):
    code, _, err = dtm("show", "config", "-p", "nope")
    assert code == 1 and "unknown plugin 'nope'" in err and "file" in err


def test_init_names_a_plugin_that_is_neither_installed_nor_in_the_index(dtm, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tools:\n- name: acme-deployer\n  instanceID: ci\n  options: {}\n")
    code, out, err = dtm("init", "-f", str(cfg))
    message = " ".join(err.split())
    assert code == 1 and "unknown plugin(s) acme-deployer: not installed and not in the plugin index" in message
    assert "config.pluginIndex" in message and "nothing was installed" in message


def test_force_unlock_releases_a_left_over_lock(dtm, config):
    lock = config.parent / "devstream.state.lock"
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 4242, "command": "dtm apply",
                                "since": "2026-01-01T00:00:00+00:00", "id": "abc"}))
    code, out, _ = dtm("force-unlock", "-f", str(config))
    assert code == 0 and "elsewhere" in out
    assert not lock.exists()


def test_show_status_of_an_empty_state(dtm, config):
    code, out, _ = dtm("show", "status", "-f", str(config), "--json")
    assert code == 0 and json.loads(out) == []
