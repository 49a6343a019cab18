"""ci-generic's webhooks on GitHub (the stand-in): a Jenkins outside GitHub is triggered by a repository webhook
that ci-generic puts beside the Jenkinsfile it commits.

The story: create puts the hook and records what GitHub reports of it; reading it back gives exactly that
record, so applying again changes nothing; a hook edited or deleted on GitHub reads differently (drift) and
an update puts it back; a hook dropped from the options is removed, one made by hand never is; the secret is
never in the status or the logs. Last, what the options cannot ask for is refused when the config is loaded.
Every request sent to the stand-in is checked against GitHub's OpenAPI description (see conftest.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from plugin_calls import jenkins_options, recorded

from devstream.config import load_config
from devstream.errors import ConfigError
from devstream.jsonish import diff_paths, normalize
from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericOptions, CIGenericPlugin

PLUGIN = CIGenericPlugin()
JENKINS = "https://jenkins.example.com/github-webhook/"
DRONE = "https://drone.example.com/hook"
HAND_MADE = "https://chat.example.com/notify"
SECRET = "whsec-ci-generic-4711"


def options(*webhooks: dict[str, Any], repo: str = "web") -> CIGenericOptions:
    """A Jenkinsfile for octo/<repo>, and the webhooks given."""
    return jenkins_options({"scmType": "github", "owner": "octo", "name": repo, "token": TOKEN}, *webhooks)


def jenkins(**settings: Any) -> dict[str, Any]:
    return {"url": JENKINS, "events": ["push", "pull_request"], "secret": SECRET, **settings}


@pytest.fixture
def ctx(ctx: PluginContext) -> PluginContext:
    return dataclasses.replace(ctx, name="ci-generic", instance_id="web")


def drift(before: dict[str, Any], now: dict[str, Any] | None) -> list[str]:
    """The status fields the planner would name as drifted."""
    return diff_paths(normalize(before), normalize(now))


def test_create_puts_the_hook_and_applying_again_changes_nothing(ctx: PluginContext, standin: GitHubStandIn) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    status = PLUGIN.create(options(jenkins()), ctx)

    (hook,) = repo.hooks.values()
    assert hook.config == {"url": JENKINS, "content_type": "json", "insecure_ssl": "0", "secret": SECRET}
    assert sorted(hook.events) == ["pull_request", "push"] and hook.active
    assert "Jenkinsfile" in standin.files("octo/web")
    assert status["webhooks"] == {JENKINS: {"id": str(hook.id), "events": ["pull_request", "push"], "active": True,
                                            "insecure_ssl": False, "content_type": "json", "has_secret": True}}

    # What the planner compares: a read gives exactly the recorded status, so there is nothing to do.
    assert PLUGIN.read(options(jenkins()), recorded(ctx, status)) == status
    # An update all the same changes the hook in place: no second hook, the same record.
    assert PLUGIN.update(options(jenkins()), recorded(ctx, status)) == status
    assert list(repo.hooks) == [hook.id] and len(standin.calls("POST", "/hooks")) == 1


def test_a_hook_edited_on_github_is_drift_that_update_puts_back(ctx: PluginContext, standin: GitHubStandIn) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    status = PLUGIN.create(options(jenkins()), ctx)
    (hook,) = repo.hooks.values()

    # Someone narrows the events and drops the secret in GitHub's settings.
    hook.events = ["issues"]
    del hook.config["secret"]

    live = PLUGIN.read(options(jenkins()), recorded(ctx, status))
    assert drift(status, live) == [f"webhooks.{JENKINS}.events", f"webhooks.{JENKINS}.has_secret"]

    assert PLUGIN.update(options(jenkins()), recorded(ctx, status)) == status
    assert sorted(hook.events) == ["pull_request", "push"] and hook.config["secret"] == SECRET
    assert PLUGIN.read(options(jenkins()), recorded(ctx, status)) == status


def test_a_hook_deleted_on_github_is_drift_that_update_puts_back(ctx: PluginContext, standin: GitHubStandIn) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    status = PLUGIN.create(options(jenkins()), ctx)
    repo.hooks.clear()

    live = PLUGIN.read(options(jenkins()), recorded(ctx, status))
    assert live is not None and live["webhooks"] == {JENKINS: None}
    assert drift(status, live) == [f"webhooks.{JENKINS}"]

    again = PLUGIN.update(options(jenkins()), recorded(ctx, status))
    (hook,) = repo.hooks.values()
    assert again["webhooks"][JENKINS]["id"] == str(hook.id)  # a new hook, recorded as dtm's
    assert PLUGIN.read(options(jenkins()), recorded(ctx, again)) == again


def test_a_hook_dropped_from_the_options_is_removed_and_a_hand_made_one_stays(ctx: PluginContext,
                                                                            standin: GitHubStandIn) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    both = PLUGIN.create(options(jenkins(), {"url": DRONE}), ctx)
    standin.add_hook("octo/web", HAND_MADE, ["issues"])  # not dtm's
    assert sorted(both["webhooks"]) == [DRONE, JENKINS]

    one = PLUGIN.update(options(jenkins()), recorded(ctx, both))

    assert sorted(h.config["url"] for h in repo.hooks.values()) == [HAND_MADE, JENKINS]
    assert list(one["webhooks"]) == [JENKINS]
    assert PLUGIN.read(options(jenkins()), recorded(ctx, one)) == one

    PLUGIN.delete(options(jenkins()), recorded(ctx, one))
    assert [h.config["url"] for h in repo.hooks.values()] == [HAND_MADE]
    PLUGIN.delete(options(jenkins()), recorded(ctx, one))  # nothing left of dtm's: success all the same


def test_a_hook_made_by_hand_where_a_dropped_one_was_is_left_alone(ctx: PluginContext, standin: GitHubStandIn,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    both = PLUGIN.create(options(jenkins(), {"url": DRONE}), ctx)
    # dtm's Drone hook is deleted on GitHub and someone makes their own for the same URL.
    drone_id = int(both["webhooks"][DRONE]["id"])
    del repo.hooks[drone_id]
    theirs = standin.add_hook("octo/web", DRONE, ["release"])

    PLUGIN.update(options(jenkins()), recorded(ctx, both))  # Drone leaves the options

    assert theirs.id in repo.hooks  # the record names hook `drone_id`, not this one
    assert f"the webhook for {DRONE} is not the one dtm put (id {drone_id}); left alone" in caplog.text


def test_delete_removes_the_recorded_hooks_and_those_of_the_options(ctx: PluginContext,
                                                                    standin: GitHubStandIn) -> None:
    repo = standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    status = PLUGIN.create(options(jenkins()), ctx)
    standin.add_hook("octo/web", DRONE)  # the options now name Drone too, not yet applied
    standin.add_hook("octo/web", HAND_MADE)

    PLUGIN.delete(options({"url": DRONE}), recorded(ctx, status))

    assert [h.config["url"] for h in repo.hooks.values()] == [HAND_MADE]
    assert "Jenkinsfile" not in standin.files("octo/web")
    del standin.repos["octo/web"]
    PLUGIN.delete(options(jenkins()), recorded(ctx, status))  # a repository already gone: success


def test_a_record_of_another_repository_removes_no_hook_there(ctx: PluginContext, standin: GitHubStandIn,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    web = standin.add_repo("octo/web", files={"README.md": b"# web\n"})
    shop = standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    in_web = PLUGIN.create(options(jenkins()), ctx)
    # octo/shop has a hook of its own for the same URL, under the very id the record names: ids are only
    # unique on one server, and the tool may move to another (a GitHub Enterprise, say).
    theirs = standin.add_hook("octo/shop", JENKINS)
    del shop.hooks[theirs.id]
    theirs.id = int(in_web["webhooks"][JENKINS]["id"])
    shop.hooks[theirs.id] = theirs

    # The tool moves to octo/shop without webhooks; the record it is handed is of octo/web.
    PLUGIN.update(options(repo="shop"), recorded(ctx, in_web))
    PLUGIN.delete(options(repo="shop"), recorded(ctx, in_web))

    assert list(shop.hooks.values()) == [theirs]
    assert [h.config["url"] for h in web.hooks.values()] == [JENKINS]  # left where dtm put it, and said so
    assert ("the tool moved from https://github.com/octo/web (branch main) to https://github.com/octo/shop (branch "
            "main); what dtm made in the old place is left there: the CI files and webhooks") in caplog.text


def test_without_webhooks_the_status_is_as_before_and_no_hook_is_asked_for(ctx: PluginContext,
                                                                           standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    status = PLUGIN.create(options(), ctx)
    PLUGIN.read(options(), recorded(ctx, status))
    PLUGIN.update(options(), recorded(ctx, status))
    PLUGIN.delete(options(), recorded(ctx, status))

    assert set(status) == {"files", "outputs"}  # records made before webhooks existed read back the same
    assert standin.calls(contains="/hooks") == []  # a token without admin rights still does the files


def test_the_secret_is_never_in_the_status_or_the_logs(ctx: PluginContext, standin: GitHubStandIn,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.add_repo("octo/web", files={"README.md": b"# web\n"})

    status = PLUGIN.create(options(jenkins()), ctx)
    live = PLUGIN.read(options(jenkins()), recorded(ctx, status))
    PLUGIN.update(options(jenkins(events=["release"])), recorded(ctx, status))
    PLUGIN.delete(options(jenkins()), recorded(ctx, status))

    assert standin.calls("DELETE", "/hooks/")  # the hook went through every step...
    for text in (json.dumps(status), json.dumps(live), caplog.text, repr(options(jenkins()))):
        assert SECRET not in text  # ...and its secret showed nowhere
    assert status["webhooks"][JENKINS]["has_secret"] is True  # only that there is one


# -- refused when the config is loaded ---------------------------------------------------------------------
# Whatever the repository's system cannot hold fails `dtm validate`/`plan`/`apply` before anything runs, named
# by file, line and field.

def load(tmp_path: Path, repo: dict[str, Any], webhooks: list[dict[str, Any]]) -> list[str]:
    """The problems loading a config with one ci-generic tool reports, as `field: message`."""
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({"tools": [{"name": "ci-generic", "instanceID": "web", "options": {
        "projectRepo": repo,
        "ci": {"type": "jenkins", "configContents": {"Jenkinsfile": "pipeline {}\n"}, "webhooks": webhooks}}}]}))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    return [f"{issue.field}: {issue.message}" for issue in refused.value.issues]


GITHUB = {"scmType": "github", "owner": "octo", "name": "web"}
GITLAB = {"scmType": "gitlab", "org": "acme", "name": "web"}
GIT = {"scmType": "git", "url": "web.git"}
AT = "tools[0].options.ci.webhooks"


@pytest.mark.parametrize(("repo", "webhooks", "problem"), [
    pytest.param(GIT, [{"url": JENKINS}], f"{AT}: invalid value for plugin 'ci-generic': scmType git has no webhooks",
                 id="plain git has no webhooks"),
    pytest.param(GITHUB, [{"url": JENKINS}, {"url": DRONE}, {"url": JENKINS, "events": ["release"]}],
                 f"{AT}[2].url: invalid value for plugin 'ci-generic': webhook {JENKINS} is also ci.webhooks[0]",
                 id="one hook per URL"),
    pytest.param(GITHUB, [{"url": JENKINS, "events": ["push", "tag_push"]}],
                 f"{AT}[0].events: invalid value for plugin 'ci-generic': GitHub webhooks have no 'tag_push' event; "
                 f"GitHub's push event covers tag pushes too: use push", id="a GitLab-only event on GitHub"),
    pytest.param(GITLAB, [{"url": JENKINS, "events": ["workflow_run"]}],
                 f"{AT}[0].events: invalid value for plugin 'ci-generic': GitLab webhooks have no 'workflow_run' "
                 f"event", id="a GitHub-only event on GitLab"),
    pytest.param(GITLAB, [{"url": JENKINS, "active": False}],
                 f"{AT}[0].active: invalid value for plugin 'ci-generic': GitLab cannot pause a project webhook",
                 id="a paused hook on GitLab"),
    pytest.param(GITHUB, [{"url": "https://jenkins.example.com/generic-webhook-trigger/invoke?token=tok-0815"}],
                 f"{AT}[0].url: invalid value for plugin 'ci-generic': the url of webhook "
                 f"https://jenkins.example.com/generic-webhook-trigger/invoke carries credentials",
                 id="a token in the URL, which state would keep in clear"),
])
def test_what_the_repository_cannot_hold_is_refused_at_load_time(tmp_path: Path, repo: dict[str, Any],
                                                                  webhooks: list[dict[str, Any]],
                                                                  problem: str) -> None:
    (found,) = load(tmp_path, repo, webhooks)

    assert found.startswith(problem)
    assert "tok-0815" not in found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = load(tmp_path, GITHUB, [{"url": JENKINS, "events": ["pipeline"]}, {"url": JENKINS, "events": ["job"]}])

    assert [p.split(":")[0] for p in found] == [f"{AT}[0].events", f"{AT}[1].url", f"{AT}[1].events"]
