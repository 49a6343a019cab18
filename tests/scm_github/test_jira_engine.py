"""jira through the engine: `dtm apply`, `plan`, `drift` and `destroy` (the CLI's functions, real Prefect flow
runs, local state) on DevStream's sample config, against the Jira and GitHub stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from jira_standin import JiraStandIn

from devstream.cli import drift, run
from devstream.engine import Workspace
from devstream.executor import ClientFactory

pytestmark = pytest.mark.usefixtures("prefect_server")

JIRA_TOKEN = "jira-engine-token-0b9d"
WORKFLOW = ".github/workflows/jiraIssueBuilder.yml"


@pytest.fixture
def jira(standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch) -> JiraStandIn:
    jira = JiraStandIn(host="merico.atlassian.net", email="dev@merico.dev", token=JIRA_TOKEN)
    jira.add_project("HEAP")
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    monkeypatch.setenv("GITHUB_TOKEN_FOR_DTM", TOKEN)
    monkeypatch.setenv("JIRA_TOKEN_FOR_DTM", JIRA_TOKEN)
    return jira


@pytest.fixture
def engine_clients(standin: GitHubStandIn, jira: JiraStandIn) -> ClientFactory:
    """The engine's client factory: GitHub's and Jira's stand-ins behind one transport."""
    return Hosts({"api.github.com": standin.handler, jira.host: jira.handler}).client_factory()


def config(tmp_path: Path, name: str = "jira") -> Path:
    path = tmp_path / "dtm.yaml"
    path.write_text(f"""
config:
  state:
    backend: local
tools:
- name: {name}
  instanceID: default
  dependsOn: [ ]
  options:
    scm:
      owner: octo
      name: shop
      scmType: github
      token: [[ env GITHUB_TOKEN_FOR_DTM ]]
    jira:
      token: [[ env JIRA_TOKEN_FOR_DTM ]]
      baseURL: https://merico.atlassian.net
      userEmail: dev@merico.dev
      projectKey: HEAP
""")
    return path


@pytest.mark.parametrize("name", ["jira", "jira-github-integ"])
def test_apply_plan_drift_and_destroy(
        jira: JiraStandIn, engine_clients: ClientFactory, standin: GitHubStandIn, tmp_path: Path, name: str) -> None:
    path = config(tmp_path, name)
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    assert standin.secret_value("octo/shop", "JIRA_API_TOKEN") == JIRA_TOKEN
    state = (tmp_path / "devstream.state").read_text()
    assert JIRA_TOKEN not in state and TOKEN not in state
    assert drift.drift(config_path=path, client_factory=engine_clients) == 0

    del standin.repo("octo/shop").secrets["JIRA_API_TOKEN"]  # removed by hand on GitHub
    (change,) = Workspace.open(path, client_factory=engine_clients).current_plan().changes
    assert change.action == "update" and "secrets" in change.reason
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    assert standin.secret_value("octo/shop", "JIRA_API_TOKEN") == JIRA_TOKEN
    assert Workspace.open(path, client_factory=engine_clients).current_plan().empty

    assert run.destroy(config_path=path, yes=True, client_factory=engine_clients) == 0
    assert WORKFLOW not in standin.files("octo/shop") and standin.repo("octo/shop").secrets == {}


def test_a_project_that_does_not_exist_fails_the_apply_and_nothing_is_recorded(
        jira: JiraStandIn, engine_clients: ClientFactory, standin: GitHubStandIn, tmp_path: Path, capsys:
        pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    path.write_text(path.read_text().replace("projectKey: HEAP", "projectKey: NOPE"))
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 1
    assert "no project NOPE" in capsys.readouterr().out
    assert standin.repo("octo/shop").secrets == {}
