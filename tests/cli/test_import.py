"""`dtm import -f PATH KEY ID`: adopting what already exists, as a Terraform user does.

The plugin reads the resource by its ID (a file's path, a repository), the record is written as if dtm had
created it from the config's options, and the next plan shows only what really differs. An imported
resource is not dtm's to delete unless `--owned` says so. `dtm(...)` runs dtm's real entry point in this
process; the file story runs on both state backends.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.usefixtures("prefect_server")  # apply runs a flow, whichever backend holds the state


def write_config(folder: Path, tools: list[dict[str, Any]], backend: str = "local") -> Path:
    state = {"backend": "local"} if backend == "local" else {"backend": "prefect",
                                                             "options": {"name": f"import-{uuid.uuid4().hex[:8]}"}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": state}, "tools": tools}, sort_keys=False))
    return path


def readme(content: str) -> dict[str, Any]:
    return {"name": "file", "instanceID": "readme", "options": {"path": "out/README.md", "content": content}}


NOOP = {"name": "noop", "instanceID": "after", "options": {"triggers": {"sha": "${{ file.readme.outputs.sha256 }}"}}}


def existing_file(folder: Path, content: str) -> Path:
    path = folder / "out" / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(0o644)
    return path


def planned(dtm, config: Path) -> list[tuple[str, str, str]]:
    code, out, err = dtm("plan", "-f", str(config), "--json")
    assert code == 0, err
    return [(c["key"], c["action"], c["reason"]) for c in json.loads(out)["changes"]]


@pytest.mark.parametrize("backend", ["local", "prefect"])
def test_an_imported_file_that_matches_the_config_is_no_change_and_destroy_leaves_it(dtm, tmp_path: Path,
                                                                                    backend: str) -> None:
    made_by_hand = existing_file(tmp_path, "hi\n")
    config = write_config(tmp_path, [readme("hi\n"), NOOP], backend)
    assert ("file.readme", "create", "not in state") in planned(dtm, config)

    code, out, err = dtm("import", "-f", str(config), "file.readme", "out/README.md")
    assert code == 0, err
    assert "Imported out/README.md as file.readme; dtm did not create it, so delete and destroy leave it" in out

    assert planned(dtm, config) == [("noop.after", "create", "not in state")]  # the file is as the config says
    code, out, _ = dtm("state", "show", "file.readme", "-f", str(config), "--json")
    assert json.loads(out)["options"] == {"path": "out/README.md", "content": "hi\n"}  # the config's, as if created
    code, _, err = dtm("import", "-f", str(config), "file.readme", "out/README.md")
    assert code == 1 and "file.readme is in the state already; `dtm state rm file.readme` first" in err

    assert dtm("apply", "-f", str(config), "-y")[0] == 0
    assert planned(dtm, config) == []
    code, out, err = dtm("destroy", "-f", str(config), "-y")
    assert code == 0, out + err
    assert made_by_hand.read_text() == "hi\n"  # not dtm's to delete
    assert json.loads(dtm("state", "list", "-f", str(config), "--json")[1]) == []


def test_an_imported_file_that_differs_is_planned_as_an_update_and_owned_goes_with_destroy(dtm,
                                                                                          tmp_path: Path) -> None:
    made_by_hand = existing_file(tmp_path, "written by hand\n")
    config = write_config(tmp_path, [readme("written by dtm\n")])

    code, out, err = dtm("import", "-f", str(config), "file.readme", str(made_by_hand), "--owned")
    assert code == 0 and "dtm owns it now: delete and destroy remove it" in out, err

    assert planned(dtm, config) == [("file.readme", "update", "drifted: status.sha256, status.outputs.sha256")]
    assert dtm("apply", "-f", str(config), "-y")[0] == 0
    assert made_by_hand.read_text() == "written by dtm\n"
    assert planned(dtm, config) == []
    assert dtm("destroy", "-f", str(config), "-y")[0] == 0
    assert not made_by_hand.exists()  # --owned: dtm's to delete


def test_import_says_what_it_cannot_do(dtm, tmp_path: Path) -> None:
    existing_file(tmp_path, "hi\n")
    ci = {"name": "ci-generic", "instanceID": "app", "options": {
        "ci": {"type": "generic", "configContents": {"ci.yml": "name: build\n"}},
        "projectRepo": {"scmType": "git", "url": "app.git", "name": "app"}}}
    config = write_config(tmp_path, [readme("hi\n"), ci])

    code, _, err = dtm("import", "-f", str(config), "file.readm", "out/README.md")
    assert code == 1 and "file.readm: no such tool in the config" in err and "did you mean file.readme?" in err
    code, _, err = dtm("import", "-f", str(config), "file.readme", "out/OTHER.md")
    assert code == 1 and "OTHER.md is not the file file.readme describes" in err and "out/README.md" in err
    code, _, err = dtm("import", "-f", str(config), "ci-generic.app", "app.git")
    assert code == 1 and "ci-generic.app: the ci-generic plugin cannot import an existing resource" in err
    (tmp_path / "out" / "README.md").unlink()
    code, _, err = dtm("import", "-f", str(config), "file.readme", "out/README.md")
    assert code == 1 and "nothing to import: out/README.md does not exist" in err and "the file's path" in err
    assert json.loads(dtm("state", "list", "-f", str(config), "--json")[1]) == []  # nothing written
    code, out, _ = dtm("show", "config", "-p", "file")
    assert "`dtm import KEY ID` takes as ID: the file's path" in out


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_an_existing_repository_is_imported_and_only_its_differing_file_is_planned(dtm, tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "README.md.tpl").write_text("# [[ AppName ]]\n")
    (template / "app.py").write_text("print('web')\n")
    # A repository made by hand before dtm: the template's files, one of them edited.
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=work)
    (work / "README.md").write_text("# web\n")
    (work / "app.py").write_text("print('edited by hand')\n")
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "by hand", cwd=work)
    git("clone", "--quiet", "--bare", str(work), str(tmp_path / "web.git"), cwd=tmp_path)
    scaffold = {"name": "repo-scaffolding", "instanceID": "web", "options": {
        "sourceRepo": "template", "destinationRepo": {"scmType": "git", "url": "web.git", "name": "web",
                                                      "branch": "main"}}}
    config = write_config(tmp_path, [scaffold])

    code, out, err = dtm("import", "-f", str(config), "repo-scaffolding.web", "web.git")
    assert code == 0, err
    assert planned(dtm, config) == [("repo-scaffolding.web", "update", "drifted: status.files.app.py")]
    assert dtm("apply", "-f", str(config), "-y")[0] == 0
    assert planned(dtm, config) == []
    assert dtm("destroy", "-f", str(config), "-y")[0] == 0
    assert (tmp_path / "web.git").is_dir()  # imported, so not dtm's to delete
