"""trello through the engine: `dtm apply`, `plan`, `drift` and `destroy` (the CLI's functions, real Prefect flow
runs, local state) on a config as DevStream wrote it, against the Trello and GitHub stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from trello_standin import API, TrelloStandIn

from devstream.cli import drift, run
from devstream.engine import Workspace
from devstream.executor import ClientFactory

pytestmark = pytest.mark.usefixtures("prefect_server")

KEY, TRELLO_TOKEN = "trello-engine-key-5d1e", "trello-engine-token-77ab"


@pytest.fixture
def trello(standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch) -> TrelloStandIn:
    trello = TrelloStandIn(key=KEY, token=TRELLO_TOKEN)
    standin.add_repo("octo/dtm-e2e-go", files={"README.md": b"# e2e\n"})
    for name, value in (("GITHUB_TOKEN_FOR_DTM", TOKEN), ("TRELLO_API_KEY", KEY), ("TRELLO_TOKEN", TRELLO_TOKEN)):
        monkeypatch.setenv(name, value)
    return trello


@pytest.fixture
def engine_clients(standin: GitHubStandIn, trello: TrelloStandIn) -> ClientFactory:
    """The engine's client factory: GitHub's and Trello's stand-ins behind one transport."""
    return Hosts({"api.github.com": standin.handler, API.host: trello.handler}).client_factory()


def config(tmp_path: Path, name: str = "trello") -> Path:
    """DevStream's e2e config for the trello plugin, as it was (under the tool name given)."""
    path = tmp_path / "dtm.yaml"
    path.write_text(f"""
config:
  state:
    backend: local
    options:
      stateFile: devstream.state
vars:
  githubOrganization: octo
  repoName: dtm-e2e-go
  kanbanBoardName: dtmKanbanTest
tools:
- name: {name}
  instanceID: default
  dependsOn: [ ]
  options:
    scm:
      org: [[ githubOrganization ]]
      name: [[ repoName ]]
      scmType: github
      token: [[ env GITHUB_TOKEN_FOR_DTM ]]
    board:
      name: [[ kanbanBoardName ]]
      apikey: [[ env TRELLO_API_KEY ]]
      token: [[ env TRELLO_TOKEN ]]
""")
    return path


def test_apply_plan_drift_and_destroy(
        trello: TrelloStandIn, engine_clients: ClientFactory, standin: GitHubStandIn, tmp_path: Path) -> None:
    path = config(tmp_path)
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    (board,) = trello.boards.values()
    assert board.name == "dtmKanbanTest"
    assert standin.secret_value("octo/dtm-e2e-go", "TRELLO_BOARD_ID") == board.id
    state = (tmp_path / "devstream.state").read_text()
    assert board.id in state and KEY not in state and TRELLO_TOKEN not in state
    assert Workspace.open(path, client_factory=engine_clients).current_plan().empty
    assert drift.drift(config_path=path, client_factory=engine_clients) == 0

    board.closed = True  # closed by hand in Trello
    assert drift.drift(config_path=path, client_factory=engine_clients) == 2
    (change,) = Workspace.open(path, client_factory=engine_clients).current_plan().changes
    assert change.action == "update" and "board.closed" in change.reason
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    assert board.closed is False and Workspace.open(path, client_factory=engine_clients).current_plan().empty

    assert run.destroy(config_path=path, yes=True, client_factory=engine_clients) == 0
    assert board.closed is True
    assert standin.repo("octo/dtm-e2e-go").secrets == {}


def test_the_older_name_applies_the_same(trello: TrelloStandIn, engine_clients: ClientFactory, tmp_path: Path) -> None:
    path = config(tmp_path, "trello-github-integ")
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    assert [b.name for b in trello.boards.values()] == ["dtmKanbanTest"]
    assert run.destroy(config_path=path, yes=True, client_factory=engine_clients) == 0


def test_a_tool_taken_out_of_the_config_is_deleted_with_the_credentials_from_the_environment(
        trello: TrelloStandIn, engine_clients: ClientFactory, standin: GitHubStandIn, tmp_path: Path, monkeypatch:
        pytest.MonkeyPatch) -> None:
    """State keeps only fingerprints of the secrets; the plugin takes them from TRELLO_API_KEY, TRELLO_TOKEN and
    GITHUB_TOKEN."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    path = config(tmp_path)
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    doc = yaml.safe_load(path.read_text().replace("[[", "'[[").replace("]]", "]]'"))
    doc["tools"] = [{"name": "noop", "instanceID": "left", "options": {}}]
    path.write_text(yaml.safe_dump(doc))
    assert run.apply(config_path=path, yes=True, client_factory=engine_clients) == 0
    (board,) = trello.boards.values()
    assert board.closed is True and standin.repo("octo/dtm-e2e-go").secrets == {}
