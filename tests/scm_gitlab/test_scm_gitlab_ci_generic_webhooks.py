"""ci-generic's webhooks on GitLab (the stand-in): a Jenkins outside GitLab is triggered by a project hook that
ci-generic puts beside the Jenkinsfile it commits.

As on GitHub: create puts the hook and records what GitLab reports of it (its event flags by dtm's names; GitLab
never says whether a hook has a token, so the record does not either); reading it back gives that record; a
hook edited or deleted in GitLab is drift that an update puts back; a hook dropped from the options goes, one
made by hand stays; the secret (GitLab's hook token) is never in the status or the logs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from gitlab_standin import GitLabStandIn
from plugin_calls import jenkins_options, recorded

from devstream.jsonish import diff_paths, normalize
from devstream.plugin.base import PluginContext
from devstream.plugins.ci_generic import CIGenericOptions, CIGenericPlugin

PLUGIN = CIGenericPlugin()
TOKEN = "glpat-standin-0123456789"
JENKINS = "https://jenkins.example.com/project/web"
DRONE = "https://drone.example.com/hook"
HAND_MADE = "https://chat.example.com/notify"
SECRET = "gitlab-hook-token-never-shown-7"


def options(*webhooks: dict[str, Any]) -> CIGenericOptions:
    return jenkins_options({"scmType": "gitlab", "org": "acme", "name": "web", "token": TOKEN}, *webhooks)


def jenkins(**settings: Any) -> dict[str, Any]:
    return {"url": JENKINS, "events": ["push", "tag_push", "pull_request"], "secret": SECRET, **settings}


def flags_on(hook: dict[str, Any] | None) -> set[str]:
    return {k for k, v in (hook or {}).items() if k.endswith("_events") and v is True}


@pytest.fixture
def ctx(ctx: PluginContext, gitlab: GitLabStandIn) -> PluginContext:
    """ci-generic's context, with the project acme/web in the stand-in."""
    gitlab.add_project("acme/web", {"README.md": b"# web\n"})
    return dataclasses.replace(ctx, name="ci-generic", instance_id="web")


def test_create_puts_the_hook_and_reading_it_back_gives_the_record(ctx: PluginContext, gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(jenkins()), ctx)

    hook = gitlab.hook("acme/web", JENKINS)
    assert hook is not None and hook["token"] == SECRET and hook["enable_ssl_verification"] is True
    assert flags_on(hook) == {"push_events", "tag_push_events", "merge_requests_events"}
    assert gitlab.file("acme/web", "Jenkinsfile") == b"pipeline { agent any }\n"
    assert status["webhooks"] == {JENKINS: {"id": str(hook["id"]), "events": ["pull_request", "push", "tag_push"],
                                            "active": True, "insecure_ssl": False, "content_type": "json"}}

    assert PLUGIN.read(options(jenkins()), recorded(ctx, status)) == status  # applying again: nothing to do
    assert PLUGIN.update(options(jenkins()), recorded(ctx, status)) == status
    assert len(gitlab.project("acme/web").hooks) == 1  # updated in place


def test_a_hook_edited_or_deleted_in_gitlab_is_drift_that_update_puts_back(ctx: PluginContext,
                                                                          gitlab: GitLabStandIn) -> None:
    status = PLUGIN.create(options(jenkins()), ctx)
    hook = gitlab.hook("acme/web", JENKINS)
    assert hook is not None

    # Someone switches merge request events off and SSL verification too.
    hook |= {"merge_requests_events": False, "enable_ssl_verification": False}
    live = PLUGIN.read(options(jenkins()), recorded(ctx, status))
    assert diff_paths(normalize(status), normalize(live)) == [f"webhooks.{JENKINS}.events",
                                                              f"webhooks.{JENKINS}.insecure_ssl"]
    assert PLUGIN.update(options(jenkins()), recorded(ctx, status)) == status
    assert flags_on(hook) == {"push_events", "tag_push_events", "merge_requests_events"}

    # Someone deletes it.
    gitlab.project("acme/web").hooks.clear()
    live = PLUGIN.read(options(jenkins()), recorded(ctx, status))
    assert live is not None and live["webhooks"] == {JENKINS: None}
    again = PLUGIN.update(options(jenkins()), recorded(ctx, status))
    assert gitlab.hook("acme/web", JENKINS) is not None
    assert PLUGIN.read(options(jenkins()), recorded(ctx, again)) == again


def test_a_hook_dropped_from_the_options_goes_and_a_hand_made_one_stays(ctx: PluginContext,
                                                                       gitlab: GitLabStandIn) -> None:
    both = PLUGIN.create(options(jenkins(), {"url": DRONE}), ctx)
    gitlab.add_hook("acme/web", HAND_MADE, issues_events=True)  # not dtm's

    one = PLUGIN.update(options(jenkins()), recorded(ctx, both))

    assert sorted(h["url"] for h in gitlab.project("acme/web").hooks) == [HAND_MADE, JENKINS]
    assert list(one["webhooks"]) == [JENKINS]

    PLUGIN.delete(options(jenkins()), recorded(ctx, one))
    assert [h["url"] for h in gitlab.project("acme/web").hooks] == [HAND_MADE]
    assert gitlab.file("acme/web", "Jenkinsfile") is None


def test_the_secret_is_never_in_the_status_or_the_logs(ctx: PluginContext, gitlab: GitLabStandIn,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    status = PLUGIN.create(options(jenkins()), ctx)
    live = PLUGIN.read(options(jenkins()), recorded(ctx, status))
    PLUGIN.update(options(jenkins(events=["release"])), recorded(ctx, status))
    PLUGIN.delete(options(jenkins()), recorded(ctx, status))

    assert gitlab.calls("DELETE", "/hooks/")  # the hook went through every step...
    for text in (json.dumps(status), json.dumps(live), caplog.text):
        assert SECRET not in text  # ...and its token showed nowhere
