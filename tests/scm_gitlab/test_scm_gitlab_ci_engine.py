"""gitlab-ci through the whole engine: `dtm apply` / `dtm destroy` (the CLI's functions, real Prefect flow
runs on the session's test server, local state on disk) against the stand-in GitLab.

The stand-in is handed to the engine as the workspace's client factory (`client_factory=`), which builds
every plugin context's `ctx.http_client`: plugins, the engine and the flows run unchanged, and nothing is
patched.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
import yaml
from gitlab_standin import GitLabStandIn

from devstream.cli import run
from devstream.engine import Workspace
from devstream.plan import Action
from devstream.plugins.scm.base import git_blob_sha

pytestmark = pytest.mark.usefixtures("prefect_server")

BASE_URL = "https://git.example.internal"
TOKEN = "glpat-engine-test-9876543210"
DEPLOY_TOKEN = "deploy-s3cr3t-value-42"
CI_TEMPLATE = "build:\n  image: [[ image ]]\n  script: [make, echo [[ AppName ]]]\n"
CI_RENDERED = b"build:\n  image: python:3.12\n  script: [make, echo web]\n"


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> GitLabStandIn:
    gitlab = GitLabStandIn(BASE_URL, token=TOKEN)
    gitlab.add_project("acme/web", {"app.py": b"print('hi')\n"}, branch="master")
    monkeypatch.setenv("DTM_TEST_GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv("DTM_TEST_DEPLOY_TOKEN", DEPLOY_TOKEN)
    return gitlab


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / ".gitlab-ci.yml").write_text(CI_TEMPLATE)
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{
            "name": "gitlab-ci",
            "instanceID": "web",
            "options": {
                "scm": {"scmType": "gitlab", "org": "acme", "name": "web", "branch": "master",
                        "baseURL": BASE_URL, "token": '[[ env "DTM_TEST_GITLAB_TOKEN" ]]'},
                "pipeline": {"configLocation": "ci/.gitlab-ci.yml", "vars": {"image": "python:3.12"},
                             "variables": {"DEPLOY_TOKEN": '[[ env "DTM_TEST_DEPLOY_TOKEN" ]]'}},
            },
        }],
    }, sort_keys=False))
    return path



def test_apply_converges_drift_is_put_back_and_destroy_cleans_up(standin: GitLabStandIn, config: Path) -> None:
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0

    assert standin.file("acme/web", ".gitlab-ci.yml", "master") == CI_RENDERED
    deploy = standin.variable("acme/web", "DEPLOY_TOKEN")
    assert deploy is not None and deploy["value"] == DEPLOY_TOKEN and deploy["masked"] is True
    state_text = (config.parent / "devstream.state").read_text()
    state = yaml.safe_load(state_text)
    assert state["gitlab-ci_web"]["resourceStatus"]["files"] == {".gitlab-ci.yml": git_blob_sha(CI_RENDERED)}
    assert TOKEN not in state_text and DEPLOY_TOKEN not in state_text  # secrets are fingerprints in state
    assert standin.hosts() == {"git.example.internal"}  # never gitlab.com

    # Applying again: nothing to do, no commit.
    commits = standin.project("acme/web").commits
    assert Workspace.open(config, client_factory=standin.client_factory).current_plan().empty
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.project("acme/web").commits == commits

    # A hand edit in GitLab is drift; apply puts the file back.
    standin.edit("acme/web", ".gitlab-ci.yml", b"build: {script: [rm -rf /]}\n", "master")
    drift = Workspace.open(config, client_factory=standin.client_factory).current_plan()
    assert [(c.key, c.action) for c in drift.changes] == [("gitlab-ci.web", Action.UPDATE)]
    assert run.verify(config_path=config, client_factory=standin.client_factory) == 2
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.file("acme/web", ".gitlab-ci.yml", "master") == CI_RENDERED
    assert Workspace.open(config, client_factory=standin.client_factory).current_plan().empty

    # Destroy removes the file and the variable, and forgets the tool.
    assert run.destroy(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.file("acme/web", ".gitlab-ci.yml", "master") is None
    assert standin.file("acme/web", "app.py", "master") == b"print('hi')\n"
    assert standin.project("acme/web").variables == []
    assert not (yaml.safe_load((config.parent / "devstream.state").read_text()) or {})
    assert standin.hosts() == {"git.example.internal"}


def test_a_project_deleted_behind_dtms_back_is_planned_as_a_create(standin: GitLabStandIn, config: Path) -> None:
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0

    del standin.projects["acme/web"]

    planned = Workspace.open(config, client_factory=standin.client_factory).current_plan().changes
    assert [(c.key, c.action) for c in planned] == [("gitlab-ci.web", Action.CREATE)]
    # The project is gone: delete is a success.
    assert run.destroy(config_path=config, client_factory=standin.client_factory, yes=True) == 0


def move(config: Path, **scm: str) -> None:
    """Point the tool's `scm` elsewhere in the config file."""
    data = yaml.safe_load(config.read_text())
    data["tools"][0]["options"]["scm"].update(scm)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def test_moving_the_tool_to_another_project_leaves_the_old_one_as_it_is_and_warns(
        standin: GitLabStandIn, config: Path, caplog: pytest.LogCaptureFixture) -> None:
    standin.add_project("acme/shop", {"shop.py": b"print('shop')\n"}, branch="master")
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    commits = standin.project("acme/web").commits

    # Applying twice: no change, no commit (the recorded project and branch read back the same).
    assert Workspace.open(config, client_factory=standin.client_factory).current_plan().empty
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.project("acme/web").commits == commits

    # scm now names acme/shop. The update gets the record of acme/web, whose token may not be this one: dtm
    # leaves acme/web as it is and says what is left there.
    web = copy.deepcopy((standin.project("acme/web").branches, standin.project("acme/web").variables))
    move(config, name="shop")
    caplog.set_level(logging.WARNING)
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0

    assert (standin.project("acme/web").branches, standin.project("acme/web").variables) == web
    assert standin.project("acme/web").commits == commits
    shop_ci = b"build:\n  image: python:3.12\n  script: [make, echo shop]\n"  # AppName is the project's name
    assert standin.file("acme/shop", ".gitlab-ci.yml", "master") == shop_ci
    deploy = standin.variable("acme/shop", "DEPLOY_TOKEN")
    assert deploy is not None and deploy["value"] == DEPLOY_TOKEN
    warnings = [r.getMessage() for r in caplog.records if "moved from" in r.getMessage()]
    assert len(warnings) == 1
    assert ("moved from https://git.example.internal/acme/web (branch master) to "
            "https://git.example.internal/acme/shop (branch master)") in warnings[0]
    assert "the file .gitlab-ci.yml and the CI/CD variables DEPLOY_TOKEN" in warnings[0]
    status = yaml.safe_load((config.parent / "devstream.state").read_text())["gitlab-ci_web"]["resourceStatus"]
    assert (status["gitlab"], status["project"], status["branch"]) == (BASE_URL, "acme/shop", "master")
    assert Workspace.open(config, client_factory=standin.client_factory).current_plan().empty


def test_a_record_from_before_dtm_kept_the_project_is_not_drift_and_changes_nothing(
        standin: GitLabStandIn, config: Path) -> None:
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    state_file = config.parent / "devstream.state"
    state = yaml.safe_load(state_file.read_text())
    for field in ("gitlab", "project", "branch"):  # as a dtm from before this change recorded it
        del state["gitlab-ci_web"]["resourceStatus"][field]
    state_file.write_text(yaml.safe_dump(state))
    project = copy.deepcopy(standin.project("acme/web"))

    assert Workspace.open(config, client_factory=standin.client_factory).current_plan().empty
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.project("acme/web") == project
