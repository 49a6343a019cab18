"""GitLabClient's project webhooks against the stand-in: dtm's event names become GitLab's flags, one hook per
URL is updated in place, and the secret (GitLab's hook token) never shows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from gitlab_standin import GitLabStandIn
from pydantic import SecretStr

from devstream.errors import PermanentError
from devstream.plugin.base import PluginContext
from devstream.plugins.scm.base import WEBHOOK_EVENTS, RepoSpec, Webhook
from devstream.plugins.scm.gitlab import GitLabClient, gitlab_hook_flags

TOKEN = "glpat-standin-0123456789"
HOOK = "https://ci.example.com/gitlab-hook"
SECRET = "hook-token-never-shown-42"


@pytest.fixture
def client(ctx: PluginContext) -> GitLabClient:
    return GitLabClient(RepoSpec(scmType="gitlab", org="acme", name="web", token=SecretStr(TOKEN)), ctx)


def client_of(gitlab: GitLabStandIn, tmp_path: Path) -> GitLabClient:
    """A client for acme/web on `gitlab`."""
    ctx = PluginContext(name="gitlab-ci", instance_id="web", workdir=tmp_path, client_factory=gitlab.client_factory)
    return GitLabClient(RepoSpec(scmType="gitlab", org="acme", name="web", token=SecretStr(TOKEN)), ctx)


def flags_on(hook: dict[str, Any]) -> set[str]:
    return {k for k, v in hook.items() if k.endswith("_events") and v is True}


def test_a_webhook_is_created_then_updated_in_place(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")

    made = client.put_webhook(Webhook(url=HOOK, events=["pull_request"], secret=SecretStr(SECRET)))

    stored = gitlab.hook("acme/web", HOOK)
    assert stored is not None and stored["token"] == SECRET
    # push_events is off although GitLab turns it on when a create leaves it out
    assert flags_on(stored) == {"merge_requests_events"} and stored["enable_ssl_verification"] is True
    assert made.events == ["pull_request"] and made.has_secret is None  # GitLab never says

    changed = client.put_webhook(Webhook(url=HOOK, events=["push", "tag_push"], insecure_ssl=True))

    assert changed.id == made.id and len(gitlab.project("acme/web").hooks) == 1
    assert flags_on(stored) == {"push_events", "tag_push_events"} and stored["enable_ssl_verification"] is False
    assert stored["token"] == ""  # declared without a secret: the old one is removed
    assert changed.events == ["push", "tag_push"] and changed.insecure_ssl
    assert [r.method for r in gitlab.calls(contains="/hooks")] == ["GET", "POST", "GET", "PUT"]
    assert client.list_webhooks() == [changed]


def test_every_event_of_the_table_round_trips(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    everything = sorted(e for e, m in WEBHOOK_EVENTS.items() if m.gitlab)

    made = client.put_webhook(Webhook(url=HOOK, events=everything))

    assert made.events == everything and made.matches(Webhook(url=HOOK, events=everything))


def test_events_gitlab_cannot_deliver_are_refused_by_name(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")

    with pytest.raises(PermanentError, match="GitLab webhooks have no 'workflow_run' event; they can deliver push"):
        client.put_webhook(Webhook(url=HOOK, events=["push", "workflow_run"]))
    with pytest.raises(PermanentError, match="GitLab cannot pause a project webhook"):
        client.put_webhook(Webhook(url=HOOK, active=False))

    assert gitlab.requests == []
    assert gitlab_hook_flags(["push"])["merge_requests_events"] is False  # every flag is sent, off unless asked


@pytest.mark.parametrize("keyset", [False, True])
def test_the_listing_follows_every_page_so_a_late_hook_is_still_found(tmp_path: Path, keyset: bool) -> None:
    gitlab = GitLabStandIn(keyset_pagination=keyset)
    gitlab.add_project("acme/web")
    urls = [f"https://hooks.example.com/{i:03d}" for i in range(130)]
    for url in urls:
        gitlab.add_hook("acme/web", url)
    client = client_of(gitlab, tmp_path)

    assert sorted(h.url for h in client.list_webhooks()) == urls
    assert len(gitlab.calls("GET", "/hooks")) == 2

    client.put_webhook(Webhook(url=urls[-1], events=["release"]))  # on the second page
    assert len(gitlab.project("acme/web").hooks) == 130 and not gitlab.calls("POST", "/hooks")
    assert flags_on(gitlab.hook("acme/web", urls[-1]) or {}) == {"releases_events"}


def test_delete_removes_the_hook_and_one_already_gone_is_fine(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    client.put_webhook(Webhook(url=HOOK))
    other = client.put_webhook(Webhook(url="https://other.example.com/hook"))

    client.delete_webhook(HOOK)
    client.delete_webhook(HOOK)

    assert [h.id for h in client.list_webhooks()] == [other.id]
    assert len(gitlab.calls("DELETE", "/hooks/")) == 1


def test_a_missing_project_has_no_webhooks_and_cannot_get_one(client: GitLabClient) -> None:
    assert client.list_webhooks() == []
    client.delete_webhook(HOOK)
    with pytest.raises(PermanentError, match="the project does not exist"):
        client.put_webhook(Webhook(url=HOOK))


def test_the_secret_and_a_credential_in_the_url_never_reach_logs_or_errors(
        gitlab: GitLabStandIn, client: GitLabClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.add_project("acme/web")
    url = "https://ci.example.com/hook?token=url-cred-0815"
    hook = Webhook(url=url, events=["push"], secret=SecretStr(SECRET))
    # A GitLab that refuses the first create, quoting the request back in its error.
    gitlab.refuse("POST", r"/hooks$", 422, {"token": [f"{SECRET} is weak"], "url": [url]}, times=1)

    with pytest.raises(PermanentError) as refused:
        client.put_webhook(hook)
    made = client.put_webhook(hook)
    client.delete_webhook(url)

    assert (gitlab.hook("acme/web", url) is None) and gitlab.calls("DELETE", "/hooks/")
    for text in (str(refused.value), caplog.text, repr(hook), repr(made)):
        assert SECRET not in text and "url-cred-0815" not in text
    assert "***" in str(refused.value) and "created webhook" in caplog.text


def test_webhook_calls_are_retried_after_the_time_gitlab_asks(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    gitlab.fail_next(2, status=429, retry_after="4")

    client.put_webhook(Webhook(url=HOOK))

    assert gitlab.sleeps == [4.0, 4.0] and gitlab.hook("acme/web", HOOK) is not None


def test_a_token_without_the_maintainer_role_is_told_so(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    gitlab.fail_next(1, status=403, retry_after=None)

    with pytest.raises(PermanentError, match="webhooks need the Maintainer role"):
        client.list_webhooks()


def test_the_standin_answers_like_gitlab(gitlab: GitLabStandIn) -> None:
    gitlab.add_project("acme/web")
    api = httpx.Client(transport=httpx.MockTransport(gitlab), base_url="https://gitlab.com/api/v4",
                       headers={"PRIVATE-TOKEN": TOKEN})
    hooks = "/projects/acme%2Fweb/hooks"

    no_url = api.post(hooks, json={"push_events": True})
    bad_url = api.post(hooks, json={"url": "ftp://ci.example.com/x"})
    made = api.post(hooks, json={"url": HOOK, "token": SECRET})

    assert (no_url.status_code, no_url.json()) == (400, {"error": "url is missing"})
    assert (bad_url.status_code, bad_url.json()["message"]) == (422, "Invalid url given")
    assert made.status_code == 201 and made.json()["push_events"] is True  # GitLab's default
    assert "token" not in made.json() and SECRET not in api.get(hooks).text
    assert api.get(f"{hooks}/999999").status_code == 404
    assert api.put(f"{hooks}/999999", json={"url": HOOK}).status_code == 404
    assert api.get("/projects/acme%2Fnowhere/hooks").status_code == 404
    assert api.get(hooks, headers={"PRIVATE-TOKEN": "wrong"}).status_code == 401
