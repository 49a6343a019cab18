"""Templates are untrusted input: one that reaches for Python's internals fails its change, and runs nothing.

CI files and repository templates come from URLs, git remotes and third parties' repositories, so a template
that tries `{{ lipsum.__globals__['os'].system(...) }}` is an attack on the machine running dtm. Each test
runs the installed `dtm apply` (the console script, in its own process) against the session's Prefect
server, and checks that the command in the template did NOT run, and that the error names the template and
its line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.usefixtures("prefect_server")

DTM = str(Path(sys.executable).parent / "dtm")


def dtm_apply(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([DTM, "apply", "-f", str(config), "-y"], cwd=config.parent, env=env, capture_output=True,
                          text=True, timeout=300)


def write_config(folder: Path, tools: list[dict]) -> Path:
    config = folder / "dtm.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": tools}, sort_keys=False))
    return config


def state_keys(config: Path) -> set[str]:
    path = config.parent / "devstream.state"
    return set(yaml.safe_load(path.read_text()) or {}) if path.exists() else set()


def test_a_file_template_reaching_for_os_fails_naming_its_line_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "evil.j2").write_text(
        "title: {{ title }}\n"
        f"{{{{ lipsum.__globals__['os'].system('touch {marker}') }}}}\n")
    config = write_config(tmp_path, [
        {"name": "file", "instanceID": "evil", "options": {"path": "out.txt", "template": "evil.j2",
                                                          "vars": {"title": "x"}}},
    ])

    done = dtm_apply(config)

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert not marker.exists(), "the template ran a command"
    assert f"{tmp_path / 'evil.j2'}:2" in output  # the template and the line
    assert "unsafe access refused" in output and "__globals__" in output
    assert not (tmp_path / "out.txt").exists()
    assert state_keys(config) == set()


def test_a_ci_file_reaching_for_a_class_fails_naming_its_line_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    repo = tmp_path / "app.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(repo)], check=True)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "build.yml").write_text(
        "name: [[ AppName ]]\n"
        "on: push\n"
        "# [[ ''.__class__.__mro__[1].__subclasses__() ]]\n"
        f"# [[ cycler.__init__.__globals__.os.system('touch {marker}') ]]\n")
    config = write_config(tmp_path, [
        {"name": "ci-generic", "instanceID": "app", "options": {
            "ci": {"type": "generic", "configLocation": "ci"},
            "projectRepo": {"scmType": "git", "url": "app.git", "name": "app"}}},
    ])

    done = dtm_apply(config)

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert not marker.exists(), "the CI file ran a command"
    assert "ci file build.yml:3" in output, output  # where the file came from, and the line
    assert "unsafe access refused" in output and "__class__" in output
    heads = subprocess.run(["git", "--git-dir", str(repo), "for-each-ref"], capture_output=True, text=True,
                           check=True).stdout
    assert heads == ""  # nothing was pushed
    assert state_keys(config) == set()
