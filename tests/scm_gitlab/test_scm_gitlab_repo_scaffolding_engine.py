"""repo-scaffolding on GitLab through the engine: an app's `dtm apply`/`destroy` (the CLI's functions, real
Prefect flow runs, local state) against the stand-in GitLab, put in as in test_scm_gitlab_ci_engine.py.

The story: `dtm destroy` takes away the project dtm created, and only that one. What dtm created is recorded
in the tool's status (`created`) and handed back to the plugin by the engine on every later call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from gitlab_standin import GitLabStandIn
from plugin_calls import RENDERED, write_template

from devstream.cli import run
from devstream.engine import Workspace
from devstream.plan import Action

pytestmark = pytest.mark.usefixtures("prefect_server")

BASE_URL = "https://git.example.internal"
TOKEN = "glpat-engine-test-9876543210"


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> GitLabStandIn:
    gitlab = GitLabStandIn(BASE_URL, token=TOKEN)
    gitlab.add_namespace("acme")
    monkeypatch.setenv("DTM_TEST_GITLAB_TOKEN", TOKEN)
    return gitlab


@pytest.fixture
def config(tmp_path: Path) -> Path:
    write_template(tmp_path)
    return write_config(tmp_path / "dtm.yaml", port=8080)


def write_config(path: Path, port: int) -> Path:
    """An app `shop` in group acme, scaffolded from the template folder (no CI: only the repository)."""
    app = {"name": "shop", "spec": {"language": "python", "framework": "flask"},
           "repo": {"scmType": "gitlab", "org": "acme", "branch": "main", "baseURL": BASE_URL,
                    "token": '[[ env "DTM_TEST_GITLAB_TOKEN" ]]'},
           "repoTemplate": {"url": "./template", "vars": {"port": port}}}
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "apps": [app]}, sort_keys=False))
    return path


def state(config: Path) -> dict[str, Any]:
    return yaml.safe_load((config.parent / "devstream.state").read_text()) or {}


def planned(config: Path, standin: GitLabStandIn) -> list[tuple[str, Action, str]]:
    plan = Workspace.open(config, client_factory=standin.client_factory).current_plan()
    return [(c.key, c.action, c.reason) for c in plan.changes]


def test_destroy_deletes_the_project_dtm_created(standin: GitLabStandIn, config: Path) -> None:
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.files("acme/shop") == RENDERED
    assert state(config)["repo-scaffolding_shop"]["resourceStatus"]["created"] is True

    # Applying again: reading the project back shows no drift, `created` included.
    assert planned(config, standin) == []
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.project("acme/shop").commits == 1

    # A var change is an update of the same project, which stays dtm's.
    write_config(config, port=9090)
    assert [(key, action) for key, action, _ in planned(config, standin)] == [("repo-scaffolding.shop", Action.UPDATE)]
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.files("acme/shop")["app.py"] == b"PORT = 9090\n"
    assert state(config)["repo-scaffolding_shop"]["resourceStatus"]["created"] is True
    assert planned(config, standin) == []

    assert run.destroy(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert "acme/shop" not in standin.projects
    assert state(config) == {}


def test_destroy_leaves_an_adopted_project_with_its_content(standin: GitLabStandIn, config: Path) -> None:
    standin.add_project("acme/shop", {"LICENSE": b"MIT\n"})

    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert state(config)["repo-scaffolding_shop"]["resourceStatus"]["created"] is False
    assert planned(config, standin) == []

    assert run.destroy(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.files("acme/shop") == {"LICENSE": b"MIT\n", **RENDERED}
    assert standin.calls("DELETE") == []
    assert state(config) == {}


def test_destroy_after_the_project_was_deleted_outside_dtm(standin: GitLabStandIn, config: Path) -> None:
    assert run.apply(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    del standin.projects["acme/shop"]

    assert planned(config, standin) == [("repo-scaffolding.shop", Action.CREATE, "deleted outside dtm")]
    assert run.destroy(config_path=config, client_factory=standin.client_factory, yes=True) == 0
    assert standin.calls("DELETE") == []
    assert state(config) == {}
