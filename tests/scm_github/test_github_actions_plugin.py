"""The github-actions plugin against the stand-in: options, create/read/update/delete, drift and secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from github_standin import GitHubStandIn, Secret
from github_testkit import TOKEN
from plugin_calls import recorded
from pydantic import ValidationError

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugin.registry import default_registry
from devstream.plugins.github_actions import GitHubActionsOptions, GitHubActionsPlugin
from devstream.plugins.scm.base import git_blob_sha
from devstream.secrets import redact

WORKFLOW = """name: [[ AppName ]] ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.sha }} [[ language.name ]] [[ Repo.Owner ]]/[[ Repo.Name ]] [[ greeting ]]"
      - run: docker login -u ${{ secrets.IMAGE_REPO_USER }} -p ${{ secrets.IMAGE_REPO_PASSWORD }}
"""
PASSWORD = "dckr_pat_s3cr3t"


def options(**pipeline: Any) -> GitHubActionsOptions:
    body: dict[str, Any] = {"configContents": {"ci.yml": WORKFLOW}, "vars": {"greeting": "hi"},
                            "language": {"name": "python", "framework": "django"},
                            "imageRepo": {"url": "docker.io", "user": "octo", "password": PASSWORD}}
    body.update(pipeline)
    return GitHubActionsOptions.model_validate({
        "scm": {"scmType": "github", "owner": "octo", "name": "web", "branch": "main", "token": TOKEN},
        "pipeline": body})


def rendered(text: str = WORKFLOW, greeting: str = "hi") -> bytes:
    return (text.replace("[[ AppName ]]", "web").replace("[[ language.name ]]", "python")
            .replace("[[ Repo.Owner ]]/[[ Repo.Name ]]", "octo/web").replace("[[ greeting ]]", greeting).encode())


PLUGIN = GitHubActionsPlugin()
PATH = ".github/workflows/ci.yml"


def test_it_is_the_registered_github_actions_plugin() -> None:
    assert isinstance(default_registry().get("github-actions"), GitHubActionsPlugin)


def test_create_commits_the_rendered_workflow_and_sets_the_secrets(ctx: PluginContext,
                                                                   standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    status = PLUGIN.create(options(), ctx)

    assert standin.files("octo/web")[PATH] == rendered()
    assert "${{ github.sha }}" in standin.files("octo/web")[PATH].decode()  # GitHub's expressions untouched
    assert len(standin.history("octo/web")) == 2
    assert standin.secret_value("octo/web", "IMAGE_REPO_USER") == "octo"
    assert standin.secret_value("octo/web", "IMAGE_REPO_PASSWORD") == PASSWORD
    assert status == {"repository": "octo/web", "branch": "main",
                      "workflows": {PATH: git_blob_sha(rendered())},
                      "secrets": ["IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"],
                      "outputs": {"workflows": [PATH]}}
    assert PASSWORD not in json.dumps(status)
    assert PLUGIN.read(options(), ctx) == status  # no drift right after create
    assert PLUGIN.output_keys(options()) == set(status["outputs"])


def test_create_in_an_empty_repository(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    status = PLUGIN.create(options(configContents={"ci.yml": WORKFLOW, "release.yml": "on: release\n"}), ctx)
    assert standin.files("octo/web") == {PATH: rendered(), ".github/workflows/release.yml": b"on: release\n"}
    assert len(standin.history("octo/web")) == 1
    assert sorted(status["workflows"]) == [PATH, ".github/workflows/release.yml"]


def test_create_without_the_repository_is_a_permanent_error(ctx: PluginContext, standin: GitHubStandIn) -> None:
    with pytest.raises(PermanentError, match="does not exist on GitHub"):
        PLUGIN.create(options(), ctx)


def test_a_hand_edit_is_drift_and_update_puts_it_back(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    status = PLUGIN.create(options(), ctx)

    standin.commit_files("octo/web", {PATH: b"on: push\njobs: {}\n"}, "edited by hand")
    drifted = PLUGIN.read(options(), ctx)
    assert drifted is not None and drifted["workflows"][PATH] == git_blob_sha(b"on: push\njobs: {}\n")

    assert PLUGIN.update(options(), ctx) == status
    assert standin.files("octo/web")[PATH] == rendered()
    assert PLUGIN.read(options(), ctx) == status


def test_a_removed_workflow_or_secret_is_drift(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    status = PLUGIN.create(options(), ctx)

    standin.commit_files("octo/web", {PATH: None}, "removed by hand")
    del standin.repo("octo/web").secrets["IMAGE_REPO_USER"]

    assert PLUGIN.read(options(), ctx) == {**status, "workflows": {PATH: None}, "secrets": ["IMAGE_REPO_PASSWORD"]}
    PLUGIN.update(options(), ctx)
    assert PLUGIN.read(options(), ctx) == status


def test_update_with_nothing_changed_makes_no_commit(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    PLUGIN.create(options(), ctx)
    PLUGIN.update(options(), ctx)
    assert len(standin.history("octo/web")) == 2
    PLUGIN.update(options(vars={"greeting": "hello"}), ctx)
    assert standin.files("octo/web")[PATH] == rendered(greeting="hello")
    assert len(standin.history("octo/web")) == 3


def test_delete_removes_the_files_in_one_commit_and_the_secrets(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    opts = options(configContents={"ci.yml": WORKFLOW, "release.yml": "on: release\n"},
                   secrets={"deploy_key": "k"})
    PLUGIN.create(opts, ctx)
    standin.repo("octo/web").secrets["SOMEONE_ELSES"] = standin.repo("octo/web").secrets["DEPLOY_KEY"]

    PLUGIN.delete(opts, ctx)

    assert standin.files("octo/web") == {"README.md": b"# web\n"}
    assert len(standin.history("octo/web")) == 3  # seed, create, one delete commit
    assert sorted(standin.repo("octo/web").secrets) == ["SOMEONE_ELSES"]
    assert PLUGIN.read(opts, ctx) is None  # none of its workflows and secrets is left: the resource is gone
    PLUGIN.delete(opts, ctx)  # nothing left: no commit, no error
    assert len(standin.history("octo/web")) == 3


def test_a_deleted_repository_reads_as_gone_and_deletes_as_success(ctx: PluginContext,
                                                                    standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    PLUGIN.create(options(), ctx)
    del standin.repos["octo/web"]
    assert PLUGIN.read(options(), ctx) is None
    PLUGIN.delete(options(), ctx)


def test_step_credentials_become_devstreams_secrets(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    opts = options(dingTalk={"name": "bot", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=tok123",
                             "securityType": "SECRET", "securityValue": "sign-me"},
                   sonarqube={"name": "sq", "url": "https://sonar.example.com", "token": "sq-token"},
                   secrets={"EXTRA": "extra-value"})
    status = PLUGIN.create(opts, ctx)
    values = {n: standin.secret_value("octo/web", n) for n in status["secrets"]}
    assert values == {"DINGTALK_SECURITY_TOKEN": "tok123", "DINGTALK_SECURITY_VALUE": "sign-me",
                      "EXTRA": "extra-value", "IMAGE_REPO_PASSWORD": PASSWORD, "IMAGE_REPO_USER": "octo",
                      "SONAR_SECRET_TOKEN": "sq-token"}


def test_workflows_from_a_local_folder(ctx: PluginContext, standin: GitHubStandIn, tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(WORKFLOW)
    (tmp_path / "workflows" / "lint.yml").write_text("name: lint [[ AppName ]]\n")
    standin.add_repo("octo/web")
    opts = options(configContents=None, configLocation="workflows")
    PLUGIN.create(opts, ctx)
    assert standin.files("octo/web") == {PATH: rendered(), ".github/workflows/lint.yml": b"name: lint web\n"}


def test_a_template_error_names_the_file(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    with pytest.raises(PermanentError, match=r"ci.yml.*undefined_var"):
        PLUGIN.create(options(configContents={"ci.yml": "x: [[ undefined_var ]]\n"}), ctx)
    assert standin.files("octo/web") == {}


def test_secrets_never_reach_the_stored_options() -> None:
    raw = {"scm": {"scmType": "github", "owner": "octo", "name": "web", "token": TOKEN},
           "pipeline": {"configContents": {"ci.yml": "x"}, "secrets": {"A": "value-a"},
                        "imageRepo": {"user": "u", "password": PASSWORD},
                        "dingTalk": {"webhook": "https://x/send?access_token=tok"}}}
    stored = json.dumps(redact(raw, GitHubActionsOptions.model_validate(raw)))
    for secret in (TOKEN, "value-a", PASSWORD, "access_token=tok"):
        assert secret not in stored


@pytest.mark.parametrize(("change", "message"), [
    ({"scm": {"scmType": "gitlab", "owner": "octo", "name": "web"}}, "GitHub repositories only"),
    ({"scm": {"scmType": "github", "name": "web"}}, "owner"),
    ({"pipeline": {"configContents": {"../escape.yml": "x"}}}, "relative path inside"),
    ({"pipeline": {"configContents": {"a.yml": "x"}, "secrets": {"GITHUB_TOKEN": "x"}}}, "not allowed"),
    ({"pipeline": {"configContents": {"a.yml": "x"}, "secrets": {"1ABC": "x"}}}, "not allowed"),
    ({"pipeline": {"configContents": {"a.yml": "x"}, "secrets": {"image_repo_user": "x"},
                   "imageRepo": {"user": "u"}}}, "give each secret once"),
    ({"pipeline": {"configContents": {"a.yml": "x"}, "dingTalk": {"webhook": "https://no-token"}}}, "access_token"),
    ({"pipeline": {"configContents": {"a.yml": "x"}, "typo": 1}}, "Extra inputs"),
])
def test_options_are_checked_at_load_time(change: dict[str, Any], message: str) -> None:
    raw: dict[str, Any] = {"scm": {"scmType": "github", "owner": "octo", "name": "web"},
                           "pipeline": {"configContents": {"a.yml": "x"}}}
    raw.update(change)
    with pytest.raises(ValidationError, match=message):
        GitHubActionsOptions.model_validate(raw)


def test_an_apps_pipeline_with_both_sources_uses_the_inline_files() -> None:
    # An app's entry gets a default configLocation even when its template gives configContents.
    opts = GitHubActionsOptions.model_validate({
        "scm": {"scmType": "github", "owner": "octo", "name": "web", "branch": "main",
                "url": "https://github.com/octo/web"},
        "pipeline": {"configLocation": "https://example.invalid/main.yml", "configContents": {"a.yml": "x"},
                     "language": {"name": "python", "framework": "django"},
                     "test": {"enable": True, "command": ["pytest"], "coverage": {"enable": False}}}})
    assert opts.pipeline.configContents == {"a.yml": "x"}


# -- what dtm made: the recorded status (ctx.prior) ---------------------------------------------------------
# The engine hands update and delete the status it recorded after the last create or update. The plugin
# removes only what that record (or, for delete, the current options) says it made.

RELEASE = ".github/workflows/release.yml"
HAND_MADE = ".github/workflows/hand.yml"


def two_workflows_and_a_deploy_key() -> GitHubActionsOptions:
    return options(configContents={"ci.yml": WORKFLOW, "release.yml": "on: release\n"}, secrets={"DEPLOY_KEY": "k"})


def hand_made_secret(standin: GitHubStandIn, name: str) -> None:
    standin.repo("octo/web").secrets[name] = Secret("sealed-by-hand", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z")


def add_hand_made(standin: GitHubStandIn) -> None:
    """A workflow file and a secret someone added on GitHub: dtm never wrote them."""
    standin.commit_files("octo/web", {HAND_MADE: b"on: workflow_dispatch\n"}, "added by hand")
    hand_made_secret(standin, "HAND_MADE")


def test_an_update_removes_the_workflow_and_secret_the_options_dropped_in_its_one_commit(
        ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    before = PLUGIN.create(two_workflows_and_a_deploy_key(), ctx)
    add_hand_made(standin)
    commits = len(standin.history("octo/web"))

    # release.yml and DEPLOY_KEY are dropped from the options.
    after = PLUGIN.update(options(), recorded(ctx, before))

    assert set(standin.files("octo/web")) == {"README.md", PATH, HAND_MADE}
    assert len(standin.history("octo/web")) == commits + 1
    assert sorted(standin.repo("octo/web").secrets) == ["HAND_MADE", "IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"]
    assert after["workflows"] == {PATH: git_blob_sha(rendered())}
    assert after["secrets"] == ["IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"]
    assert PLUGIN.read(options(), recorded(ctx, after)) == after  # in sync: the planner sees no change


def test_without_a_record_an_update_removes_nothing(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    PLUGIN.create(two_workflows_and_a_deploy_key(), ctx)

    PLUGIN.update(options(), recorded(ctx, None))

    assert RELEASE in standin.files("octo/web")
    assert "DEPLOY_KEY" in standin.repo("octo/web").secrets


def test_delete_removes_what_the_record_names_and_what_the_options_give(
        ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    before = PLUGIN.create(two_workflows_and_a_deploy_key(), ctx)
    add_hand_made(standin)
    standin.commit_files("octo/web", {RELEASE: None}, "release.yml removed by hand")  # gone already: fine

    # The options lost release.yml and DEPLOY_KEY (and gained lint.yml) without an apply; then the tool is
    # deleted.
    PLUGIN.delete(options(configContents={"ci.yml": WORKFLOW, "lint.yml": "on: push\n"}), recorded(ctx, before))

    assert set(standin.files("octo/web")) == {"README.md", HAND_MADE}
    assert sorted(standin.repo("octo/web").secrets) == ["HAND_MADE"]


def test_delete_without_the_workflow_sources_removes_the_recorded_files(
        ctx: PluginContext, standin: GitHubStandIn, tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text(WORKFLOW)
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    opts = options(configContents=None, configLocation="workflows")
    status = PLUGIN.create(opts, ctx)
    (tmp_path / "workflows" / "ci.yml").unlink()
    (tmp_path / "workflows").rmdir()

    with pytest.raises(PermanentError, match="no such file or folder"):
        PLUGIN.delete(opts, recorded(ctx, None))  # with no record, there is no knowing what to remove
    PLUGIN.delete(opts, recorded(ctx, status))

    assert standin.files("octo/web") == {"README.md": b"# web\n"}
    assert standin.repo("octo/web").secrets == {}


@pytest.mark.parametrize(("elsewhere", "warned"), [
    pytest.param({"repository": "octo/old-web"}, "moved from octo/old-web (branch main) to octo/web (branch main)",
                 id="another repository"),
    pytest.param({"branch": "release"}, "moved from octo/web (branch release) to octo/web (branch main)",
                 id="another branch"),
    pytest.param({"repository": None, "branch": None}, None, id="a record from before repository was recorded"),
])
def test_a_record_of_another_place_removes_nothing_here(ctx: PluginContext, standin: GitHubStandIn,
                                                        elsewhere: dict[str, Any], warned: str | None,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    # octo/web holds a workflow file and a secret that the record names, but someone else put them there.
    standin.add_repo("octo/web", files={"README.md": b"# web\n", RELEASE: b"on: release # by hand\n"})
    hand_made_secret(standin, "DEPLOY_KEY")
    status = {"repository": "octo/web", "branch": "main", "workflows": {PATH: "0" * 40, RELEASE: "1" * 40},
              "secrets": ["DEPLOY_KEY", "IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"],
              "outputs": {"workflows": [PATH, RELEASE]}}
    prior = {k: v for k, v in (status | elsewhere).items() if v is not None}

    caplog.set_level(logging.WARNING)
    PLUGIN.update(options(), recorded(ctx, prior))
    assert standin.files("octo/web")[RELEASE] == b"on: release # by hand\n"
    assert "DEPLOY_KEY" in standin.repo("octo/web").secrets
    # The old place is named, with what dtm left there; a record that names no place cannot be warned about.
    moves = [r.getMessage() for r in caplog.records if "moved from" in r.getMessage()]
    if warned is None:
        assert moves == []
    else:
        (move,) = moves
        assert warned in move and "left there: the workflows and secrets" in move

    PLUGIN.delete(options(), recorded(ctx, prior))
    assert set(standin.files("octo/web")) == {"README.md", RELEASE}
    assert sorted(standin.repo("octo/web").secrets) == ["DEPLOY_KEY"]


def test_a_record_from_before_the_place_was_kept_reads_back_without_drift(ctx: PluginContext,
                                                                          standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    status = PLUGIN.create(options(), ctx)
    older = {k: v for k, v in status.items() if k not in ("repository", "branch")}

    assert PLUGIN.read(options(), recorded(ctx, older)) == older  # the planner sees nothing to do
    assert PLUGIN.read(options(), recorded(ctx, status)) == status
    assert PLUGIN.update(options(), recorded(ctx, older)) == status  # the next update records the place


def test_a_pipeline_without_files_takes_devstreams_default_workflow() -> None:
    opts = GitHubActionsOptions.model_validate({"scm": {"scmType": "github", "owner": "octo", "name": "web"},
                                                "pipeline": {"language": {"name": "go"}}})
    assert opts.pipeline.configLocation == ("https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/"
                                            "main/github-actions/workflows/main.yml")
