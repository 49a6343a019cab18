"""The README's quickstart, run the way a user runs it: apply, apply again, plan, destroy."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from devstream.cli import run

EXAMPLES = Path(__file__).parents[2] / "examples"
pytestmark = pytest.mark.usefixtures("prefect_server")


def test_the_quickstart_creates_converges_and_destroys(tmp_path, capsys):
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("build", "*.state*"))
    config = tmp_path / "examples" / "quickstart.yaml"
    built = tmp_path / "examples" / "build" / "demo-service"

    assert run.apply(config_path=config, yes=True) == 0
    assert (built / "README.md").read_text().startswith("# demo-service")
    ci = (built / "ci.yml").read_text()
    assert "image: registry.example.internal/demo-service:latest" in ci  # an output, rendered in a template
    # The app: a git repository scaffolded from the template, with its workflow.
    repo = tmp_path / "examples" / "build" / "repos" / "demo-service.git"
    files = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", "HEAD"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert "app.py" in files and ".github/workflows/ci.yml" in files

    capsys.readouterr()
    assert run.apply(config_path=config, yes=True) == 0
    assert "No changes." in capsys.readouterr().out

    assert run.plan(config_path=config, json_out=True) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []

    assert run.destroy(config_path=config, yes=True) == 0
    assert not (built / "README.md").exists() and not (built / "ci.yml").exists()
    assert not repo.exists()  # dtm created that repository, so destroy removed it
    assert (tmp_path / "examples" / "quickstart.state").read_text() == ""
