"""github-actions through the engine: `dtm apply`/`plan`/`destroy` (the CLI's functions, real Prefect flow runs,
local state) against the GitHub stand-in.

The engine is handed the `engine_clients` fixture as its client factory (`client_factory=`), which builds every
plugin context's `ctx.http_client`: dtm's own client and retrying transport around the stand-in. Nothing is
patched; everything else (config loading, planning, state, Prefect) is real.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN

from devstream.cli import run
from devstream.engine import Workspace
from devstream.executor import ClientFactory
from devstream.plugins.scm.base import git_blob_sha

pytestmark = pytest.mark.usefixtures("prefect_server")

PASSWORD = "dckr_pat_engine_s3cr3t"
PATH = ".github/workflows/ci.yml"
WORKFLOW = "name: [[ AppName ]]\non: [push]\njobs: {build: {runs-on: ubuntu-latest, steps: [{run: make}]}}\n"



def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, **doc}, sort_keys=False))
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DTM_TEST_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("IMAGE_REPO_PASSWORD", PASSWORD)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(WORKFLOW)
    tool = {"name": "github-actions", "instanceID": "web", "options": {
        "scm": {"scmType": "github", "owner": "octo", "name": "web", "token": '[[ env "DTM_TEST_GITHUB_TOKEN" ]]'},
        "pipeline": {"configLocation": "workflows",
                     "imageRepo": {"user": "octo", "password": '[[ env "IMAGE_REPO_PASSWORD" ]]'}}}}
    return write(tmp_path / "dtm.yaml", {"tools": [tool]})


def test_apply_plan_drift_and_destroy(standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/web")[PATH] == WORKFLOW.replace("[[ AppName ]]", "web").encode()
    assert standin.secret_value("octo/web", "IMAGE_REPO_PASSWORD") == PASSWORD
    state = (config.parent / "devstream.state").read_text()
    assert PASSWORD not in state and TOKEN not in state
    assert git_blob_sha(standin.files("octo/web")[PATH]) in state

    # Applying again changes nothing.
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert len(standin.history("octo/web")) == 2

    # A hand edit on GitHub is drift; apply puts the workflow back.
    standin.commit_files("octo/web", {PATH: b"on: push\n"}, "edited by hand")
    (change,) = Workspace.open(config, client_factory=engine_clients).current_plan().changes
    assert change.action == "update" and change.reason.startswith("drifted: ") and "workflows" in change.reason
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/web")[PATH] == WORKFLOW.replace("[[ AppName ]]", "web").encode()
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert standin.files("octo/web") == {"README.md": b"# web\n"}
    assert standin.repo("octo/web").secrets == {}


def test_a_rate_limited_apply_is_retried(standin: GitHubStandIn, engine_clients: ClientFactory, config: Path) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    standin.inject("POST", r"/git/trees$", 429, headers={"retry-after": "3"})
    standin.inject("PUT", r"/actions/secrets/", 503, times=1)
    assert run.apply(config_path=config, yes=True, retry_delay=0.01, client_factory=engine_clients) == 0
    assert standin.sleeps[0] == 3.0
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty


def test_an_app_from_a_template_with_a_github_actions_pipeline(
        standin: GitHubStandIn, engine_clients: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """apps -> repo-scaffolding + github-actions (through a pipelineTemplate), end to end.

    The template repository is read with git (as repo-scaffolding does for any remote): its https URL is
    sent to a local bare repository by git's `url.<base>.insteadOf`. The new repository, its files, the
    workflow and the secrets go through the GitHub API, to the stand-in.
    """
    work = tmp_path / "template"
    work.mkdir()
    (work / "README.md").write_text("# template\n")
    (work / "app.py.tpl").write_text("print('[[ AppName ]]')\n")
    git = ["git", "-C", str(work)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "template"], check=True)
    remotes = tmp_path / "remotes"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(remotes / "octo" / "template.git")], check=True)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{remotes}/.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/")
    monkeypatch.setenv("DTM_TEST_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("IMAGE_REPO_PASSWORD", PASSWORD)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(WORKFLOW)

    token = '[[ env "DTM_TEST_GITHUB_TOKEN" ]]'
    config = write(tmp_path / "dtm.yaml", {
        "apps": [{"name": "shop", "spec": {"language": "python", "framework": "django"},
                  "repo": {"owner": "octo", "scmType": "github", "token": token},
                  "repoTemplate": {"url": "https://github.com/octo/template", "token": token},
                  "ci": [{"type": "template", "templateName": "gh-ci", "vars": {"user": "octo"}}]}],
        "pipelineTemplates": [{"name": "gh-ci", "type": "github-actions", "options": {
            "configLocation": "workflows",
            "imageRepo": {"user": "[[ user ]]", "password": '[[ env "IMAGE_REPO_PASSWORD" ]]'}}}],
    })

    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    files = standin.files("octo/shop")
    assert files["app.py"] == b"print('shop')\n"
    assert files[PATH] == WORKFLOW.replace("[[ AppName ]]", "shop").encode()
    assert standin.secret_value("octo/shop", "IMAGE_REPO_USER") == "octo"
    assert standin.secret_value("octo/shop", "IMAGE_REPO_PASSWORD") == PASSWORD
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    # Destroy goes dependents first: github-actions removes the workflow and the secrets, then repo-scaffolding
    # deletes the repository, which its recorded status says dtm created.
    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert "octo/shop" not in standin.repos
    *secrets, repo = standin.calls("DELETE")
    assert sorted(secrets) == [f"DELETE /repos/octo/shop/actions/secrets/{name}"
                               for name in ("IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER")]
    assert repo == "DELETE /repos/octo/shop"


def test_what_the_config_drops_is_removed_and_what_was_added_by_hand_stays(
        standin: GitHubStandIn, engine_clients: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    monkeypatch.setenv("DTM_TEST_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("DEPLOY_KEY", "deploy-key-value")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(WORKFLOW)
    (tmp_path / "workflows" / "release.yml").write_text("on: release\n")
    release = ".github/workflows/release.yml"

    def configure(secrets: dict[str, str]) -> Path:
        tool = {"name": "github-actions", "instanceID": "web", "options": {
            "scm": {"scmType": "github", "owner": "octo", "name": "web",
                    "token": '[[ env "DTM_TEST_GITHUB_TOKEN" ]]'},
            "pipeline": {"configLocation": "workflows", "secrets": secrets}}}
        return write(tmp_path / "dtm.yaml", {"tools": [tool]})

    config = configure({"DEPLOY_KEY": '[[ env "DEPLOY_KEY" ]]', "NOTIFY_URL": "https://hooks.example.com/x"})
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert set(standin.files("octo/web")) == {"README.md", PATH, release}
    assert sorted(standin.repo("octo/web").secrets) == ["DEPLOY_KEY", "NOTIFY_URL"]

    # Someone adds a workflow and a secret of their own on GitHub: not dtm's, and no drift either.
    standin.commit_files("octo/web", {".github/workflows/hand.yml": b"on: workflow_dispatch\n"}, "by hand")
    standin.repo("octo/web").secrets["HAND_MADE"] = standin.repo("octo/web").secrets["NOTIFY_URL"]
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    # release.yml leaves the workflows folder and NOTIFY_URL leaves the config: apply removes both.
    (tmp_path / "workflows" / "release.yml").unlink()
    config = configure({"DEPLOY_KEY": '[[ env "DEPLOY_KEY" ]]'})
    (change,) = Workspace.open(config, client_factory=engine_clients).current_plan().changes
    assert change.action == "update"
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert set(standin.files("octo/web")) == {"README.md", PATH, ".github/workflows/hand.yml"}
    assert sorted(standin.repo("octo/web").secrets) == ["DEPLOY_KEY", "HAND_MADE"]
    assert Workspace.open(config, client_factory=engine_clients).current_plan().empty

    assert run.destroy(config_path=config, yes=True, client_factory=engine_clients) == 0
    assert set(standin.files("octo/web")) == {"README.md", ".github/workflows/hand.yml"}
    assert sorted(standin.repo("octo/web").secrets) == ["HAND_MADE"]


def test_planning_reads_outlast_a_github_that_answers_503_then_200(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    monkeypatch.setenv("DTM_RETRY_DELAY", "0.01")
    # GitHub answers 503 to every attempt the HTTP layer makes (3 with this transport), then recovers: the read
    # fails transiently once, and the retry policy reads again, as a flow's read task would.
    standin.inject("GET", r"^/repos/octo/web", 503, times=3)
    assert run.plan(config_path=config, detailed_exitcode=True, client_factory=engine_clients) == 0
    assert run.verify(config_path=config, client_factory=engine_clients) == 0
    assert not [r for r in standin.injected if r.times]


def test_a_rate_limit_resetting_in_an_hour_fails_the_plan_at_once_naming_the_reset(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from devstream.errors import RateLimitError

    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    assert run.apply(config_path=config, yes=True, client_factory=engine_clients) == 0
    monkeypatch.setenv("DTM_RETRY_DELAY", "0.01")
    reset = str(int(time.time()) + 3600)
    standin.inject("GET", r"^/repos/octo/web", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
                   message="API rate limit exceeded", times=100)
    asked = len(standin.requests)

    with pytest.raises(RateLimitError, match=r"rate limited \(403\); the limit resets at .* UTC \(in 60 min\)"):
        run.plan(config_path=config, client_factory=engine_clients)
    assert len(standin.requests) == asked + 1 and standin.sleeps == []  # asked once: no retry hammers GitHub
