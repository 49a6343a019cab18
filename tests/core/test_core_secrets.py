"""Secrets in options never reach state, plans or logs in clear.

A plugin marks a secret by typing an option as `SecretStr` (or `SecretBytes`). State keeps a fingerprint
instead: stable, so an unchanged token is no change, and different for a different secret, so a rotated
token shows as an update.
"""

from __future__ import annotations

import copy
import hashlib

import pytest
from pydantic import BaseModel, Field, SecretBytes, SecretStr

from devstream.secrets import fingerprint, is_fingerprint, redact, redact_by_schema, scrub, secret_paths

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


# -- fingerprints -----------------------------------------------------------------------------------------


def test_a_fingerprint_is_stable():
    assert fingerprint(TOKEN) == fingerprint(TOKEN)


def test_different_secrets_have_different_fingerprints():
    assert fingerprint(TOKEN) != fingerprint(TOKEN + "x")


def test_a_fingerprint_never_contains_the_secret():
    fp = fingerprint(TOKEN)

    assert TOKEN not in fp
    assert TOKEN[:8] not in fp


def test_a_fingerprint_is_not_a_plain_sha256_of_the_secret():
    assert hashlib.sha256(TOKEN.encode()).hexdigest()[:16] not in fingerprint(TOKEN)


def test_text_and_bytes_of_the_same_secret_fingerprint_alike():
    assert fingerprint(TOKEN) == fingerprint(TOKEN.encode())


def test_fingerprints_are_recognised():
    assert is_fingerprint(fingerprint(TOKEN))
    assert is_fingerprint(fingerprint(b"\x00\xff"))


@pytest.mark.parametrize("value", [TOKEN, "<secret sha256:xyz>", "<secret sha256:0123456789abcdef> ", None, 42,
                                   b"<secret sha256:0123456789abcdef>"])
def test_other_values_are_not_fingerprints(value: object):
    assert not is_fingerprint(value)


# -- redacting options ------------------------------------------------------------------------------------


class Login(BaseModel):
    user: str
    password: SecretStr


class Options(BaseModel):
    owner: str
    token: SecretStr
    db: Login
    mirrors: list[Login] = []
    api_key: SecretStr | None = Field(None, alias="apiKey")
    cert: SecretBytes | None = None


def raw_options() -> dict:
    return {
        "owner": "me",
        "token": TOKEN,
        "db": {"user": "admin", "password": "db-pass-1"},
        "mirrors": [{"user": "m1", "password": "mirror-pass-1"}, {"user": "m2", "password": "mirror-pass-2"}],
        "apiKey": "api-key-123",
        "cert": "cert-bytes",
    }


def test_secret_paths_finds_every_secret_and_its_value():
    model = Options.model_validate(raw_options())

    assert secret_paths(model) == {
        ("token",): TOKEN,
        ("db", "password"): "db-pass-1",
        ("mirrors", 0, "password"): "mirror-pass-1",
        ("mirrors", 1, "password"): "mirror-pass-2",
        ("apiKey",): "api-key-123",  # the alias, as the options are written
        ("cert",): b"cert-bytes",
    }


def test_redact_replaces_every_secret_with_its_fingerprint_and_nothing_else():
    raw = raw_options()

    redacted = redact(raw, Options.model_validate(raw))

    assert redacted == {
        "owner": "me",
        "token": fingerprint(TOKEN),
        "db": {"user": "admin", "password": fingerprint("db-pass-1")},
        "mirrors": [{"user": "m1", "password": fingerprint("mirror-pass-1")},
                    {"user": "m2", "password": fingerprint("mirror-pass-2")}],
        "apiKey": fingerprint("api-key-123"),
        "cert": fingerprint(b"cert-bytes"),
    }


def test_redact_works_on_a_copy_and_leaves_the_original_alone():
    raw = raw_options()
    untouched = copy.deepcopy(raw)

    redact(raw, Options.model_validate(raw))

    assert raw == untouched


def test_redacting_twice_changes_nothing_more():
    raw = raw_options()
    once = redact(raw, Options.model_validate(raw))

    # The stored form validates too (a fingerprint is a string); it must not be fingerprinted again.
    assert redact(once, Options.model_validate(once)) == once


def test_an_unset_optional_secret_is_left_out():
    raw = {k: v for k, v in raw_options().items() if k not in ("apiKey", "cert")}

    redacted = redact(raw, Options.model_validate(raw))

    assert "apiKey" not in redacted and "cert" not in redacted
    assert redacted["token"] == fingerprint(TOKEN)


def test_options_without_secrets_come_back_as_they_are():
    class Plain(BaseModel):
        name: str

    assert redact({"name": "x"}, Plain(name="x")) == {"name": "x"}


# -- scrubbing text ---------------------------------------------------------------------------------------


class Pipeline(BaseModel):
    secrets: dict[str, SecretStr] = {}
    logins: list[Login] | None = None


class Deferred(Options):
    pipeline: Pipeline | None = None


def test_options_that_do_not_validate_yet_are_redacted_by_their_declared_types():
    """A reference not resolved yet (so no validation): the plan still shows fingerprints, however deep."""
    raw = raw_options() | {
        "db": {"user": "admin", "password": "db-pass-1", "port": "${{ noop.db.outputs.port }}"},
        "pipeline": {"secrets": {"DEPLOY_KEY": "deploy-key-1"},
                     "logins": [{"user": "ci", "password": "ci-pass-1"}]},
    }

    out = redact_by_schema(raw, Deferred)

    for secret in ("db-pass-1", "mirror-pass-1", "mirror-pass-2", "api-key-123", "cert-bytes", "deploy-key-1",
                   "ci-pass-1", TOKEN):
        assert secret not in str(out)
    assert out["pipeline"]["secrets"]["DEPLOY_KEY"] == fingerprint("deploy-key-1")
    assert out["pipeline"]["logins"][0] == {"user": "ci", "password": fingerprint("ci-pass-1")}
    assert out["db"]["port"] == "${{ noop.db.outputs.port }}" and out["owner"] == "me"
    assert redact_by_schema(out, Deferred) == out  # fingerprints are not fingerprinted again


def test_scrub_removes_secrets_from_messages():
    message = f"401 from https://api.example with token {TOKEN} (user admin, password db-pass-1)"

    scrubbed = scrub(message, [TOKEN, "db-pass-1"])

    assert scrubbed == "401 from https://api.example with token *** (user admin, password ***)"


def test_scrub_replaces_the_longest_secret_first():
    # Were "abcd" replaced first, "abcdef" would leave "***ef" behind.
    assert scrub("key=abcdef", ["abcd", "abcdef"]) == "key=***"


def test_scrub_accepts_bytes_secrets():
    assert scrub("cert: cert-bytes", [b"cert-bytes"]) == "cert: ***"


def test_scrub_ignores_secrets_too_short_to_scrub_safely():
    # Replacing every "a" in a message would ruin it and reveal the secret anyway.
    assert scrub("a cat", ["a", "cat"]) == "a cat"
    assert scrub("a cats", ["cats"]) == "a ***"


def test_scrub_replaces_every_occurrence():
    assert scrub(f"{TOKEN}{TOKEN}", [TOKEN]) == "******"
