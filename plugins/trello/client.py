"""Trello's REST API (https://api.trello.com/1), as the trello plugin needs it: boards, their lists and labels.

The API key and token go in an `Authorization: OAuth oauth_consumer_key="...", oauth_token="..."` header,
which Trello takes in place of its `key` and `token` query parameters: a URL is logged and quoted in errors
(without its query, but a header is never logged at all). Requests go through the context's retrying client,
so 429 and 5xx answers are retried, honouring `Retry-After`.

Trello answers errors in plain text ("invalid key", "The requested resource was not found."); a 401 is a key or
token Trello refuses, and says so. Ids are 24 hex digits: an id that is not one is refused before any request
(Trello answers 400 "invalid id").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugin.http import fail, json_answer

__all__ = ["API", "KEY_ENV", "TOKEN_ENV", "Board", "TrelloClient"]

API = "https://api.trello.com/1"
KEY_ENV = "TRELLO_API_KEY"
TOKEN_ENV = "TRELLO_TOKEN"
_ID = re.compile(r"[0-9a-f]{24}")
_TIMEOUT = 30.0
_BOARD_FIELDS = "name,desc,closed,url"


@dataclass
class Board:
    """A board as Trello reports it: its open lists (name -> id, in board order) and its labels (name -> color)."""

    id: str
    name: str
    desc: str
    closed: bool
    url: str
    lists: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def _board(data: Mapping[str, Any]) -> Board:
    lists = {str(x["name"]): str(x["id"]) for x in sorted(data.get("lists") or [], key=lambda x: x.get("pos", 0))
             if not x.get("closed")}
    labels = {str(x.get("name") or ""): str(x.get("color") or "") for x in data.get("labels") or []}
    return Board(id=str(data["id"]), name=str(data.get("name", "")), desc=str(data.get("desc", "")),
                 closed=bool(data.get("closed")), url=str(data.get("url", "")), lists=lists, labels=labels)


class TrelloClient:
    """The boards one Trello key and token reach. The key and token are the options' or, when those are not
    given, the TRELLO_API_KEY and TRELLO_TOKEN environment variables (a tool deleted after it left the config
    has only their fingerprints in its stored options). Close it, or use it as a context manager."""

    def __init__(self, ctx: PluginContext, key: str | None, token: str | None) -> None:
        key = key or os.environ.get(KEY_ENV, "")
        token = token or os.environ.get(TOKEN_ENV, "")
        if not key or not token:
            raise PermanentError(f"{ctx.key}: no Trello API key and token: set board.apiKey and board.token (e.g. "
                                 f"[[ env \"{KEY_ENV}\" ]]) or the {KEY_ENV} and {TOKEN_ENV} environment variables; "
                                 f"get them at https://trello.com/app-key")
        self.ctx = ctx
        self._secrets = (key, token)
        self._http = ctx.http_client(
            base_url=API, timeout=_TIMEOUT,
            headers={"Authorization": f'OAuth oauth_consumer_key="{key}", oauth_token="{token}"',
                     "Accept": "application/json", "User-Agent": "dtm"})

    def __enter__(self) -> TrelloClient:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        # Trello's write operations take their fields as query parameters (its OpenAPI description has no bodies)
        response = self._http.request(method, path, params=dict(params or {}))
        response.read()
        return response

    def _advice(self, response: httpx.Response) -> dict[int, str]:
        text = " ".join(response.text.split())[:200]  # Trello says which of the two it refused
        return {401: f"Trello refused the API key or token (401 {text}); check board.apiKey and board.token, or "
                     f"get new ones at https://trello.com/app-key"}

    def _fail(self, response: httpx.Response, doing: str) -> NoReturn:
        fail(response, f"Trello: {doing}", advice=self._advice(response), secrets=self._secrets)

    def _json(self, response: httpx.Response, doing: str) -> Any:
        return json_answer(response, f"Trello: {doing}", advice=self._advice(response), secrets=self._secrets)

    @staticmethod
    def _id(value: str) -> str:
        if not _ID.fullmatch(value):
            raise PermanentError(f"Trello: {value!r} is not a Trello id (24 hex digits)")
        return quote(value, safe="")

    # -- boards ----------------------------------------------------------------------------------------------
    def get_board(self, board_id: str) -> Board | None:
        """The board with its open lists and its labels; None when it is gone (deleted, or no longer shared
        with the token's member)."""
        response = self._send("GET", f"/boards/{self._id(board_id)}",
                              {"fields": _BOARD_FIELDS, "lists": "open", "labels": "all"})
        if response.status_code == 404:
            return None
        return _board(self._json(response, f"read board {board_id}"))

    def find_open_board(self, name: str, desc: str) -> Board | None:
        """The token member's open board with this name and description (how DevStream found its board)."""
        response = self._send("GET", "/members/me/boards", {"filter": "open", "fields": "id,name,desc,closed"})
        for found in self._json(response, "list your boards"):
            if found.get("name") == name and found.get("desc") == desc and not found.get("closed"):
                return self.get_board(str(found["id"]))
        return None

    def create_board(self, name: str, desc: str, *, default_labels: bool) -> Board:
        """A new board without Trello's default lists (the plugin makes its own); with Trello's six colour labels
        when `default_labels`."""
        response = self._send("POST", "/boards/", {
            "name": name, "desc": desc, "defaultLists": "false",
            "defaultLabels": "true" if default_labels else "false"})
        created = self._json(response, f"create board {name!r}")
        board = self.get_board(str(created["id"]))
        if board is None:
            raise TransientError(f"Trello: board {name!r} ({created['id']}) was created but cannot be read yet")
        return board

    def update_board(self, board_id: str, **fields: str) -> None:
        """Set board fields (name, desc, closed)."""
        self._json(self._send("PUT", f"/boards/{self._id(board_id)}", fields), f"update board {board_id}")

    def delete_board(self, board_id: str) -> None:
        """Delete the board for good; one already gone is success."""
        response = self._send("DELETE", f"/boards/{self._id(board_id)}")
        if response.status_code != 404:
            self._json(response, f"delete board {board_id}")

    def add_list(self, board_id: str, name: str) -> str:
        """A new open list at the board's end; its id."""
        response = self._send("POST", f"/boards/{self._id(board_id)}/lists", {"name": name, "pos": "bottom"})
        return str(self._json(response, f"add list {name!r} to board {board_id}")["id"])

    def add_label(self, board_id: str, name: str, color: str) -> None:
        response = self._send("POST", f"/boards/{self._id(board_id)}/labels", {"name": name, "color": color})
        self._json(response, f"add label {name!r} to board {board_id}")

    def ensure(self, board: Board, lists: Sequence[str], labels: Mapping[str, str]) -> Board:
        """The board with every list of `lists` and label of `labels` (name -> color) there: missing ones are
        added; lists and labels added by hand are left alone."""
        for name in lists:
            if name not in board.lists:
                board.lists[name] = self.add_list(board.id, name)
        for name, color in labels.items():
            if name not in board.labels:
                self.add_label(board.id, name, color)
                board.labels[name] = color
        return board
