"""repo-scaffolding on GitHub (the stand-in): a repository dtm created is deleted with it, one it adopted is not.

GitHub cannot say who created a repository, so the plugin records it in its status (`created`) and reads it
back from the status dtm stored, which the engine hands every read, update and delete as `ctx.prior`. These
tests play the engine's part: each call after the first gets the previous call's status as its prior.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN, client_factory
from plugin_calls import RENDERED, recorded, scaffolding_context, scaffolding_options

from devstream.plugin import PluginContext
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin
from devstream.plugins.scm.base import git_blob_sha

PLUGIN = RepoScaffoldingPlugin()


@pytest.fixture
def ctx(standin: GitHubStandIn, tmp_path: Path) -> PluginContext:
    """A context with no record yet (a first create), whose HTTP goes to the stand-in; the template beside it."""
    return scaffolding_context(tmp_path, client_factory(standin))


def options(name: str = "shop", port: int = 8080) -> RepoScaffoldingOptions:
    return scaffolding_options({"scmType": "github", "owner": "octo", "name": name, "token": TOKEN}, port)


def test_a_repository_dtm_created_stays_created_and_is_deleted(ctx: PluginContext, standin: GitHubStandIn) -> None:
    assert PLUGIN.read(options(), ctx) is None

    status = PLUGIN.create(options(), ctx)

    assert status["created"] is True
    assert standin.files("octo/shop") == RENDERED
    assert PLUGIN.read(options(), recorded(ctx, status)) == status  # applying again: no drift

    # An update (a var changed) pushes to the repository dtm made: still dtm's to delete.
    updated = PLUGIN.update(options(port=9090), recorded(ctx, status))
    assert updated["created"] is True
    assert updated["files"]["app.py"] == git_blob_sha(b"PORT = 9090\n")
    assert PLUGIN.read(options(port=9090), recorded(ctx, updated)) == updated

    PLUGIN.delete(options(port=9090), recorded(ctx, updated))
    assert "octo/shop" not in standin.repos
    PLUGIN.delete(options(port=9090), recorded(ctx, updated))  # already gone: success
    assert standin.calls("DELETE") == ["DELETE /repos/octo/shop"]  # the second delete only looked


def test_an_adopted_repository_is_filled_but_left_in_place(ctx: PluginContext, standin: GitHubStandIn,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    standin.add_repo("octo/shop", files={"LICENSE": b"MIT\n"})

    status = PLUGIN.create(options(), ctx)

    assert status["created"] is False
    assert PLUGIN.read(options(), recorded(ctx, status)) == status
    assert PLUGIN.update(options(), recorded(ctx, status))["created"] is False
    with caplog.at_level(logging.WARNING):
        PLUGIN.delete(options(), recorded(ctx, status))
    assert standin.files("octo/shop") == {"LICENSE": b"MIT\n", **RENDERED}
    assert standin.calls("DELETE") == []
    assert "https://github.com/octo/shop was not created by dtm" in caplog.text


def test_a_repository_deleted_outside_dtm(ctx: PluginContext, standin: GitHubStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    del standin.repos["octo/shop"]

    assert PLUGIN.read(options(), recorded(ctx, status)) is None  # the plan: create it again
    PLUGIN.delete(options(), recorded(ctx, status))  # or destroy: nothing to delete is success
    assert standin.calls("DELETE") == []


def test_an_adopted_repository_deleted_outside_dtm_is_created_by_the_next_apply(ctx: PluginContext,
                                                                               standin: GitHubStandIn) -> None:
    standin.add_repo("octo/shop", files={"LICENSE": b"MIT\n"})
    adopted = PLUGIN.create(options(), ctx)
    del standin.repos["octo/shop"]

    recreated = PLUGIN.create(options(), recorded(ctx, adopted))

    assert adopted["created"] is False and recreated["created"] is True
    PLUGIN.delete(options(), recorded(ctx, recreated))
    assert "octo/shop" not in standin.repos


def test_a_record_of_another_repository_does_not_make_this_one_dtms(ctx: PluginContext,
                                                                   standin: GitHubStandIn) -> None:
    """destinationRepo changed to a repository that exists: the record says dtm created the old one only."""
    created = PLUGIN.create(options("shop"), ctx)
    standin.add_repo("octo/store", files={"LICENSE": b"MIT\n"})

    moved = PLUGIN.update(options("store"), recorded(ctx, created))

    assert moved["created"] is False
    PLUGIN.delete(options("store"), recorded(ctx, created))  # a delete with the old record: still not dtm's
    assert "LICENSE" in standin.files("octo/store")


def test_a_repository_re_made_by_hand_at_the_same_address_is_not_dtms(ctx: PluginContext,
                                                                     standin: GitHubStandIn) -> None:
    """dtm's repository is deleted outside dtm and someone makes one of the same name: it has a new id."""
    status = PLUGIN.create(options(), ctx)
    del standin.repos["octo/shop"]
    standin.add_repo("octo/shop", files={"LICENSE": b"MIT\n"})

    live = PLUGIN.read(options(), recorded(ctx, status))

    assert live is not None and (live["created"], live["repoID"]) == (False, str(standin.repo("octo/shop").id))
    assert live["repoID"] != status["repoID"]  # the plan shows the replacement as drift
    PLUGIN.delete(options(), recorded(ctx, status))
    assert standin.files("octo/shop")["LICENSE"] == b"MIT\n"


def test_a_record_from_before_created_was_kept_is_not_drift(ctx: PluginContext, standin: GitHubStandIn) -> None:
    """A status recorded before dtm kept `created`: read leaves it out too, and delete cannot tell, so keeps."""
    status: dict[str, Any] = PLUGIN.create(options(), ctx)
    del status["created"], status["repoID"]

    assert PLUGIN.read(options(), recorded(ctx, status)) == status
    assert PLUGIN.update(options(), recorded(ctx, status))["created"] is False  # an update records what it knows
    PLUGIN.delete(options(), recorded(ctx, status))
    assert standin.files("octo/shop") == RENDERED


# -- the commit dtm wrote --------------------------------------------------------------------------------

def head(standin: GitHubStandIn, full_name: str = "octo/shop") -> str:
    return standin.repo(full_name).refs["refs/heads/main"]


def test_the_status_names_the_commit_dtm_wrote(ctx: PluginContext, standin: GitHubStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    assert status["commit"] == head(standin)
    assert standin.history("octo/shop")[0]["message"].startswith("Scaffold shop from template")

    # An update with nothing to change makes no commit: the head it found is the commit it records.
    assert PLUGIN.update(options(), recorded(ctx, status)) == status
    assert len(standin.history("octo/shop")) == 1


def test_commits_pushed_on_top_of_dtms_are_not_drift(ctx: PluginContext, standin: GitHubStandIn) -> None:
    status = PLUGIN.create(options(), ctx)

    # Another tool adds a CI file, then a developer commits: the head moves twice, dtm's commit stays below.
    standin.commit_files("octo/shop", {".github/workflows/ci.yml": b"on: push\n"}, "ci")
    standin.commit_files("octo/shop", {"CONTRIBUTING.md": b"be nice\n"}, "docs")
    assert head(standin) != status["commit"]

    assert PLUGIN.read(options(), recorded(ctx, status)) == status


def test_a_force_push_that_drops_dtms_commit_is_drift_and_the_update_pushes_again(ctx: PluginContext,
                                                                                  standin: GitHubStandIn) -> None:
    standin.add_repo("octo/shop", files={"LICENSE": b"MIT\n"})
    seed = head(standin)
    status = PLUGIN.create(options(), ctx)

    # Somebody force-pushes main back to before dtm's commit, with a commit of their own on top.
    theirs = standin.force_push("octo/shop", {"LICENSE": b"MIT\n", "NOTICE": b"ours\n"}, "theirs", parents=(seed,))

    live = PLUGIN.read(options(), recorded(ctx, status))
    assert live is not None and live["commit"] is None  # the plan line: commit: "<dtm's sha>" -> null
    assert live["files"] == {p: None for p in RENDERED}

    again = PLUGIN.update(options(), recorded(ctx, status))

    assert again == {**status, "commit": head(standin)}
    assert standin.history("octo/shop")[0]["parents"] == [theirs]  # a new commit on top of what is there now
    assert standin.files("octo/shop") == {"LICENSE": b"MIT\n", "NOTICE": b"ours\n", **RENDERED}
    assert PLUGIN.read(options(), recorded(ctx, again)) == again


def test_a_record_from_before_commit_was_kept_is_not_drift(ctx: PluginContext, standin: GitHubStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    old: dict[str, Any] = {k: v for k, v in status.items() if k != "commit"}

    assert PLUGIN.read(options(), recorded(ctx, old)) == old
    assert standin.calls("GET", "/compare/") == []  # no commit recorded, none to look for
    assert PLUGIN.update(options(), recorded(ctx, old)) == status  # the update records it
