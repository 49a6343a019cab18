"""Opt-in: the Trello client against the real api.trello.com.

Runs only when `DTM_LIVE_TRELLO_KEY` and `DTM_LIVE_TRELLO_TOKEN` are set (a key from https://trello.com/app-key
and a token of the same member with read and write scopes). It makes a board with a unique name, checks its lists
and labels, closes it, reopens it and deletes it at the end, whatever happens in between.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from devstream.plugin import PluginContext
from devstream.plugins.trello.client import TrelloClient

KEY = os.environ.get("DTM_LIVE_TRELLO_KEY", "")
TOKEN = os.environ.get("DTM_LIVE_TRELLO_TOKEN", "")

pytestmark = pytest.mark.skipif(not (KEY and TOKEN), reason="live Trello test: set DTM_LIVE_TRELLO_KEY and "
                                                            "DTM_LIVE_TRELLO_TOKEN to run it")


def test_live_board_lists_labels_close_and_delete(tmp_path: Path) -> None:
    ctx = PluginContext(name="trello", instance_id="live", workdir=tmp_path)
    name = f"dtm-live-{uuid.uuid4().hex[:10]}"
    with TrelloClient(ctx, KEY, TOKEN) as trello:
        board = trello.create_board(name, "dtm live test; safe to delete", default_labels=False)
        try:
            trello.ensure(board, ["To Do", "Doing", "Done"], {"bug": "red"})
            seen = trello.get_board(board.id)
            assert seen is not None and list(seen.lists) == ["To Do", "Doing", "Done"]
            assert seen.labels == {"bug": "red"}
            found = trello.find_open_board(name, "dtm live test; safe to delete")
            assert found is not None and found.id == board.id
            trello.update_board(board.id, closed="true")
            closed = trello.get_board(board.id)
            assert closed is not None and closed.closed
        finally:
            trello.delete_board(board.id)
        assert trello.get_board(board.id) is None
