"""ci-generic's webhooks through the engine: `dtm apply`/`destroy` (the CLI's functions, real Prefect flow runs,
local state) against the GitHub stand-in, as in test_github_actions_engine.py.

A Jenkins outside GitHub gets its Jenkinsfile and the repository webhook that triggers it. Apply puts both;
applying again is no change; a hook edited on GitHub is drift that apply puts back; destroy removes dtm's hook
and leaves one made by hand. The webhook's secret never reaches the state file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN

from devstream.cli import run
from devstream.engine import Workspace
from devstream.executor import ClientFactory
from devstream.plan import Action

pytestmark = pytest.mark.usefixtures("prefect_server")

JENKINS = "https://jenkins.example.com/github-webhook/"
HAND_MADE = "https://chat.example.com/notify"
SECRET = "whsec-engine-0815-do-not-show"



@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DTM_TEST_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("JENKINS_HOOK_SECRET", SECRET)
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{"name": "ci-generic", "instanceID": "web", "options": {
            "projectRepo": {"scmType": "github", "owner": "octo", "name": "web",
                            "token": '[[ env "DTM_TEST_GITHUB_TOKEN" ]]'},
            "ci": {"type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any }\n"},
                   "webhooks": [{"url": JENKINS, "events": ["push", "pull_request"],
                                 "secret": '[[ env "JENKINS_HOOK_SECRET" ]]'}]}}}],
    }, sort_keys=False))
    return path


def test_apply_puts_the_hook_puts_it_back_after_an_edit_and_destroy_removes_it(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    (hook,) = repo.hooks.values()
    assert hook.config["url"] == JENKINS and hook.config["secret"] == SECRET
    assert "Jenkinsfile" in standin.files("octo/web")
    state = (config.parent / "devstream.state").read_text()
    assert SECRET not in state and TOKEN not in state  # the options keep fingerprints, the status none
    assert yaml.safe_load(state)["ci-generic_web"]["resourceStatus"]["webhooks"][JENKINS]["has_secret"] is True

    # Applying again: nothing to do.
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    # The events are changed in GitHub's settings: drift, which apply puts back on the same hook.
    hook.events = ["issues"]
    (change,) = Workspace.open(config, client_factory=engine_clients).current_plan().changes
    assert change.action == Action.UPDATE and change.reason == f"drifted: status.webhooks.{JENKINS}.events"
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert list(repo.hooks.values()) == [hook] and sorted(hook.events) == ["pull_request", "push"]
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    # Destroy takes dtm's hook and the Jenkinsfile away; a hook made by hand stays.
    standin.add_hook("octo/web", HAND_MADE)
    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert [h.config["url"] for h in repo.hooks.values()] == [HAND_MADE]
    assert standin.files("octo/web") == {"README.md": b"# web\n"}
