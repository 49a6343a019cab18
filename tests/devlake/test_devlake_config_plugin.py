"""devlake-config, call by call, against the DevLake stand-in: DevStream's config creates its connections; dtm's
scopes and blueprint; what Read finds after edits in DevLake's UI; adopting what was there; delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from devlake_standin import DevLakeStandIn

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.devlake_config import DevLakeConfigOptions, DevLakeConfigPlugin

plugin = DevLakeConfigPlugin()
TOKEN = "ghp_devlake_conn_secret_123"
JIRA_PASSWORD = "jira-pass-secret-456"


def options(url: str, **more: Any) -> DevLakeConfigOptions:
    """DevStream's `show config` sample for devlake-config, pointed at the stand-in, plus what dtm adds."""
    return DevLakeConfigOptions.model_validate({
        "devlakeAddr": url,
        "plugins": [
            {"name": "github", "connections": [{
                "name": "default", "endpoint": "https://api.github.com/", "proxy": "", "rateLimitPerHour": 0,
                "auth": {"token": TOKEN},
                "scopes": [{"scopeId": "1001", "githubId": 1001, "name": "shop", "fullName": "acme/shop"}]}]},
            {"name": "jira", "connections": [{
                "name": "default", "endpoint": "https://acme.atlassian.net/rest/", "proxy": "",
                "rateLimitPerHour": 0, "auth": {"username": "bot", "password": JIRA_PASSWORD}}]},
        ],
        **more,
    })


def ctx(tmp_path: Path, prior: dict[str, Any] | None = None) -> PluginContext:
    return PluginContext(name="devlake-config", instance_id="default", workdir=tmp_path, prior=prior)


def test_create_makes_each_connection_and_a_blueprint_over_them(
        tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str) -> None:
    status = plugin.create(options(devlake_url, blueprint={"name": "acme", "cronConfig": "0 3 * * *"}), ctx(tmp_path))

    github = devlake.by_name("github", "default")
    jira = devlake.by_name("jira", "default")
    assert github is not None and jira is not None
    assert github["token"] == TOKEN and github["authMethod"] == "AccessToken"
    assert jira["username"] == "bot" and jira["password"] == JIRA_PASSWORD and jira["authMethod"] == "BasicAuth"
    assert devlake.scopes[("github", github["id"])] == [
        {"githubId": 1001, "name": "shop", "fullName": "acme/shop", "connectionId": github["id"]}]
    (blueprint,) = devlake.blueprints.values()
    assert blueprint["cronConfig"] == "0 3 * * *" and blueprint["mode"] == "NORMAL"
    assert blueprint["connections"] == [
        {"pluginName": "github", "connectionId": github["id"], "scopes": [{"scopeId": "1001"}]},
        {"pluginName": "jira", "connectionId": jira["id"], "scopes": []}]

    assert status["outputs"] == {"devlakeAddr": devlake_url,
                                 "connectionIDs": {"github/default": github["id"], "jira/default": jira["id"]},
                                 "blueprintID": blueprint["id"]}
    assert TOKEN not in str(status) and JIRA_PASSWORD not in str(status)
    assert plugin.read(options(devlake_url, blueprint={"name": "acme", "cronConfig": "0 3 * * *"}),
                       ctx(tmp_path, status)) == status


def test_read_finds_what_was_changed_or_removed_in_devlake_s_ui(
        tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str) -> None:
    opts = options(devlake_url, blueprint={"name": "acme"})
    status = plugin.create(opts, ctx(tmp_path))

    devlake.by_name("github", "default")["endpoint"] = "https://github.example.com/api/v3/"  # type: ignore[index]
    (blueprint,) = devlake.blueprints.values()
    blueprint["cronConfig"] = "@hourly"
    seen = plugin.read(opts, ctx(tmp_path, status))
    assert seen is not None
    assert seen["connections"]["github/default"]["endpoint"] == "https://github.example.com/api/v3/"
    assert seen["blueprint"]["cronConfig"] == "@hourly"

    repaired = plugin.update(opts, ctx(tmp_path, status))
    assert repaired == status  # the same ids: put back in place, not made anew
    assert plugin.read(opts, ctx(tmp_path, repaired)) == status

    devlake.blueprints.clear()
    del devlake.connections["jira"][status["outputs"]["connectionIDs"]["jira/default"]]
    seen = plugin.read(opts, ctx(tmp_path, status))
    assert seen is not None and "blueprint" not in seen and "jira/default" not in seen["connections"]

    devlake.connections["github"].clear()
    assert plugin.read(opts, ctx(tmp_path, status)) is None


def test_a_connection_that_was_there_is_adopted_and_never_deleted(
        tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str) -> None:
    devlake.handle("POST", "/plugins/github/connections",
                   {}, {"name": "default", "endpoint": "https://old/", "token": "old"})
    status = plugin.create(options(devlake_url), ctx(tmp_path))
    assert status["connections"]["github/default"]["created"] is False
    assert devlake.by_name("github", "default")["endpoint"] == "https://api.github.com/"  # type: ignore[index]

    plugin.delete(options(devlake_url), ctx(tmp_path, status))
    assert devlake.by_name("github", "default") is not None  # adopted: left in place
    assert devlake.by_name("jira", "default") is None  # created by dtm: removed


def test_an_update_removes_the_connections_and_blueprint_the_options_dropped(
        tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str) -> None:
    status = plugin.create(options(devlake_url, blueprint={"name": "acme"}), ctx(tmp_path))
    fewer = DevLakeConfigOptions.model_validate({
        "devlakeAddr": devlake_url,
        "plugins": [{"name": "github", "connections": [{"name": "default", "endpoint": "https://api.github.com/",
                                                        "auth": {"token": TOKEN}}]}]})
    updated = plugin.update(fewer, ctx(tmp_path, status))
    assert set(updated["connections"]) == {"github/default"} and "blueprint" not in updated
    assert devlake.blueprints == {} and devlake.connections["jira"] == {}

    plugin.delete(fewer, ctx(tmp_path, updated))
    assert devlake.connections["github"] == {}
    plugin.delete(fewer, ctx(tmp_path, updated))  # already gone is success


def test_devlake_s_refusal_is_reported_with_its_message(
        tmp_path: Path, devlake: DevLakeStandIn, devlake_url: str) -> None:
    opts = DevLakeConfigOptions.model_validate({
        "devlakeAddr": devlake_url, "plugins": [{"name": "nosuchsource", "connections": []}]})
    with pytest.raises(PermanentError, match="DevLake at .* refused GET /plugins/nosuchsource/connections: 404 "
                                             "plugin nosuchsource not found"):
        plugin.create(opts, ctx(tmp_path))


@pytest.mark.parametrize(("auth", "message"), [
    ({}, "give one way to authenticate"),
    ({"token": "t", "username": "u", "password": "p"}, "give one way to authenticate"),
    ({"username": "u"}, "username needs password"),
])
def test_auth_must_be_one_complete_method(auth: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DevLakeConfigOptions.model_validate({"devlakeAddr": "http://devlake:8080", "plugins": [
            {"name": "github", "connections": [{"name": "c", "endpoint": "https://api.github.com/", "auth": auth}]}]})


def test_devlake_url_is_taken_for_devlake_addr() -> None:
    opts = DevLakeConfigOptions.model_validate({"devlakeURL": "http://devlake:8080", "plugins": [{"name": "github"}]})
    assert opts.devlakeAddr == "http://devlake:8080"
    for both_or_none in ({"devlakeURL": "http://a:1", "devlakeAddr": "http://a:1"}, {}):
        with pytest.raises(ValueError, match="give DevLake's address once"):
            DevLakeConfigOptions.model_validate({**both_or_none, "plugins": [{"name": "github"}]})
