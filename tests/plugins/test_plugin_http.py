"""The plugin HTTP client: what it retries, how long it waits, and what it never reveals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from devstream.errors import PermanentError, RateLimitError, TransientError
from devstream.plugin.http import RetryingTransport, http_client, raise_for_status, safe_url

Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """A scripted server: replies (or raises) in order, repeating the last; records every request."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

    @property
    def calls(self) -> int:
        return len(self.requests)


def client_for(server: Server, sleeps: list[float], **kwargs: object) -> httpx.Client:
    return http_client(
        base_url="https://api.example.com",
        transport=httpx.MockTransport(server),
        sleep=sleeps.append,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_503_is_retried_until_the_server_recovers() -> None:
    server = Server(httpx.Response(503), httpx.Response(503), httpx.Response(200, json={"ok": True}))
    sleeps: list[float] = []

    response = client_for(server, sleeps).get("/repos")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert server.calls == 3
    # No Retry-After: exponential backoff with full jitter: up to 0.5 s, then up to 1 s.
    assert len(sleeps) == 2
    assert all(0 <= s <= 0.5 * 2**n for n, s in enumerate(sleeps))


def test_retry_after_in_seconds_sets_the_wait() -> None:
    server = Server(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200))
    sleeps: list[float] = []

    assert client_for(server, sleeps).get("/x").status_code == 200
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_wait_bound_is_not_waited_and_the_error_names_the_reset() -> None:
    server = Server(httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200))
    sleeps: list[float] = []

    response = client_for(server, sleeps, max_wait=60.0).get("/x")

    assert response.status_code == 429 and server.calls == 1 and sleeps == []  # asking again now would be refused
    with pytest.raises(RateLimitError, match=r"rate limited \(429\); the limit resets at .* UTC \(in 60 min\)"):
        raise_for_status(response)


# -- rate limits: GitHub's 403/429 with Retry-After or X-RateLimit-Reset ------------------------------------------

def reset_in(seconds: float) -> dict[str, str]:
    return {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(datetime.now(UTC).timestamp() + seconds))}


@pytest.mark.parametrize("limited", [
    lambda: httpx.Response(403, headers={"Retry-After": "20"},
                           json={"message": "You have exceeded a secondary rate limit"}),
    lambda: httpx.Response(429, headers={"Retry-After": "20"}),
    lambda: httpx.Response(403, headers=reset_in(20), json={"message": "API rate limit exceeded"}),
    lambda: httpx.Response(429, headers={"ratelimit-remaining": "0",  # GitLab's names
                                         "ratelimit-reset": str(int(datetime.now(UTC).timestamp() + 20))}),
], ids=["403-retry-after", "429-retry-after", "403-ratelimit-reset", "429-gitlab-ratelimit-reset"])
def test_a_rate_limit_that_resets_soon_is_waited_out_then_the_request_goes_again(
        limited: Callable[[], httpx.Response]) -> None:
    server = Server(limited(), httpx.Response(200, json={"ok": True}))
    sleeps: list[float] = []

    response = client_for(server, sleeps).post("/repos", json={"name": "x"})  # not sent: safe to send again

    assert response.status_code == 200 and server.calls == 2
    assert len(sleeps) == 1 and 10 <= sleeps[0] <= 20  # the reset, as the header says (whole seconds)


def test_a_rate_limit_that_resets_later_than_dtm_waits_fails_at_once_naming_the_reset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTM_RATE_LIMIT_WAIT", "5")  # tests keep the bound tiny; the default is 60 s
    server = Server(httpx.Response(403, headers=reset_in(30), json={"message": "API rate limit exceeded"}))
    sleeps: list[float] = []

    response = client_for(server, sleeps).get("/repos/octo/web")

    assert response.status_code == 403 and server.calls == 1 and sleeps == []
    with pytest.raises(RateLimitError) as failed:
        raise_for_status(response)
    resets_at = failed.value.resets_at
    assert resets_at is not None and 25 <= (resets_at - datetime.now(UTC)).total_seconds() <= 31
    message = str(failed.value)
    assert f"resets at {resets_at.strftime('%Y-%m-%d %H:%M:%S')} UTC" in message
    assert "(in 30 s)" in message or "(in 29 s)" in message
    assert "DTM_RATE_LIMIT_WAIT" in message and "GET https://api.example.com/repos/octo/web" in message


def test_a_403_that_is_not_a_rate_limit_is_a_refusal_and_is_not_retried() -> None:
    server = Server(httpx.Response(403, json={"message": "Must have admin rights"}), httpx.Response(200))
    sleeps: list[float] = []

    response = client_for(server, sleeps).get("/x")

    assert response.status_code == 403 and server.calls == 1 and sleeps == []
    with pytest.raises(PermanentError) as failed:
        raise_for_status(response)
    assert not isinstance(failed.value, RateLimitError)


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_wrong_rate_limit_wait_setting_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DTM_RATE_LIMIT_WAIT", value)
    with pytest.raises(PermanentError, match=f"DTM_RATE_LIMIT_WAIT='{value}'"):
        client_for(Server(httpx.Response(200)), [])


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    server = Server(
        httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}), httpx.Response(200)
    )
    sleeps: list[float] = []

    assert client_for(server, sleeps).get("/x").status_code == 200
    assert len(sleeps) == 1
    assert 28 <= sleeps[0] <= 30  # the header has whole seconds


def test_when_attempts_run_out_on_a_status_the_last_response_is_returned() -> None:
    server = Server(httpx.Response(502, text="bad gateway"))
    sleeps: list[float] = []

    response = client_for(server, sleeps, attempts=3).get("/x")

    assert response.status_code == 502
    assert response.text == "bad gateway"
    assert server.calls == 3
    assert len(sleeps) == 2


def test_a_post_is_not_retried_on_500_as_it_may_have_been_applied() -> None:
    server = Server(httpx.Response(500), httpx.Response(201))
    sleeps: list[float] = []

    response = client_for(server, sleeps).post("/repos", json={"name": "x"})

    assert response.status_code == 500
    assert server.calls == 1
    assert sleeps == []


def test_a_post_is_retried_on_429_with_retry_after_and_resends_its_body() -> None:
    server = Server(httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(201))
    sleeps: list[float] = []

    response = client_for(server, sleeps).post("/repos", json={"name": "x"})

    assert response.status_code == 201
    assert sleeps == [2.0]
    assert [r.content for r in server.requests] == [b'{"name":"x"}'] * 2


def test_a_post_is_not_retried_on_429_without_retry_after() -> None:
    server = Server(httpx.Response(429), httpx.Response(201))

    assert client_for(server, []).patch("/repos/x", json={}).status_code == 429
    assert server.calls == 1


def test_a_post_is_retried_when_the_connection_was_never_made() -> None:
    server = Server(httpx.ConnectError("connection refused"), httpx.Response(201))

    assert client_for(server, []).post("/repos", json={}).status_code == 201
    assert server.calls == 2


def test_timeouts_that_never_end_raise_transient_error() -> None:
    server = Server(httpx.ReadTimeout("timed out"))
    sleeps: list[float] = []

    with pytest.raises(TransientError) as caught:
        client_for(server, sleeps, attempts=4).get("/slow?page=2")

    assert server.calls == 4
    assert len(sleeps) == 3
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert "GET https://api.example.com/slow" in str(caught.value)
    assert "after 4 attempt(s)" in str(caught.value)


def test_a_post_that_timed_out_is_not_retried_but_still_raises_transient_error() -> None:
    server = Server(httpx.ReadTimeout("timed out"), httpx.Response(201))

    with pytest.raises(TransientError):
        client_for(server, []).post("/repos", json={})
    assert server.calls == 1


def test_a_retrying_transport_passed_in_is_not_wrapped_twice() -> None:
    server = Server(httpx.Response(503))
    sleeps: list[float] = []
    transport = RetryingTransport(httpx.MockTransport(server), attempts=2, sleep=sleeps.append)

    assert http_client(transport=transport, attempts=5).get("https://x.test/").status_code == 503
    assert server.calls == 2


def test_a_client_without_a_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        http_client(timeout=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (409, PermanentError),
        (422, PermanentError),
        (408, TransientError),
        (429, TransientError),
        (500, TransientError),
        (503, TransientError),
    ],
)
def test_raise_for_status_maps_statuses_to_dtm_errors(status: int, error: type[Exception]) -> None:
    server = Server(httpx.Response(status, json={"message": "nope"}))
    response = client_for(server, [], attempts=1).get("/repos/acme/app?ref=main")

    with pytest.raises(error) as caught:
        raise_for_status(response)

    message = str(caught.value)
    assert message.startswith(f"GET https://api.example.com/repos/acme/app returned {status}")
    assert '{"message":"nope"}' in message
    assert "ref=main" not in message


def test_raise_for_status_passes_success_through_and_cuts_long_bodies() -> None:
    ok = httpx.Response(200, request=httpx.Request("GET", "https://x.test/"))
    assert raise_for_status(ok) is ok

    long = httpx.Response(404, text="x" * 5000, request=httpx.Request("GET", "https://x.test/"))
    with pytest.raises(PermanentError) as caught:
        raise_for_status(long)
    assert len(str(caught.value)) < 300
    assert str(caught.value).endswith("...")


def test_credentials_never_reach_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    token = "ghp_s3cr3tT0ken"
    # A server that first falls over, then rejects the token and echoes the header back, as some do.
    server = Server(
        httpx.Response(503),
        httpx.ReadTimeout("timed out"),
        httpx.Response(401, text=f"bad credentials: Authorization: Bearer {token}"),
    )
    caplog.set_level(logging.DEBUG)
    client = http_client(
        base_url="https://api.example.com",
        headers={"Authorization": f"Bearer {token}"},
        transport=httpx.MockTransport(server),
        sleep=lambda _: None,
    )

    response = client.get("/user", params={"access_token": token})
    with pytest.raises(PermanentError) as caught:
        raise_for_status(response)

    assert server.calls == 3
    assert server.requests[0].headers["authorization"] == f"Bearer {token}"  # it was really sent
    text = caplog.text + str(caught.value)
    assert "retry 2/5" in caplog.text  # the retries were logged...
    assert "GET https://api.example.com/user" in text  # ...naming the request...
    assert token not in text  # ...but never the token,
    assert "access_token" not in text  # or the query string
    assert str(caught.value).endswith("401 Unauthorized: bad credentials: Authorization: ***")


def test_safe_url_drops_user_info_query_and_fragment() -> None:
    assert safe_url("https://bot:pa55word@git.example.com:8443/a/b.git?private_token=x#top") == (
        "https://git.example.com:8443/a/b.git"
    )
