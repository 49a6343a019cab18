"""repo-scaffolding on GitLab (the stand-in): a project dtm created is deleted with it, one it adopted is not.

GitLab cannot say who created a project, so the plugin records it in its status (`created`) and reads it back
from the status dtm stored, which the engine hands every read, update and delete as `ctx.prior`. These tests
play the engine's part: each call after the first gets the previous call's status as its prior.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandIn
from plugin_calls import RENDERED, recorded, scaffolding_context, scaffolding_options

from devstream.plugin import PluginContext
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin

PLUGIN = RepoScaffoldingPlugin()
TOKEN = "glpat-standin-0123456789"


@pytest.fixture
def ctx(gitlab: GitLabStandIn, tmp_path: Path) -> PluginContext:
    """A context with no record yet (a first create), whose HTTP goes to the stand-in; the template beside it."""
    return scaffolding_context(tmp_path, gitlab.client_factory)


def options(port: int = 8080) -> RepoScaffoldingOptions:
    shop = {"scmType": "gitlab", "org": "acme", "name": "shop", "branch": "main", "token": TOKEN}
    return scaffolding_options(shop, port)


def test_a_project_dtm_created_stays_created_and_is_deleted(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(), ctx)

    assert status["created"] is True
    assert gitlab.files("acme/shop") == RENDERED
    assert PLUGIN.read(options(), recorded(ctx, status)) == status  # applying again: no drift

    updated = PLUGIN.update(options(port=9090), recorded(ctx, status))  # a var changed: a new commit, same project
    assert updated["created"] is True
    assert gitlab.files("acme/shop")["app.py"] == b"PORT = 9090\n"

    PLUGIN.delete(options(port=9090), recorded(ctx, updated))
    assert "acme/shop" not in gitlab.projects
    PLUGIN.delete(options(port=9090), recorded(ctx, updated))  # already gone: success


def test_an_adopted_project_is_filled_but_left_in_place(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    gitlab.add_project("acme/shop", {"LICENSE": b"MIT\n"})

    status = PLUGIN.create(options(), ctx)

    assert status["created"] is False
    assert PLUGIN.read(options(), recorded(ctx, status)) == status
    PLUGIN.delete(options(), recorded(ctx, status))
    assert gitlab.files("acme/shop") == {"LICENSE": b"MIT\n", **RENDERED}
    assert gitlab.calls("DELETE") == []


def test_a_project_deleted_outside_dtm(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    del gitlab.projects["acme/shop"]

    assert PLUGIN.read(options(), recorded(ctx, status)) is None  # the plan: create it again
    PLUGIN.delete(options(), recorded(ctx, status))  # or destroy: nothing to delete is success
    assert gitlab.calls("DELETE") == []


# -- the commit dtm wrote ------------------------------------------------------------------------------------

def head(gitlab: GitLabStandIn) -> str:
    return gitlab.project("acme/shop").branches["main"].sha


def test_the_status_names_the_commit_dtm_wrote(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    assert status["commit"] == head(gitlab)

    # An update with nothing to change makes no commit: the head it found is the commit it records.
    assert PLUGIN.update(options(), recorded(ctx, status)) == status
    assert gitlab.project("acme/shop").commits == 1


def test_commits_pushed_on_top_of_dtms_are_not_drift(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(), ctx)

    # Another tool adds a CI file, then a developer edits in the web editor: two commits on top of dtm's.
    gitlab.edit("acme/shop", ".gitlab-ci.yml", b"test: {script: [make]}\n")
    gitlab.edit("acme/shop", "CONTRIBUTING.md", b"be nice\n")
    assert head(gitlab) != status["commit"]

    assert PLUGIN.read(options(), recorded(ctx, status)) == status


def test_a_force_push_that_drops_dtms_commit_is_drift_and_the_update_pushes_again(ctx: PluginContext,
                                                                                  gitlab: GitLabStandIn) -> None:
    gitlab.add_project("acme/shop", {"LICENSE": b"MIT\n"})
    seed = head(gitlab)
    status = PLUGIN.create(options(), ctx)

    # Somebody force-pushes main back to before dtm's commit.
    rewritten = gitlab.force_push("acme/shop", {"LICENSE": b"MIT\n"}, "back to the seed", parents=(seed,)).sha

    live = PLUGIN.read(options(), recorded(ctx, status))
    assert live is not None and live["commit"] is None  # the plan line: commit: "<dtm's sha>" -> null
    assert live["files"] == {p: None for p in RENDERED}

    again = PLUGIN.update(options(), recorded(ctx, status))

    assert again == {**status, "commit": head(gitlab)}
    assert gitlab.project("acme/shop").branches["main"].parents == [rewritten]  # a new commit, on what is there
    assert gitlab.files("acme/shop") == {"LICENSE": b"MIT\n", **RENDERED}
    assert PLUGIN.read(options(), recorded(ctx, again)) == again


def test_a_record_from_before_commit_was_kept_is_not_drift(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    old: dict[str, Any] = {k: v for k, v in status.items() if k != "commit"}

    assert PLUGIN.read(options(), recorded(ctx, old)) == old
    assert gitlab.calls("GET", "/merge_base") == []  # no commit recorded, none to look for
    assert PLUGIN.update(options(), recorded(ctx, old)) == status  # the update records it
