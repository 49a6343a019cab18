"""repo-scaffolding on GitHub through the engine: `dtm apply`/`destroy` (the CLI's functions, real Prefect flow
runs, local state) against the stand-in, handed to the engine as its client factory (the `engine_clients` fixture).

The story: `dtm destroy` takes away the repository dtm created, and only that one. What dtm created is
recorded in the tool's status (`created`) and handed back to the plugin by the engine on every later call.
So is the commit dtm wrote (`commit`): commits pushed on top of it leave the plan empty; a history rewritten
without it is drift, and the next apply pushes the rendered tree again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from plugin_calls import RENDERED, write_template

from devstream.cli import run
from devstream.engine import Workspace
from devstream.executor import ClientFactory
from devstream.plan import Action

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DTM_TEST_GITHUB_TOKEN", TOKEN)
    write_template(tmp_path)
    return write_config(tmp_path / "dtm.yaml", port=8080)


def write_config(path: Path, port: int) -> Path:
    tool = {"name": "repo-scaffolding", "instanceID": "shop", "options": {
        "sourceRepo": "template",
        "destinationRepo": {"scmType": "github", "owner": "octo", "name": "shop",
                            "token": '[[ env "DTM_TEST_GITHUB_TOKEN" ]]'},
        "vars": {"port": port}}}
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [tool]}, sort_keys=False))
    return path


def recorded(config: Path) -> dict[str, Any]:
    """The tool's status as the local state holds it."""
    state = yaml.safe_load((config.parent / "devstream.state").read_text()) or {}
    return state["repo-scaffolding_shop"]["resourceStatus"]


def planned(config: Path, clients: ClientFactory) -> list[tuple[str, Action, str]]:
    return [(c.key, c.action, c.reason) for c in Workspace.open(config, client_factory=clients).current_plan().changes]


def test_destroy_deletes_the_repository_dtm_created(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/shop") == RENDERED
    assert recorded(config)["created"] is True

    # Applying again: reading the repository back shows no drift, `created` included.
    assert planned(config, engine_clients) == []
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert len(standin.history("octo/shop")) == 1

    # A var change is an update of the same repository, which stays dtm's.
    write_config(config, port=9090)
    assert [(key, action) for key, action, _ in planned(config, engine_clients)] == [
        ("repo-scaffolding.shop", Action.UPDATE)]
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/shop")["app.py"] == b"PORT = 9090\n"
    assert recorded(config)["created"] is True
    assert planned(config, engine_clients) == []

    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert "octo/shop" not in standin.repos
    assert not yaml.safe_load((config.parent / "devstream.state").read_text())


def test_destroy_leaves_an_adopted_repository_with_its_content(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    standin.add_repo("octo/shop", files={"LICENSE": b"MIT\n"})

    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert recorded(config)["created"] is False
    assert planned(config, engine_clients) == []

    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/shop") == {"LICENSE": b"MIT\n", **RENDERED}
    assert standin.calls("DELETE") == []
    assert not yaml.safe_load((config.parent / "devstream.state").read_text())


def test_destroy_after_the_repository_was_deleted_outside_dtm(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    del standin.repos["octo/shop"]

    assert planned(config, engine_clients) == [("repo-scaffolding.shop", Action.CREATE, "deleted outside dtm")]
    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.calls("DELETE") == []
    assert not yaml.safe_load((config.parent / "devstream.state").read_text())


def test_commits_pushed_on_top_leave_the_plan_empty_a_force_push_does_not(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    """The state records the commit dtm wrote; commits on top of it are not drift, a history without it is."""
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    dtms = recorded(config)["commit"]
    assert dtms == standin.repo("octo/shop").refs["refs/heads/main"]

    # A developer commits by hand on top of dtm's commit.
    standin.commit_files("octo/shop", {"CONTRIBUTING.md": b"be nice\n"}, "docs")
    assert planned(config, engine_clients) == []

    # History rewritten: main force-pushed to a root commit of someone else's, without dtm's commit.
    standin.force_push("octo/shop", {"LICENSE": b"MIT\n"}, "start over")
    [(key, action, reason)] = planned(config, engine_clients)
    assert (key, action) == ("repo-scaffolding.shop", Action.UPDATE)
    assert reason == "drifted: status.files.README.md, status.files.app.py, status.commit"

    # the rendered tree is pushed again
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/shop") == {"LICENSE": b"MIT\n", **RENDERED}
    assert recorded(config)["commit"] == standin.repo("octo/shop").refs["refs/heads/main"] != dtms
    assert planned(config, engine_clients) == []
