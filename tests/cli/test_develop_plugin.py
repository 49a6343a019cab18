"""A new plugin, from `dtm develop create-plugin` to applied: the package it writes installs into a fresh
virtual environment, its own tests (dtm's conformance suite) pass there, `dtm develop validate-plugin` passes
it, and `dtm apply` uses it against its API served on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from plugin_packages import DTM, create_plugin, fresh_venv, items_api, run, serve_items

from devstream.testing import CHECKS

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_create_install_test_validate_and_apply_a_new_plugin(tmp_path: Path) -> None:
    package = create_plugin("hello-world", tmp_path / "src")
    assert {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()} == {
        "pyproject.toml", "README.md", "src/dtm_plugin_hello_world/__init__.py",
        "src/dtm_plugin_hello_world/plugin.py", "src/dtm_plugin_hello_world/testing.py",
        "tests/test_conformance.py"}
    assert '[project.entry-points."devstream.plugins"]\nhello-world = ' in (package / "pyproject.toml").read_text()

    python = fresh_venv(tmp_path / "venv")
    done = run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", package)
    assert done.returncode == 0, done.stdout + done.stderr

    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests", cwd=package)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert f"{len(CHECKS)} passed" in tests.stdout and "skipped" not in tests.stdout

    validated = run(python, "-m", "devstream", "develop", "validate-plugin", "hello-world")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "passes the conformance suite" in validated.stdout and "skipped" not in validated.stdout
    # The plugin is installed in the fresh environment only.
    assert run(DTM, "develop", "validate-plugin", "hello-world").returncode == 1

    api = items_api(package)
    with serve_items(api) as url:
        config = tmp_path / "dtm.yaml"
        config.write_text(yaml.safe_dump({
            "config": {"state": {"backend": "local"}},
            "tools": [{"name": "hello-world", "instanceID": "demo", "options": {
                "baseURL": url, "token": "[[ env \"ITEMS_TOKEN\" ]]", "item": "demo", "labels": {"team": "a"}}}]}))
        env = {**os.environ, "ITEMS_TOKEN": api.token}
        applied = run(python, "-m", "devstream", "apply", "-f", config, "-y", env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert api.items == {"demo": {"name": "demo", "id": 1, "labels": {"team": "a"}}}
        planned = run(python, "-m", "devstream", "plan", "-f", config, "--detailed-exitcode", env=env)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        # The generated plugin implements the import hook: forget the item, adopt it again, nothing to change.
        assert run(python, "-m", "devstream", "state", "rm", "hello-world.demo", "-f", config,
                   env=env).returncode == 0
        imported = run(python, "-m", "devstream", "import", "hello-world.demo", "demo", "-f", config, env=env)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        planned = run(python, "-m", "devstream", "plan", "-f", config, "--detailed-exitcode", env=env)
        assert planned.returncode == 0, planned.stdout + planned.stderr
    assert api.token not in (tmp_path / "devstream.state").read_text()
