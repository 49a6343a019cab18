"""ci-generic on plain git: CI files rendered, pushed in one commit, read back as blob SHAs, removed (the plugin,
and at the end through `dtm apply`/`destroy`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from plugin_calls import recorded
from scm_git_helpers import bare_repo, hand_edit, history, remote_files, write_tree

from devstream.cli import run
from devstream.engine import Workspace
from devstream.errors import PermanentError
from devstream.jsonish import diff_paths, normalize
from devstream.plan import Plan
from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericOptions, CIGenericPlugin
from devstream.plugins.ci_generic.plugin import CIConfig, _sources, ci_targets
from devstream.plugins.scm.base import git_blob_sha

PLUGIN = CIGenericPlugin()
WORKFLOW = "name: [[ AppName ]]\non: push\njobs: {test: {runs-on: '${{ matrix.os }}', env: {V: '[[ python ]]'}}}\n"


def options(ci: dict[str, Any] | None = None, repo_key: str = "projectRepo") -> CIGenericOptions:
    return CIGenericOptions.model_validate({
        repo_key: {"scmType": "git", "url": "web.git", "name": "web", "branch": "main"},
        "ci": ci or {"type": "github", "configLocation": "ci", "vars": {"python": "3.12"}},
    })


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_tree(tmp_path / "ci", {"ci.yml": WORKFLOW, "release.yaml": "on: release\n", "notes.md": "skip me"})
    return bare_repo(tmp_path / "web.git", files={"app.py": "print()\n"})


def test_create_read_drift_update_delete(ctx: PluginContext, repo: Path, tmp_path: Path) -> None:
    status = PLUGIN.create(options(), ctx)

    rendered = b"name: web\non: push\njobs: {test: {runs-on: '${{ matrix.os }}', env: {V: '3.12'}}}\n"
    assert remote_files(repo) == {"app.py": b"print()\n", ".github/workflows/ci.yml": rendered,
                                  ".github/workflows/release.yaml": b"on: release\n"}
    assert len(history(repo)) == 2  # the seed, then one commit for both files
    paths = [".github/workflows/ci.yml", ".github/workflows/release.yaml"]
    assert status == {
        "files": {paths[0]: git_blob_sha(rendered), paths[1]: git_blob_sha(b"on: release\n")},
        "outputs": {"repoURL": repo.as_uri(), "branch": "main", "paths": paths},
    }
    assert set(status["outputs"]) == PLUGIN.output_keys(options())
    assert PLUGIN.read(options(), ctx) == status
    assert PLUGIN.create(options(), ctx) == status and len(history(repo)) == 2  # nothing new to write

    hand_edit(repo, tmp_path / "edit", {paths[0]: "name: hacked\n"})
    assert diff_paths(normalize(status), normalize(PLUGIN.read(options(), ctx))) == [f"files.{paths[0]}"]
    assert PLUGIN.update(options(), ctx) == status
    assert remote_files(repo)[paths[0]] == rendered

    PLUGIN.delete(options(), ctx)
    assert remote_files(repo) == {"app.py": b"print()\n"}
    assert history(repo)[0].endswith("Remove CI files")
    PLUGIN.delete(options(), ctx)  # nothing left to remove: no commit
    assert len(history(repo)) == 5


def test_a_missing_repository(ctx: PluginContext) -> None:
    inline = options({"type": "jenkins", "configContents": {"Jenkinsfile": "pipeline {}\n"}})
    assert PLUGIN.read(inline, ctx) is None
    PLUGIN.delete(inline, ctx)  # gone is fine
    with pytest.raises(PermanentError, match="does not exist; create it first"):
        PLUGIN.create(inline, ctx)


@pytest.mark.usefixtures("repo")
def test_gitlab_from_inline_contents_with_devstreams_scm_key(ctx: PluginContext, repo: Path) -> None:
    ci = {"type": "gitlab", "configContents": {"anything.yml": "stages: [[ stages ]]\n"},
          "vars": {"stages": "[test]"}}

    status = PLUGIN.create(options(ci, repo_key="scm"), ctx)

    assert remote_files(repo)[".gitlab-ci.yml"] == b"stages: [test]\n"
    assert list(status["files"]) == [".gitlab-ci.yml"]


def test_where_files_land_by_type() -> None:
    files = {"a/Jenkinsfile": "j", "x/.gitlab-ci.yml": "g", "w/main.yml": "m", "deploy/run.sh": "s"}
    assert list(ci_targets("github", files)) == [".github/workflows/.gitlab-ci.yml", ".github/workflows/main.yml"]
    assert ci_targets("gitlab", files) == {".gitlab-ci.yml": ("x/.gitlab-ci.yml", "g")}
    assert ci_targets("jenkins", files) == {"Jenkinsfile": ("a/Jenkinsfile", "j")}
    assert list(ci_targets("generic", files)) == sorted(files)
    assert ci_targets("jenkins", {"pipeline.groovy": "p"}) == {"Jenkinsfile": ("pipeline.groovy", "p")}
    with pytest.raises(PermanentError, match="takes one file, named Jenkinsfile"):
        ci_targets("jenkins", {"a": "1", "b": "2"})
    with pytest.raises(PermanentError, match="no github CI files"):
        ci_targets("github", {"a.txt": "1", "b.txt": "2"})
    with pytest.raises(PermanentError, match="not a path inside"):
        ci_targets("generic", {"../escape.yml": "x"})


def test_options() -> None:
    with pytest.raises(ValueError, match="give one of configLocation and configContents"):
        CIConfig.model_validate({"type": "github"})
    with pytest.raises(ValueError, match="projectRepo"):
        CIGenericOptions.model_validate({"ci": {"type": "github", "configLocation": "x"}})
    with pytest.raises(ValueError):
        CIConfig.model_validate({"type": "travis", "configLocation": "x"})
    for model in (CIGenericOptions, CIConfig):
        for name, field in model.model_fields.items():
            assert field.description and field.description.endswith("."), name


# -- what dtm wrote: the recorded status (ctx.prior) --------------------------------------------------------
# The engine hands update and delete the status it recorded after the last create or update; the plugin
# removes only the files that record (or, for delete, the current options) names.

RELEASE = ".github/workflows/release.yaml"
HAND_MADE = ".github/workflows/hand.yml"


def test_an_update_deletes_the_files_the_options_dropped_in_its_commit(ctx: PluginContext, repo: Path,
                                                                      tmp_path: Path) -> None:
    before = PLUGIN.create(options(), ctx)
    hand_edit(repo, tmp_path / "edit", {HAND_MADE: "on: workflow_dispatch\n"})  # not dtm's
    (tmp_path / "ci" / "release.yaml").unlink()
    commits = len(history(repo))

    after = PLUGIN.update(options(), recorded(ctx, before))

    assert set(remote_files(repo)) == {"app.py", ".github/workflows/ci.yml", HAND_MADE}
    assert len(history(repo)) == commits + 1
    assert PLUGIN.read(options(), recorded(ctx, after)) == after  # in sync: the planner sees no change

    PLUGIN.delete(options(), recorded(ctx, after))
    assert set(remote_files(repo)) == {"app.py", HAND_MADE}


def test_delete_removes_the_recorded_files_and_those_of_the_options(ctx: PluginContext, repo: Path,
                                                                     tmp_path: Path) -> None:
    before = PLUGIN.create(options(), ctx)
    (tmp_path / "ci" / "release.yaml").unlink()  # dropped from the sources, with no apply since

    PLUGIN.delete(options(), recorded(ctx, before))

    assert remote_files(repo) == {"app.py": b"print()\n"}


def test_delete_without_the_ci_sources_removes_the_recorded_files(ctx: PluginContext, repo: Path,
                                                                  tmp_path: Path) -> None:
    before = PLUGIN.create(options(), ctx)
    shutil.rmtree(tmp_path / "ci")

    with pytest.raises(PermanentError, match="no such file or folder"):
        PLUGIN.delete(options(), recorded(ctx, None))  # with no record, there is no knowing what to remove
    PLUGIN.delete(options(), recorded(ctx, before))

    assert remote_files(repo) == {"app.py": b"print()\n"}


def test_a_record_of_another_repository_removes_nothing_in_this_one(ctx: PluginContext, repo: Path,
                                                                     tmp_path: Path) -> None:
    before = PLUGIN.create(options(), ctx)
    other = bare_repo(tmp_path / "other.git", files={RELEASE: "on: release # by hand\n"})
    (tmp_path / "ci" / "release.yaml").unlink()
    moved = CIGenericOptions.model_validate({
        "projectRepo": {"scmType": "git", "url": "other.git", "name": "other", "branch": "main"},
        "ci": {"type": "github", "configLocation": "ci", "vars": {"python": "3.12"}}})

    PLUGIN.update(moved, recorded(ctx, before))
    assert set(remote_files(other)) == {RELEASE, ".github/workflows/ci.yml"}
    assert set(remote_files(repo)) == {"app.py", ".github/workflows/ci.yml", RELEASE}  # left where dtm wrote it

    PLUGIN.delete(moved, recorded(ctx, before))
    assert remote_files(other) == {RELEASE: b"on: release # by hand\n"}


@pytest.mark.usefixtures("prefect_server")
def test_through_apply_a_file_dropped_from_the_ci_folder_leaves_the_remote(repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{"name": "ci-generic", "instanceID": "web", "options": {
            "projectRepo": {"scmType": "git", "url": "web.git", "name": "web", "branch": "main"},
            "ci": {"type": "github", "configLocation": "ci", "vars": {"python": "3.12"}}}}],
    }, sort_keys=False))

    def plan() -> Plan:
        return Workspace.open(config).current_plan()

    assert run.apply(config_path=config, yes=True) == 0
    assert set(remote_files(repo)) == {"app.py", ".github/workflows/ci.yml", RELEASE}
    hand_edit(repo, tmp_path / "edit", {HAND_MADE: "on: workflow_dispatch\n"})
    assert plan().empty  # a file added by hand is not dtm's business

    (tmp_path / "ci" / "release.yaml").unlink()
    assert [c.action for c in plan().changes] == ["update"]
    assert run.apply(config_path=config, yes=True) == 0
    assert set(remote_files(repo)) == {"app.py", ".github/workflows/ci.yml", HAND_MADE}
    assert plan().empty

    assert run.destroy(config_path=config, yes=True) == 0
    assert set(remote_files(repo)) == {"app.py", HAND_MADE}


def test_given_both_configcontents_win_with_a_warning_as_in_devstream(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    options = CIGenericOptions.model_validate({
        "ci": {"type": "generic", "configLocation": "https://ci.example.invalid/never-fetched.yml",
               "configContents": {"ci.yml": "name: build"}},
        "projectRepo": {"scmType": "git", "url": str(tmp_path / "app.git")}})
    ctx = PluginContext(name="ci-generic", instance_id="app", workdir=tmp_path)

    with caplog.at_level("WARNING"):
        assert _sources(options, ctx) == {"ci.yml": "name: build"}  # no fetch of the URL

    assert "the contents are used and configLocation (https://ci.example.invalid/never-fetched.yml) is ignored" \
        in caplog.text
