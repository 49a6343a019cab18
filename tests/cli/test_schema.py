"""`dtm schema`: the JSON Schema of a config, with every installed plugin's options, that editors use to
complete and check a config (README: the yaml-language-server modeline). Every config a test loads is
checked against it as well (tests/config_schema_check.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from config_schema_check import problems
from jsonschema import Draft202012Validator

from devstream.plugin.registry import PluginRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema() -> dict:
    dtm = Path(sys.executable).with_name("dtm")
    done = subprocess.run([str(dtm), "schema"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_it_is_a_valid_json_schema_with_every_installed_plugin_under_tools_options(schema):
    Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == {"config", "vars", "tools", "apps", "pipelineTemplates"}
    branches = {b["if"]["properties"]["name"]["const"]: b["then"]["properties"]["options"]["$ref"]
                for b in schema["$defs"]["tool"]["allOf"]}
    # what is installed (a fresh registry): tests running before this one may register plugins in this process
    assert set(branches) == set(PluginRegistry().names())
    file_options = schema["$defs"]["plugin.file"]
    assert file_options["properties"]["mode"]["default"] == "0644"
    assert "relative to the config's folder" in file_options["properties"]["path"]["description"]


def test_a_plugin_s_options_alone(tmp_path):
    dtm = Path(sys.executable).with_name("dtm")
    out = tmp_path / "file.json"
    subprocess.run([str(dtm), "schema", "--plugin", "file", "-o", str(out)], check=True)
    document = json.loads(out.read_text())
    assert document["title"] == "FileOptions" and document["required"] == ["path"]


@pytest.mark.parametrize("example", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").rglob("*.yaml")
                                           if "templates" not in p.parts))
def test_the_examples_validate(example):
    assert problems(ROOT / example) == []


def test_mistakes_an_editor_shows(schema, tmp_path):
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({"tools": [
        {"name": "file", "instanceID": "readme", "options": {"pth": "README.md", "content": "hi"}},
        {"name": "noop", "instanceID": "slow", "options": {"latency_ms": "[[ ms ]]"}},  # an expression: fine
        {"name": "noop", "instanceID": "typo", "options": {"latency_ms": "soon"}},
    ]}))
    found = problems(config)
    assert any("tools/0/options: Additional properties are not allowed ('pth' was unexpected)" in p for p in found)
    assert any("tools/0/options: 'path' is a required property" in p for p in found)
    assert any("tools/2/options/latency_ms" in p for p in found)
    assert not any("tools/1" in p for p in found)


def test_an_unquoted_template_reads_as_yaml_lists_and_is_accepted(tmp_path):
    config = tmp_path / "dtm.yaml"
    config.write_text("vars: {ms: 5}\ntools:\n- name: noop\n  instanceID: a\n  options:\n    latency_ms: [[ ms ]]\n")
    assert problems(config) == []


def test_the_readme_shows_the_modeline():
    assert "# yaml-language-server: $schema=" in (ROOT / "README.md").read_text()
