"""The webhook a config asks for (`Webhook`), what a system reports (`WebhookInfo`), and the table of events."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from devstream.plugins.scm.base import WEBHOOK_EVENTS, Webhook, WebhookInfo


def test_a_webhook_is_an_http_url_and_a_set_of_event_names() -> None:
    hook = Webhook(url=" https://ci.example.com/hook ", events=["push", "pull_request", "push"])

    assert hook.url == "https://ci.example.com/hook"
    assert hook.events == ["pull_request", "push"]  # a set: sorted, each once
    assert Webhook(url="http://10.0.0.5:8080/x").events == ["push"]  # GitHub's and GitLab's usual default


@pytest.mark.parametrize(("fields", "error"), [
    ({"url": "ftp://ci.example.com/hook"}, r"http\(s\) address with a host"),
    ({"url": "https:///no-host"}, r"http\(s\) address with a host"),
    ({"url": "https://ci.example.com", "events": []}, "at least 1 item"),
    ({"url": "https://ci.example.com", "events": ["Push"]}, "lower-case names"),
    ({"url": "https://ci.example.com", "events": ["pull request"]}, "lower-case names"),
    ({"url": "https://ci.example.com", "content_type": "form"}, "Extra inputs are not permitted"),
])
def test_what_a_webhook_refuses(fields: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Webhook.model_validate(fields)


def test_the_secret_and_a_token_in_the_url_are_never_printed() -> None:
    hook = Webhook(url="https://user:pw@ci.example.com/hook?token=qtok#frag", secret=SecretStr("whsec-4711"))
    info = WebhookInfo(id="1", url=hook.url, events=["push"])

    assert "whsec-4711" not in hook.model_dump_json()  # dumped for a state file or a log: still hidden
    for text in (repr(hook), str(hook), repr(info), str(info)):
        assert "whsec-4711" not in text and "pw" not in text and "qtok" not in text
        assert "https://ci.example.com/hook" in text
    assert hook.secret is not None and hook.secret.get_secret_value() == "whsec-4711"


def test_an_info_matches_the_hook_it_reports_as_far_as_the_system_tells() -> None:
    hook = Webhook(url="https://ci.example.com/hook", events=["push"], secret=SecretStr("s"))
    github = WebhookInfo(id="7", url=hook.url, events=["push"], has_secret=True)
    gitlab = WebhookInfo(id="7", url=hook.url, events=["push"], has_secret=None)

    assert github.matches(hook) and gitlab.matches(hook)
    assert not github.model_copy(update={"has_secret": False}).matches(hook)  # the secret was removed by hand
    assert gitlab.matches(hook.model_copy(update={"secret": None}))  # GitLab cannot tell: not drift
    assert not github.model_copy(update={"events": ["issues", "push"]}).matches(hook)
    assert not github.model_copy(update={"content_type": "form"}).matches(hook)
    assert not github.model_copy(update={"insecure_ssl": True}).matches(hook)
    assert not github.model_copy(update={"active": False}).matches(hook)


def test_every_event_of_the_table_is_named_for_github_and_exists_somewhere() -> None:
    for event, mapping in WEBHOOK_EVENTS.items():
        assert mapping.github in (event, None), event  # a config names an event as GitHub does
        assert mapping.github or mapping.gitlab, event
        if mapping.github is None or mapping.gitlab is None:
            assert mapping.instead, f"{event}: say what to use where it is missing"
    gitlab_flags = [m.gitlab for m in WEBHOOK_EVENTS.values() if m.gitlab]
    assert len(gitlab_flags) == len(set(gitlab_flags))  # one event per flag, so a hook reads back as it was put
