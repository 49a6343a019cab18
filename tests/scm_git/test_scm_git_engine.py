"""repo-scaffolding and ci-generic through the engine (Prefect flows, local state) on file:// remotes:
apply, apply again, a hand edit put back, an update that keeps the repository, destroy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from scm_git_helpers import hand_edit, history, remote_files, write_tree

from devstream.cli import run

pytestmark = pytest.mark.usefixtures("prefect_server")
EXAMPLES = Path(__file__).parents[2] / "examples"


def plan_changes(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert run.plan(config_path=config, json_out=True) == 0
    return json.loads(capsys.readouterr().out)["changes"]


def test_an_app_on_a_git_remote_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path / "templates" / "svc", {
        "README.md.tpl": "# [[ AppName ]] on port [[ port ]]\n",
        "src/_app_name_/main.py": "print('hello')\n",
    })
    write_tree(tmp_path / "ci", {"build.yml": "name: build [[ app ]]\n"})
    remote = tmp_path / "remotes" / "shop.git"
    config = tmp_path / "apps.yaml"

    def write(port: int) -> None:
        config.write_text(yaml.safe_dump({
            "config": {"state": {"backend": "local"}},
            "apps": [{
                "name": "shop",
                "spec": {"language": "python", "framework": "flask"},
                "repo": {"scmType": "git", "url": remote.as_uri()},
                "repoTemplate": {"url": "./templates/svc", "vars": {"port": port}},
                "ci": [{"type": "ci-generic",
                        "options": {"ci": {"type": "github", "configLocation": "ci", "vars": {"app": "shop"}}}}],
            }],
        }, sort_keys=False))

    write(8080)
    assert run.apply(config_path=config, yes=True) == 0
    expected = {"README.md": b"# shop on port 8080\n", "src/shop/main.py": b"print('hello')\n",
                ".github/workflows/build.yml": b"name: build shop\n"}
    assert remote_files(remote) == expected
    assert len(history(remote)) == 2  # the scaffold, then the CI file
    root = history(remote)[-1]

    capsys.readouterr()
    assert run.apply(config_path=config, yes=True) == 0
    assert "No changes." in capsys.readouterr().out
    assert plan_changes(config, capsys) == []

    hand_edit(remote, tmp_path / "edit", {"README.md": "# vandalised\n", ".github/workflows/build.yml": None})
    changes = plan_changes(config, capsys)
    assert [(c["key"], c["action"], c["reason"]) for c in changes] == [
        ("repo-scaffolding.shop", "update", "drifted: status.files.README.md"),
        # its one CI file gone, nothing of ci-generic's is left: deleted outside dtm, so created again
        ("ci-generic.shop", "create", "deleted outside dtm"),
    ]
    assert run.apply(config_path=config, yes=True) == 0
    assert remote_files(remote) == expected
    assert plan_changes(config, capsys) == []

    write(9090)  # a var change: an update in a new commit, on the same repository
    assert [(c["key"], c["action"]) for c in plan_changes(config, capsys)] == [("repo-scaffolding.shop", "update")]
    assert run.apply(config_path=config, yes=True) == 0
    assert remote_files(remote)["README.md"] == b"# shop on port 9090\n"
    assert history(remote)[-1] == root
    assert plan_changes(config, capsys) == []

    assert run.destroy(config_path=config, yes=True) == 0
    assert not remote.exists()  # dtm created it, so dtm removes it
    assert (tmp_path / "devstream.state").read_text() == ""


def test_tools_wired_by_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path / "tpl", {"app.txt.tpl": "[[ AppName ]]\n"})
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [
            {"name": "repo-scaffolding", "instanceID": "web",
             "options": {"sourceRepo": "tpl",
                         "destinationRepo": {"scmType": "git", "url": "build/web.git", "name": "web"}}},
            # the CI goes to whatever repository the scaffolding made: an output reference, so a dependency
            {"name": "ci-generic", "instanceID": "web",
             "options": {"projectRepo": {"scmType": "git", "url": "${{ repo-scaffolding.web.outputs.cloneURL }}"},
                         "ci": {"type": "gitlab", "configContents": {"ci.yml": "stages: [test]\n"}}}},
        ],
    }, sort_keys=False))

    assert run.apply(config_path=config, yes=True) == 0
    remote = tmp_path / "build" / "web.git"
    assert remote_files(remote) == {"app.txt": b"web\n", ".gitlab-ci.yml": b"stages: [test]\n"}
    assert plan_changes(config, capsys) == []

    assert run.destroy(config_path=config, yes=True) == 0
    assert not remote.exists()


def test_the_offline_apps_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(EXAMPLES / "apps", tmp_path / "apps", ignore=shutil.ignore_patterns("build", "*.state*"))
    config = tmp_path / "apps" / "apps.yaml"
    remote = tmp_path / "apps" / "build" / "repos" / "flask-service.git"

    assert run.apply(config_path=config, yes=True) == 0
    files = remote_files(remote)
    assert sorted(files) == [".github/workflows/ci.yml", "Dockerfile", "README.md", "app.py",
                             "helm/flask-service/Chart.yaml", "helm/flask-service/values.yaml", "requirements.txt"]
    assert files["README.md"].startswith(b"# flask-service\n\nA flask-service Flask service, owned by platform-team.")
    assert b'app = Flask("flask-service")' in files["app.py"] and b"port=8080" in files["app.py"]
    assert b'python-version: "3.12"' in files[".github/workflows/ci.yml"]
    assert b"${{ github.repository }}" in files[".github/workflows/ci.yml"]  # GitHub's own expressions pass

    capsys.readouterr()
    assert run.apply(config_path=config, yes=True) == 0
    assert "No changes." in capsys.readouterr().out

    assert run.destroy(config_path=config, yes=True) == 0
    assert not remote.exists()
    assert (tmp_path / "apps" / "build" / "apps.state").read_text() == ""
