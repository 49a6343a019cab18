"""`dtm import` of GitHub resources made by hand, through dtm's entry point against the GitHub stand-in:
the next plan shows only what really differs from the config, and destroy leaves what dtm did not make."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from github_standin import GitHubStandIn, Secret
from github_testkit import TOKEN

pytestmark = pytest.mark.usefixtures("prefect_server")

PASSWORD = "dckr_pat_import_s3cr3t"
WORKFLOW = "name: [[ AppName ]]\non: [push]\njobs: {build: {runs-on: ubuntu-latest, steps: [{run: make}]}}\n"
PATH = ".github/workflows/ci.yml"


def test_imported_workflows_plan_only_the_missing_secret_and_destroy_leaves_them(
        serve_standin: GitHubStandIn, dtm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTM_TEST_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("IMAGE_REPO_PASSWORD", PASSWORD)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(WORKFLOW)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "github-actions", "instanceID": "web", "options": {
            "scm": {"scmType": "github", "owner": "octo", "name": "web",
                    "token": '[[ env "DTM_TEST_GITHUB_TOKEN" ]]'},
            "pipeline": {"configLocation": "workflows",
                         "imageRepo": {"user": "octo", "password": '[[ env "IMAGE_REPO_PASSWORD" ]]'}}}}]}))
    # Made by hand before dtm: the workflow as the config renders it, one of the two secrets.
    rendered = WORKFLOW.replace("[[ AppName ]]", "web").encode()
    serve_standin.add_repo("octo/web", files={"README.md": b"# web\n", PATH: rendered})
    when = "2026-01-01T00:00:00Z"
    serve_standin.repo("octo/web").secrets["IMAGE_REPO_USER"] = Secret("sealed by hand", when, when)

    code, _, err = dtm("import", "-f", str(config), "github-actions.web", "octo/other")
    assert code == 1 and "octo/other is not the repository github-actions.web describes (octo/web)" in err
    code, out, err = dtm("import", "-f", str(config), "github-actions.web", "octo/web")
    assert code == 0, err

    code, out, _ = dtm("plan", "-f", str(config), "--json")
    (change,) = json.loads(out)["changes"]
    assert (change["action"], change["reason"]) == ("update", "drifted: status.secrets")  # the missing one only
    assert PASSWORD not in out and TOKEN not in out
    assert dtm("apply", "-f", str(config), "-y")[0] == 0
    assert serve_standin.secret_value("octo/web", "IMAGE_REPO_PASSWORD") == PASSWORD
    code, out, _ = dtm("plan", "-f", str(config), "--json")
    assert json.loads(out)["changes"] == []

    assert dtm("destroy", "-f", str(config), "-y")[0] == 0
    assert serve_standin.files("octo/web")[PATH] == rendered  # adopted: not dtm's to delete
    assert "IMAGE_REPO_USER" in serve_standin.repo("octo/web").secrets
