"""An in-process, stateful stand-in for Trello's REST API (https://api.trello.com/1): boards, lists, labels.

Built from Trello's REST API reference (developer.atlassian.com/cloud/trello/rest): each operation the stand-in
serves takes only the query parameters that reference lists for it (`OPERATIONS`), and a request with another
one, a missing required one or a value of the wrong kind is answered 400, as Trello answers "invalid value for
...". Trello's OpenAPI description is not published in any package registry this project can install from, so
this table, kept beside the operations, stands in for it; `problems()` says what a recorded request did wrong.

As Trello does: the key and token come as query parameters `key` and `token` or in an `Authorization: OAuth
oauth_consumer_key="...", oauth_token="..."` header; a wrong key is 401 "invalid key", a wrong token 401 "invalid
token"; an id that is not 24 hex digits is 400 "invalid id"; a board that does not exist, or belongs to another
member, is 404 "The requested resource was not found."; errors are plain text. `inject` answers the next
requests with a given status (429 with `Retry-After`, 500, ...).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
from http_standin import OneAtATime

API = httpx.URL("https://api.trello.com/1")
_ID = re.compile(r"[0-9a-f]{24}")
_BOOL = ("true", "false")
_COLORS = ("green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black", "null")

# (method, path template) -> query parameter -> (required, allowed values or None for any text)
OPERATIONS: dict[tuple[str, str], dict[str, tuple[bool, tuple[str, ...] | None]]] = {
    ("GET", "/members/{id}/boards"): {"filter": (False, ("all", "closed", "members", "open", "organization",
                                                         "public", "starred")),
                                      "fields": (False, None), "lists": (False, ("all", "closed", "none", "open"))},
    ("POST", "/boards/"): {"name": (True, None), "desc": (False, None), "defaultLabels": (False, _BOOL),
                           "defaultLists": (False, _BOOL), "idOrganization": (False, None)},
    ("GET", "/boards/{id}"): {"fields": (False, None), "lists": (False, ("all", "closed", "none", "open")),
                              "labels": (False, ("all", "none")), "cards": (False, None)},
    ("PUT", "/boards/{id}"): {"name": (False, None), "desc": (False, None), "closed": (False, _BOOL)},
    ("DELETE", "/boards/{id}"): {},
    ("POST", "/boards/{id}/lists"): {"name": (True, None), "pos": (False, None)},
    ("POST", "/boards/{id}/labels"): {"name": (True, None), "color": (True, _COLORS)},
}
_AUTH = ("key", "token")


@dataclass
class Recorded:
    method: str
    path: str  # relative to /1
    params: dict[str, str]
    headers: httpx.Headers
    response: httpx.Response | None = None


@dataclass
class TrelloBoard:
    id: str
    name: str
    desc: str
    member: str
    closed: bool = False
    lists: list[dict[str, Any]] = field(default_factory=list)  # {id, name, closed, pos}
    labels: list[dict[str, Any]] = field(default_factory=list)  # {id, name, color}

    @property
    def url(self) -> str:
        return f"https://trello.com/b/{self.id[:8]}/{re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')}"


class TrelloStandIn(OneAtATime):
    """Trello for one member (`me`), whose key and token are `key` and `token`."""

    def __init__(self, *, key: str = "trello-standin-key", token: str = "trello-standin-token",
                 member: str = "me") -> None:
        self.key, self.token, self.member = key, token, member
        self.boards: dict[str, TrelloBoard] = {}
        self.requests: list[Recorded] = []
        self._serving = threading.Lock()
        self.injected: list[tuple[str, re.Pattern[str], int, dict[str, str], int]] = []
        self.sleeps: list[float] = []
        self._ids = itertools.count(0x5f0000000000000000000001)

    # -- what tests do behind the client's back ----------------------------------------------------------------
    def new_id(self) -> str:
        return f"{next(self._ids):024x}"

    def add_board(self, name: str, desc: str = "", *, member: str | None = None,
                  lists: tuple[str, ...] = ("To Do", "Doing", "Done")) -> TrelloBoard:
        board = TrelloBoard(self.new_id(), name, desc, member or self.member)
        for i, list_name in enumerate(lists):
            board.lists.append({"id": self.new_id(), "name": list_name, "closed": False, "pos": 16384 * (i + 1)})
        self.boards[board.id] = board
        return board

    def inject(self, method: str, path: str, status: int, *, headers: dict[str, str] | None = None,
               times: int = 1) -> None:
        """Answer the next `times` requests whose method matches and whose path (under /1) matches the regex."""
        self.injected.append((method.upper(), re.compile(path), status, dict(headers or {}), times))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def problems(self) -> list[str]:
        """What the recorded requests did that Trello's reference does not allow (each was answered 400)."""
        found = []
        for r in self.requests:
            found += _check(r.method, r.path, r.params)
        return found

    # -- serving ---------------------------------------------------------------------------------------------
    def _respond(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if request.url.host != API.host or not request.url.path.startswith("/1/"):
            return _text(404, "Cannot GET " + request.url.path)
        path = request.url.path[2:]
        params = dict(request.url.params.multi_items())
        self.requests.append(Recorded(request.method, path, params, request.headers))
        for i, (method, pattern, status, headers, times) in enumerate(self.injected):
            if method == request.method and pattern.search(path):
                self.injected[i] = (method, pattern, status, headers, times - 1)
                if times - 1 <= 0:
                    del self.injected[i]
                return _text(status, "API rate limit exceeded" if status == 429 else "injected failure", headers)
        key, token = _credentials(request, params)
        if key != self.key:
            return _text(401, "invalid key")
        if token != self.token:
            return _text(401, "invalid token")
        problems = _check(request.method, path, params)
        if problems:
            return _text(400, problems[0])
        for (method, template), _ in OPERATIONS.items():
            found = _match(template, path)
            if method == request.method and found is not None:
                return getattr(self, "_" + _name(method, template))(found, params)
        return _text(404, f"Cannot {request.method} {request.url.path}")

    def _board(self, board_id: str) -> TrelloBoard | httpx.Response:
        if not _ID.fullmatch(board_id):
            return _text(400, "invalid id")
        board = self.boards.get(board_id)
        if board is None or board.member != self.member:
            return _text(404, "The requested resource was not found.")
        return board

    def _get_members_boards(self, member: str, params: dict[str, str]) -> httpx.Response:
        if member not in ("me", self.member):
            return _text(404, "The requested resource was not found.")
        wanted = params.get("filter", "all")
        boards = [b for b in self.boards.values() if b.member == self.member
                  and (wanted == "all" or (wanted == "open") != b.closed)]
        return httpx.Response(200, json=[_fields(b, params.get("fields")) for b in boards])

    def _post_boards(self, _: str, params: dict[str, str]) -> httpx.Response:
        board = TrelloBoard(self.new_id(), params["name"], params.get("desc", ""), self.member)
        if params.get("defaultLists", "true") == "true":
            for i, name in enumerate(("To Do", "Doing", "Done")):
                board.lists.append({"id": self.new_id(), "name": name, "closed": False, "pos": 16384 * (i + 1)})
        if params.get("defaultLabels", "true") == "true":
            for color in ("green", "yellow", "orange", "red", "purple", "blue"):
                board.labels.append({"id": self.new_id(), "name": "", "color": color})
        self.boards[board.id] = board
        return httpx.Response(200, json=_fields(board, None))

    def _get_board(self, board_id: str, params: dict[str, str]) -> httpx.Response:
        board = self._board(board_id)
        if isinstance(board, httpx.Response):
            return board
        body = _fields(board, params.get("fields"))
        lists = params.get("lists", "none")
        if lists != "none":
            body["lists"] = [{**x, "idBoard": board.id} for x in board.lists
                             if lists == "all" or (lists == "open") != x["closed"]]
        if params.get("labels", "none") == "all":
            body["labels"] = [{**x, "idBoard": board.id} for x in board.labels]
        return httpx.Response(200, json=body)

    def _put_board(self, board_id: str, params: dict[str, str]) -> httpx.Response:
        board = self._board(board_id)
        if isinstance(board, httpx.Response):
            return board
        if "name" in params:
            board.name = params["name"]
        if "desc" in params:
            board.desc = params["desc"]
        if "closed" in params:
            board.closed = params["closed"] == "true"
        return httpx.Response(200, json=_fields(board, None))

    def _delete_board(self, board_id: str, params: dict[str, str]) -> httpx.Response:
        board = self._board(board_id)
        if isinstance(board, httpx.Response):
            return board
        del self.boards[board.id]
        return httpx.Response(200, json={"_value": None})

    def _post_board_lists(self, board_id: str, params: dict[str, str]) -> httpx.Response:
        board = self._board(board_id)
        if isinstance(board, httpx.Response):
            return board
        pos = max([x["pos"] for x in board.lists] + [0]) + 16384
        made = {"id": self.new_id(), "name": params["name"], "closed": False, "pos": pos}
        board.lists.append(made)
        return httpx.Response(200, json={**made, "idBoard": board.id})

    def _post_board_labels(self, board_id: str, params: dict[str, str]) -> httpx.Response:
        board = self._board(board_id)
        if isinstance(board, httpx.Response):
            return board
        made = {"id": self.new_id(), "name": params["name"], "color": params["color"]}
        board.labels.append(made)
        return httpx.Response(200, json={**made, "idBoard": board.id})


def _name(method: str, template: str) -> str:
    """The method serving an operation: `_get_board` for GET /boards/{id}, and so on."""
    nouns = {"/members/{id}/boards": "members_boards", "/boards/": "boards", "/boards/{id}": "board",
             "/boards/{id}/lists": "board_lists", "/boards/{id}/labels": "board_labels"}
    return f"{method.lower()}_{nouns[template]}"


def _match(template: str, path: str) -> str | None:
    pattern = "^" + re.escape(template).replace(re.escape("{id}"), "([^/]+)") + "$"
    found = re.match(pattern, path)
    if found is None:
        return None
    return found.group(1) if found.groups() else ""


def _check(method: str, path: str, params: dict[str, str]) -> list[str]:
    for (m, template), allowed in OPERATIONS.items():
        if m == method and _match(template, path) is not None:
            found = [f"{method} {path}: invalid value for {name}: {value!r}" for name, value in params.items()
                     if name not in _AUTH and (name not in allowed
                                               or (allowed[name][1] is not None and value not in allowed[name][1]))]
            found += [f"{method} {path}: missing required parameter {name}" for name, (required, _) in allowed.items()
                      if required and name not in params]
            return found
    return [f"{method} {path}: no such operation in Trello's REST API"]


def _credentials(request: httpx.Request, params: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.startswith("OAuth "):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', header))
        return pairs.get("oauth_consumer_key"), pairs.get("oauth_token")
    return params.get("key"), params.get("token")


def _fields(board: TrelloBoard, fields: str | None) -> dict[str, Any]:
    everything = {"id": board.id, "name": board.name, "desc": board.desc, "closed": board.closed, "url": board.url,
                  "shortUrl": board.url.rsplit("/", 1)[0]}
    if not fields or fields == "all":
        return everything
    return {"id": board.id, **{k: everything[k] for k in fields.split(",") if k in everything}}


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=text, headers={"content-type": "text/plain; charset=utf-8", **(headers or {})})
