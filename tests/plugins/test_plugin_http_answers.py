"""How a system's client ends its handling of an answer it did not want (`fail`, `json_answer`): the place, the
system's advice for a status, dtm's error for the rest, and the client's secrets never in the message."""

from __future__ import annotations

import time

import httpx
import pytest

from devstream.errors import PermanentError, RateLimitError, TransientError
from devstream.plugin.http import fail, json_answer

WHERE = "Tracker https://tracker.example.com: read board 7"
ADVICE = {401: "the tracker refused the token (401); check board.token"}


def answer(status: int, content: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=content, headers=headers or {},
                          request=httpx.Request("GET", "https://tracker.example.com/boards/7"))


def test_a_status_the_system_explains_gets_its_advice() -> None:
    with pytest.raises(PermanentError) as caught:
        fail(answer(401), WHERE, advice=ADVICE)
    assert str(caught.value) == f"{WHERE}: the tracker refused the token (401); check board.token"


@pytest.mark.parametrize(("status", "error"), [(404, PermanentError), (503, TransientError)])
def test_any_other_error_is_dtm_s_error_for_it_with_the_secrets_masked(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        fail(answer(status, b"no board for token tok-s3cr3t"), WHERE, advice=ADVICE, secrets=["tok-s3cr3t"])
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: GET https://tracker.example.com/boards/7 returned {status}")
    assert "tok-s3cr3t" not in message and "***" in message


def test_a_rate_limit_keeps_when_it_resets() -> None:
    reset = time.time() + 3600  # further away than dtm waits
    limited = answer(429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset))})
    with pytest.raises(RateLimitError) as caught:
        fail(limited, WHERE)
    assert caught.value.resets_at is not None and str(caught.value).startswith(WHERE)


def test_an_answer_that_is_no_error_but_not_the_one_wanted_is_refused() -> None:
    with pytest.raises(PermanentError, match="read board 7: unexpected answer 204 No Content"):
        json_answer(answer(204), WHERE)


def test_json_answer_returns_the_json_or_says_it_is_not_json() -> None:
    assert json_answer(answer(200, b'{"id": 7}'), WHERE) == {"id": 7}
    assert json_answer(answer(201, b"[]"), WHERE, ok=(200, 201)) == []
    with pytest.raises(PermanentError, match="read board 7: the answer is not JSON"):
        json_answer(answer(200, b"<html>"), WHERE)
