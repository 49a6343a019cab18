"""GitHubClient's webhooks against the stand-in: one hook per URL, updated in place, the secret never shown.

Every request these tests make is also checked against GitHub's OpenAPI description (see conftest.py).
"""

from __future__ import annotations

import logging

import httpx
import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from pydantic import SecretStr

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec, Webhook
from devstream.plugins.scm.github import GitHubClient

HOOK = "https://ci.example.com/github-hook"
SECRET = "whsec-do-not-show-4711"


@pytest.fixture
def client(ctx: PluginContext) -> GitHubClient:
    return GitHubClient(RepoSpec(scmType="github", owner="octo", name="web", token=SecretStr(TOKEN)), ctx)


def test_a_webhook_is_created_then_updated_in_place(client: GitHubClient, standin: GitHubStandIn) -> None:
    repo = standin.add_repo("octo/web")

    made = client.put_webhook(Webhook(url=HOOK, events=["push"], secret=SecretStr(SECRET)))

    (stored,) = repo.hooks.values()
    assert stored.config == {"url": HOOK, "content_type": "json", "insecure_ssl": "0", "secret": SECRET}
    assert (made.id, made.events, made.has_secret, made.content_type) == (str(stored.id), ["push"], True, "json")

    # Same URL again, other settings: the same hook changes; no second one appears.
    changed = client.put_webhook(Webhook(url=HOOK, events=["pull_request", "push"], insecure_ssl=True))

    assert changed.id == made.id and list(repo.hooks) == [stored.id]
    assert changed.events == ["pull_request", "push"] and changed.insecure_ssl
    assert changed.has_secret is False and "secret" not in stored.config  # declared without one: removed
    assert standin.calls("POST", "/hooks") == ["POST /repos/octo/web/hooks"]
    assert standin.calls("PATCH", "/hooks") == [f"PATCH /repos/octo/web/hooks/{stored.id}"]
    assert client.list_webhooks() == [changed]


def test_a_hand_made_hook_is_read_back_and_brought_in_line(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.add_hook("octo/web", HOOK, ["push"], content_type="form")  # GitHub's settings page default
    wanted = Webhook(url=HOOK, events=["push"])

    (before,) = client.list_webhooks()
    assert before.content_type == "form" and not before.matches(wanted)

    after = client.put_webhook(wanted)

    assert after.id == before.id and after.matches(wanted)


def test_the_listing_follows_every_page_so_a_late_hook_is_still_found(client: GitHubClient,
                                                                     standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    urls = [f"https://hooks.example.com/{i:03d}" for i in range(230)]
    for url in urls:
        standin.add_hook("octo/web", url)

    assert sorted(h.url for h in client.list_webhooks()) == urls
    pages = standin.calls("GET", "/hooks")
    assert len(pages) == 3 and pages[1].startswith("GET /repositories/")

    # The hook for the last URL is on the third page: found and updated, not created a second time.
    client.put_webhook(Webhook(url=urls[-1], events=["release"]))
    assert len(standin.repo("octo/web").hooks) == 230 and not standin.calls("POST", "/hooks")


def test_delete_removes_the_hook_and_one_already_gone_is_fine(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    client.put_webhook(Webhook(url=HOOK))
    other = client.put_webhook(Webhook(url="https://other.example.com/hook"))

    client.delete_webhook(HOOK)
    client.delete_webhook(HOOK)

    assert [h.id for h in client.list_webhooks()] == [other.id]
    assert len(standin.calls("DELETE", "/hooks/")) == 1  # the second delete found nothing to remove


def test_a_missing_repository_has_no_webhooks_and_cannot_get_one(ctx: PluginContext, standin: GitHubStandIn) -> None:
    client = GitHubClient(RepoSpec(scmType="github", owner="octo", name="nowhere", token=SecretStr(TOKEN)), ctx)

    assert client.list_webhooks() == []
    client.delete_webhook(HOOK)  # nothing there: success
    with pytest.raises(PermanentError, match="set the webhook for .*: the repository does not exist"):
        client.put_webhook(Webhook(url=HOOK))


def test_a_token_without_admin_rights_is_told_why_github_says_404(client: GitHubClient,
                                                                   standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.inject("GET", r"/hooks$", 404, message="Not Found")  # what GitHub answers a non-admin

    with pytest.raises(PermanentError, match="admin:repo_hook"):
        client.list_webhooks()


def test_two_hooks_for_one_url_are_not_guessed_between(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.add_hook("octo/web", HOOK, ["push"])
    standin.add_hook("octo/web", HOOK, ["issues"])  # GitHub allows it when the events do not overlap

    with pytest.raises(PermanentError, match="2 webhooks deliver to that URL"):
        client.put_webhook(Webhook(url=HOOK))

    client.delete_webhook(HOOK)  # deleting the URL's webhook removes both
    assert standin.repo("octo/web").hooks == {}


def test_events_only_gitlab_has_are_refused_by_name_before_any_request(client: GitHubClient,
                                                                        standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")

    with pytest.raises(PermanentError, match="no 'tag_push' event; GitHub's push event covers tag pushes"):
        client.put_webhook(Webhook(url=HOOK, events=["push", "tag_push"]))

    assert standin.requests == []


def test_github_only_events_pass_through(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")

    made = client.put_webhook(Webhook(url=HOOK, events=["workflow_run", "create"]))

    assert made.events == ["create", "workflow_run"]


def test_the_secret_and_a_credential_in_the_url_never_reach_logs_or_errors(
        client: GitHubClient, standin: GitHubStandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.add_repo("octo/web")
    url = "https://ci.example.com/hook?token=url-cred-0815"
    hook = Webhook(url=url, events=["push"], secret=SecretStr(SECRET))
    # A server that quotes the request back in its error.
    standin.inject("POST", r"/hooks$", 422, message=f"bad config: secret {SECRET} for {url}")

    with pytest.raises(PermanentError) as refused:
        client.put_webhook(hook)
    made = client.put_webhook(hook)
    client.delete_webhook(url)

    assert standin.calls("DELETE", "/hooks/")  # it did go through, and was logged
    for text in (str(refused.value), caplog.text, repr(hook), str(hook), repr(made)):
        assert SECRET not in text and "url-cred-0815" not in text
    assert SECRET not in made.model_dump_json()  # the info holds no secret at all, only that there is one
    assert "***" in str(refused.value)
    assert "created webhook" in caplog.text and "https://ci.example.com/hook" in caplog.text


def test_webhook_calls_honour_rate_limits(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.inject("GET", r"/hooks$", 429, headers={"retry-after": "5"})

    client.put_webhook(Webhook(url=HOOK))

    assert standin.sleeps == [5.0]
    # A PATCH refused by a rate limit that has already reset is sent again at once.
    standin.inject("PATCH", r"/hooks/\d+$", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"},
                   message="API rate limit exceeded")
    client.put_webhook(Webhook(url=HOOK, events=["issues"]))
    assert standin.sleeps == [5.0, 0.0]
    assert [h.events for h in standin.repo("octo/web").hooks.values()] == [["issues"]]


def test_the_standin_refuses_what_github_refuses(standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    api = httpx.Client(transport=standin.transport(), base_url="https://api.github.com",
                       headers={"Authorization": f"Bearer {TOKEN}"})
    hooks = "/repos/octo/web/hooks"

    no_url = api.post(hooks, json={"config": {"content_type": "json"}})
    bad_event = api.post(hooks, json={"config": {"url": HOOK}, "events": ["pushed"]})
    first = api.post(hooks, json={"config": {"url": HOOK, "secret": SECRET}, "events": ["push", "issues"]})
    overlap = api.post(hooks, json={"config": {"url": HOOK}, "events": ["issues"]})
    apart = api.post(hooks, json={"config": {"url": HOOK}, "events": ["release"]})

    assert (no_url.status_code, no_url.json()["errors"][0]["message"]) == (422, "Config must contain URL for webhooks")
    assert bad_event.status_code == 422
    assert first.status_code == 201 and first.json()["config"]["secret"] == "********"
    assert overlap.json()["errors"][0]["message"] == "Hook already exists on this repository"
    assert apart.status_code == 201
    assert api.get(f"{hooks}/999999").status_code == 404
    assert api.delete(f"{hooks}/999999").status_code == 404
    assert api.get("/repos/octo/nowhere/hooks").status_code == 404
    assert api.get(hooks, headers={"Authorization": "Bearer wrong"}).status_code == 401
