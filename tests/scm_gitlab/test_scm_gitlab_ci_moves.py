"""gitlab-ci when its tool moves: to another project, branch or GitLab, with the status dtm recorded (ctx.prior)."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import pytest
from gitlab_ci_samples import RENDERED, options
from gitlab_standin import GitLabStandIn
from plugin_calls import recorded

from devstream.plugin.base import PluginContext
from devstream.plugins.gitlab_ci import GitLabCIOptions, GitLabCIPlugin

PLUGIN = GitLabCIPlugin()


# -- where dtm put things: the recorded status (ctx.prior) ------------------------------------------------------
# The engine hands read, update and delete the status it recorded after the last create or update. Its gitlab,
# project and branch say where the file and the variables are. dtm acts only on the place the options name now;
# when the record is of another place, what dtm made there stays, and a warning says so.

OLD_PROJECT = "acme/old-web"


def at(opts: GitLabCIOptions, **scm: Any) -> GitLabCIOptions:
    """The same options with `scm` moved: another project `name`, or another `branch`."""
    return opts.model_copy(update={"scm": opts.scm.model_copy(update=scm)})


def moved_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "moved from" in r.getMessage()]


@dataclasses.dataclass
class Snapshot:
    """All of a project: its branches' files, its variables, how many commits."""

    branches: dict[str, dict[str, bytes]]
    variables: list[dict[str, Any]]
    commits: int

    @classmethod
    def of(cls, gitlab: GitLabStandIn, path: str) -> Snapshot:
        project = gitlab.project(path)
        return cls({name: dict(head.files) for name, head in project.branches.items()},
                   copy.deepcopy(project.variables), project.commits)


def test_moving_to_another_project_leaves_the_old_one_as_it_is_and_says_what_is_there(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str, caplog: pytest.LogCaptureFixture) -> None:
    gitlab.add_project(OLD_PROJECT, {"main.go": b"package main\n"}, branch="master")
    before = PLUGIN.create(at(options(), name="old-web"), ctx)
    old_project = Snapshot.of(gitlab, OLD_PROJECT)
    assert old_project.branches["master"][".gitlab-ci.yml"]  # dtm's file is there, and its four variables
    caplog.set_level(logging.WARNING)

    # scm now names acme/web: the update gets the record of acme/old-web.
    after = PLUGIN.update(options(), recorded(ctx, before))

    assert Snapshot.of(gitlab, OLD_PROJECT) == old_project  # not a request changed it
    assert gitlab.file(project, ".gitlab-ci.yml", "master") == RENDERED
    assert sorted(v["key"] for v in gitlab.project(project).variables) == before["variables"]
    assert (after["project"], after["branch"]) == ("acme/web", "master")
    (warning,) = moved_warnings(caplog)
    assert ("moved from https://gitlab.com/acme/old-web (branch master) to https://gitlab.com/acme/web (branch "
            "master)") in warning
    assert ("the file .gitlab-ci.yml and the CI/CD variables DEPLOY_TOKEN, IMAGE_REPO_PASSWORD, IMAGE_REPO_USER, "
            "PIN") in warning
    assert "remove these there by hand" in warning and "delete the tool before moving it" in warning
    assert PLUGIN.read(options(), recorded(ctx, after)) == after  # in sync at the new place: no change planned


def test_moving_to_another_branch_leaves_the_file_on_the_old_one(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str, caplog: pytest.LogCaptureFixture) -> None:
    before = PLUGIN.create(at(options(), branch="release"), ctx)
    caplog.set_level(logging.WARNING)

    after = PLUGIN.update(options(), recorded(ctx, before))

    assert gitlab.file(project, ".gitlab-ci.yml", "release") == RENDERED  # left where it was
    assert gitlab.file(project, ".gitlab-ci.yml", "master") == RENDERED
    assert after["variables"] == before["variables"]
    (warning,) = moved_warnings(caplog)
    assert "moved from https://gitlab.com/acme/web (branch release) to https://gitlab.com/acme/web (branch master)" \
        in warning
    # The variables are the project's, not the branch's: the pipelines on master use them, so they are not
    # among what is left behind.
    assert "the file .gitlab-ci.yml." in warning and "CI/CD variables" not in warning


def test_moving_to_another_gitlab_with_the_same_project_path_is_a_move(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str, caplog: pytest.LogCaptureFixture) -> None:
    before = PLUGIN.create(options(), ctx) | {"gitlab": "https://gitlab.example.com"}
    caplog.set_level(logging.WARNING)

    PLUGIN.update(options(), recorded(ctx, before))

    (warning,) = moved_warnings(caplog)
    assert "moved from https://gitlab.example.com/acme/web (branch master) to https://gitlab.com/acme/web" in warning


def test_an_update_with_the_record_of_the_same_place_warns_of_nothing_and_removes_dropped_variables(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str, caplog: pytest.LogCaptureFixture) -> None:
    before = PLUGIN.create(options(), ctx)
    caplog.set_level(logging.WARNING)

    after = PLUGIN.update(options(variables={}), recorded(ctx, before))

    assert moved_warnings(caplog) == []
    assert after["variables"] == ["IMAGE_REPO_PASSWORD", "IMAGE_REPO_USER"]
    assert sorted(v["key"] for v in gitlab.project(project).variables) == after["variables"]


def test_a_record_from_before_dtm_kept_the_place_is_not_drift_and_removes_nothing(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str, caplog: pytest.LogCaptureFixture) -> None:
    status = PLUGIN.create(options(), ctx)
    from_before = {k: v for k, v in status.items() if k not in ("gitlab", "project", "branch")}
    untouched = Snapshot.of(gitlab, project)
    caplog.set_level(logging.WARNING)

    # Read gives what was recorded (the planner compares every field), so the plan is empty...
    assert PLUGIN.read(options(), recorded(ctx, from_before)) == from_before
    # ...and an update made with it anyway (for another reason) cannot tell where the record was made: it warns
    # of no move and changes nothing; it records the place from now on.
    after = PLUGIN.update(options(), recorded(ctx, from_before))

    assert moved_warnings(caplog) == []
    assert Snapshot.of(gitlab, project) == untouched
    assert after == status


def test_delete_acts_only_on_the_project_the_options_name_whatever_the_record_says(
        gitlab: GitLabStandIn, ctx: PluginContext, project: str, caplog: pytest.LogCaptureFixture) -> None:
    gitlab.add_project(OLD_PROJECT, {"main.go": b"package main\n"}, branch="master")
    before = PLUGIN.create(at(options(), name="old-web"), ctx)
    PLUGIN.create(options(), ctx)  # acme/web holds the file and the variables too
    old_project = Snapshot.of(gitlab, OLD_PROJECT)
    caplog.set_level(logging.WARNING)

    # The config moved to acme/web and the tool is deleted before an apply recorded the move.
    PLUGIN.delete(options(), recorded(ctx, before))

    assert Snapshot.of(gitlab, OLD_PROJECT) == old_project
    assert gitlab.file(project, ".gitlab-ci.yml", "master") is None
    assert gitlab.project(project).variables == []
    (warning,) = moved_warnings(caplog)
    assert "moved from https://gitlab.com/acme/old-web (branch master)" in warning
