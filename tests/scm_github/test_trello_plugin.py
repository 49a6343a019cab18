"""The trello plugin against the Trello and GitHub stand-ins: a board with its lists and labels, the board's ids
and the Trello credentials in the repository's Actions secrets, and the issue-builder workflow committed.

Every request to GitHub is checked against GitHub's OpenAPI description (see conftest); every request to Trello
against the operations of Trello's reference that the Trello stand-in serves (`trello_standin.OPERATIONS`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from plugin_calls import recorded
from pydantic import ValidationError
from trello_standin import API, TrelloStandIn

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.trello import TrelloGithubIntegPlugin, TrelloOptions, TrelloPlugin

KEY, TRELLO_TOKEN = "trello-standin-key", "trello-standin-token"
WORKFLOW = ".github/workflows/trelloIssueBuilder.yml"
PLUGIN = TrelloPlugin()


@pytest.fixture
def trello() -> TrelloStandIn:
    standin = TrelloStandIn(key=KEY, token=TRELLO_TOKEN)
    yield standin
    assert not standin.problems(), "requests Trello's reference does not allow:\n" + "\n".join(standin.problems())


@pytest.fixture
def hosts(standin: GitHubStandIn, trello: TrelloStandIn) -> Hosts:
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    return Hosts({"api.github.com": standin.handler, API.host: trello.handler})


@pytest.fixture
def ctx(hosts: Hosts, tmp_path: Path) -> PluginContext:
    return PluginContext(name="trello", instance_id="shop", workdir=tmp_path, client_factory=hosts.client_factory())


def options(**board: object) -> TrelloOptions:
    return TrelloOptions.model_validate({
        "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN},
        "board": {"apikey": KEY, "token": TRELLO_TOKEN, **board}})


def test_create_makes_the_board_sets_the_secrets_and_commits_the_workflow(
        ctx: PluginContext, standin: GitHubStandIn, trello: TrelloStandIn) -> None:
    status = PLUGIN.create(options(labels=[{"name": "bug", "color": "red"}]), ctx)

    (board,) = trello.boards.values()
    assert (board.name, board.desc) == ("octo/shop", "Description is managed by DevStream, please don't modify. "
                                                     "octo/shop")
    assert [x["name"] for x in board.lists] == ["To Do", "Doing", "Done"]
    assert [(x["name"], x["color"]) for x in board.labels] == [("bug", "red")]
    todo, doing, done = (x["id"] for x in board.lists)
    assert status["outputs"] == {"boardId": board.id, "boardUrl": board.url, "todoListId": todo,
                                 "doingListId": doing, "doneListId": done}
    assert status["created"] is True
    secrets = {name: standin.secret_value("octo/shop", name) for name in standin.repo("octo/shop").secrets}
    assert secrets == {"TRELLO_API_KEY": KEY, "TRELLO_TOKEN": TRELLO_TOKEN, "TRELLO_BOARD_ID": board.id,
                       "TRELLO_TODO_LIST_ID": todo, "TRELLO_DOING_LIST_ID": doing, "TRELLO_DONE_LIST_ID": done,
                       "TRELLO_MEMBER_MAP": "[]"}
    workflow = yaml.safe_load(standin.files("octo/shop")[WORKFLOW])
    assert workflow["env"]["TRELLO_BOARD_ID"] == "${{ secrets.TRELLO_BOARD_ID }}"
    # the key and token travel in a header, never in a URL that may be logged
    assert all("key" not in r.params and "token" not in r.params for r in trello.requests)
    assert KEY not in str(status) and TRELLO_TOKEN not in str(status)

    assert PLUGIN.read(options(labels=[{"name": "bug", "color": "red"}]), recorded(ctx, status)) == status


def test_a_board_closed_or_deleted_by_hand_is_drift_and_update_mends_it(
        ctx: PluginContext, trello: TrelloStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    board = trello.boards[status["outputs"]["boardId"]]

    board.closed = True
    seen = PLUGIN.read(options(), recorded(ctx, status))
    assert seen is not None and seen["board"]["closed"] is True and seen != status
    assert PLUGIN.update(options(), recorded(ctx, status)) == status
    assert board.closed is False

    board.lists[1]["closed"] = True  # the Doing list archived by hand: a new one is added
    seen = PLUGIN.read(options(), recorded(ctx, status))
    assert seen is not None and seen["board"]["lists"]["Doing"] is None
    mended = PLUGIN.update(options(), recorded(ctx, status))
    assert mended["board"]["lists"]["Doing"] not in (None, status["board"]["lists"]["Doing"])

    del trello.boards[board.id]
    assert PLUGIN.read(options(), recorded(ctx, mended)) is None  # gone: the next apply creates a new board
    again = PLUGIN.create(options(), recorded(ctx, mended))
    assert again["outputs"]["boardId"] != board.id and again["created"] is True


def test_delete_closes_the_board_dtm_made_and_removes_the_workflow_and_secrets(
        ctx: PluginContext, standin: GitHubStandIn, trello: TrelloStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    PLUGIN.delete(options(), recorded(ctx, status))
    assert trello.boards[status["outputs"]["boardId"]].closed is True
    assert standin.repo("octo/shop").secrets == {}
    assert WORKFLOW not in standin.files("octo/shop")
    PLUGIN.delete(options(), recorded(ctx, status))  # twice is harmless

    status = PLUGIN.create(options(onDelete="delete", name="gone soon"), ctx)
    PLUGIN.delete(options(onDelete="delete", name="gone soon"), recorded(ctx, status))
    assert status["outputs"]["boardId"] not in trello.boards


def test_a_board_that_was_there_is_adopted_and_left_open(ctx: PluginContext, trello: TrelloStandIn) -> None:
    mine = trello.add_board("Team board", "ours")
    status = PLUGIN.create(options(name="Team board", description="ours"), ctx)
    assert status["outputs"]["boardId"] == mine.id and status["created"] is False
    PLUGIN.delete(options(name="Team board", description="ours"), recorded(ctx, status))
    assert mine.closed is False


def test_trello_refusing_the_key_is_a_clear_error_without_the_secrets(ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match="Trello refused the API key or token") as caught:
        PLUGIN.create(options(apikey="not-the-key"), ctx)
    assert "not-the-key" not in str(caught.value) and TRELLO_TOKEN not in str(caught.value)


def test_rate_limits_are_waited_out_as_trello_says(ctx: PluginContext, hosts: Hosts, trello: TrelloStandIn) -> None:
    trello.inject("POST", r"^/boards/$", 429, headers={"Retry-After": "2"})
    trello.inject("GET", r"^/boards/", 500)
    PLUGIN.create(options(), ctx)
    assert hosts.sleeps[0] == 2.0 and len(trello.boards) == 1


def test_the_standin_refuses_what_trellos_reference_does_not_allow(trello: TrelloStandIn, hosts: Hosts) -> None:
    """The check the plugin's requests pass is not vacuous: an unknown parameter, a bad value and a missing one
    are each refused and reported."""
    import httpx

    with httpx.Client(transport=httpx.MockTransport(hosts.handle), base_url=str(API)) as client:
        auth = {"key": KEY, "token": TRELLO_TOKEN}
        assert client.post("/1/boards/", params={**auth, "name": "x", "defaultList": "false"}).status_code == 400
        assert client.get("/1/members/me/boards", params={**auth, "filter": "opened"}).status_code == 400
        assert client.post("/1/boards/", params=auth).status_code == 400
    assert len(trello.problems()) == 3
    trello.requests.clear()


def test_options_as_devstream_wrote_them_and_what_is_refused() -> None:
    sample = yaml.safe_load("""
    board:
      name: KANBAN_BOARD_NAME
      description: KANBAN_DESCRIPTION
      apikey: key
      token: token
    scm:
      branch: main
      token: ghp_x
      url: https://github.com/octo/shop
      owner: octo
    """)
    parsed = TrelloOptions.model_validate(sample)
    assert parsed.scm.full_name == "octo/shop" and parsed.board.key == "key"
    with pytest.raises(ValidationError, match="scmType must be github"):
        TrelloOptions.model_validate({"scm": {"scmType": "gitlab", "owner": "o", "name": "n"}})
    with pytest.raises(ValidationError, match="not both"):
        TrelloOptions.model_validate({**sample, "board": {"apiKey": "a", "apikey": "b"}})
    with pytest.raises(ValidationError, match="at least 3"):
        TrelloOptions.model_validate({**sample, "board": {"lists": ["a", "b"]}})


def test_the_older_name_works_and_says_it_is_deprecated(ctx: PluginContext, trello: TrelloStandIn,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        status = TrelloGithubIntegPlugin().create(options(), ctx)
    assert status["outputs"]["boardId"] in trello.boards
    assert "trello-github-integ is deprecated" in caplog.text
