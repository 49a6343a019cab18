"""`dtm import` of GitHub resources made by hand, through the CLI's functions against the GitHub stand-in (handed
to them as the client factory): the next plan shows only what really differs from the config, and destroy leaves
what dtm did not make."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from github_standin import GitHubStandIn, Secret
from github_testkit import TOKEN

from devstream.cli import run, state_cmds
from devstream.errors import DtmError
from devstream.executor import ClientFactory

pytestmark = pytest.mark.usefixtures("prefect_server")

PASSWORD = "dckr_pat_import_s3cr3t"
WORKFLOW = "name: [[ AppName ]]\non: [push]\njobs: {build: {runs-on: ubuntu-latest, steps: [{run: make}]}}\n"
PATH = ".github/workflows/ci.yml"


def test_imported_workflows_plan_only_the_missing_secret_and_destroy_leaves_them(
        standin: GitHubStandIn, engine_clients: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
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
    standin.add_repo("octo/web", files={"README.md": b"# web\n", PATH: rendered})
    when = "2026-01-01T00:00:00Z"
    standin.repo("octo/web").secrets["IMAGE_REPO_USER"] = Secret("sealed by hand", when, when)

    with pytest.raises(DtmError) as refused:
        state_cmds.import_resource(config_path=config, key="github-actions.web", resource_id="octo/other",
                                   client_factory=engine_clients)
    assert "octo/other is not the repository github-actions.web describes (octo/web)" in str(refused.value)
    assert state_cmds.import_resource(config_path=config, key="github-actions.web", resource_id="octo/web",
                                      client_factory=engine_clients) == 0
    capsys.readouterr()

    assert run.plan(config_path=config, json_out=True, client_factory=engine_clients) == 0
    out = capsys.readouterr().out
    (change,) = json.loads(out)["changes"]
    assert (change["action"], change["reason"]) == ("update", "drifted: status.secrets")  # the missing one only
    assert PASSWORD not in out and TOKEN not in out
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.secret_value("octo/web", "IMAGE_REPO_PASSWORD") == PASSWORD
    capsys.readouterr()
    assert run.plan(config_path=config, json_out=True, client_factory=engine_clients) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []

    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/web")[PATH] == rendered  # adopted: not dtm's to delete
    assert "IMAGE_REPO_USER" in standin.repo("octo/web").secrets
