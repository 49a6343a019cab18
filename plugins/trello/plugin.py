"""The trello plugin: a Trello board for a GitHub repository's issues, and the workflow that keeps them in step.

As DevStream's trello plugin did, it makes a Trello board (named after the repository unless `board.name` says
otherwise), puts the Trello credentials and the board's ids into the repository's Actions secrets
(TRELLO_API_KEY, TRELLO_TOKEN, TRELLO_BOARD_ID, TRELLO_TODO_LIST_ID, TRELLO_DOING_LIST_ID, TRELLO_DONE_LIST_ID,
TRELLO_MEMBER_MAP) and commits `.github/workflows/trelloIssueBuilder.yml`, which turns issues into cards.
Unlike DevStream, the board's lists and labels are options (by default To Do, Doing and Done: the first list is
the workflow's to-do list, the second its doing list, the last its done list), and the board is known by the
id dtm recorded, not looked up by name on every call.

Read finds a board closed or deleted by hand (drift: the next apply reopens it, or makes a new one), lists or
labels removed, and what github-actions finds of the files and secrets. Delete removes the workflow and the
secrets, then closes the board dtm created (`board.onDelete: delete` deletes it for good); a board dtm found
already there (an open board with the same name and description, as DevStream looked for) is left open.

`trello-github-integ`, DevStream's older name for the plugin, takes the same options and logs a deprecation note.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from devstream.errors import PermanentError
from devstream.plugin.base import Plugin, PluginContext, PluginOptions, ResourceStatus
from devstream.plugins.github_actions.embedded import GitHubWorkflows
from devstream.plugins.scm.base import RepoSpec, github_repository
from devstream.plugins.trello.client import Board, TrelloClient

__all__ = ["BoardOptions", "TrelloGithubIntegPlugin", "TrelloOptions", "TrelloPlugin"]
_ON_GITHUB = "the issue-builder workflow runs on GitHub Actions: scmType must be github, not {kind}"

WORKFLOW = "trelloIssueBuilder.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Label(_Strict):
    """A label on the board."""

    name: str = Field(min_length=1, description="The label's name.")
    color: Literal["green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black"] = Field(
        description="The label's colour.")


class BoardOptions(_Strict):
    """The Trello board and the credentials that reach it."""

    name: str | None = Field(default=None, description="The board's name (default: owner/name of the repository).")
    description: str | None = Field(
        default=None, description="The board's description (default: DevStream's, naming the repository).")
    apiKey: SecretStr | None = Field(
        default=None, description="The Trello API key (https://trello.com/app-key); default: the TRELLO_API_KEY "
                                  "environment variable. Also set as the secret TRELLO_API_KEY.")
    apikey: SecretStr | None = Field(default=None, description="DevStream's spelling of apiKey; give one of the two.")
    token: SecretStr | None = Field(
        default=None, description="A Trello token of the board's member; default: the TRELLO_TOKEN environment "
                                  "variable. Also set as the secret TRELLO_TOKEN.")
    lists: list[str] = Field(
        default_factory=lambda: ["To Do", "Doing", "Done"], min_length=3,
        description="The board's lists, in order: the first is the to-do list, the second the doing list, the last "
                    "the done list of the issue-builder workflow.")
    labels: list[Label] = Field(
        default_factory=list, description="Labels to put on the board; when none, Trello's six colour labels.")
    onDelete: Literal["close", "delete"] = Field(
        default="close", description="What `dtm delete` does to the board dtm created: close it (it can be "
                                     "reopened) or delete it for good.")

    @model_validator(mode="after")
    def _check(self) -> BoardOptions:
        if self.apiKey is not None and self.apikey is not None:
            raise ValueError("give the API key once: apiKey (or DevStream's apikey), not both")
        if len(set(self.lists)) != len(self.lists) or not all(n.strip() for n in self.lists):
            raise ValueError("board.lists must be distinct, non-empty names")
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError("board.labels must have distinct names")
        return self

    @property
    def key(self) -> str | None:
        secret = self.apiKey or self.apikey
        return secret.get_secret_value() if secret is not None else None


class TrelloOptions(PluginOptions):
    """The GitHub repository whose issues go to the board, and the board."""

    scm: RepoSpec = Field(description="The GitHub repository (scmType github) the secrets and workflow go to.")
    board: BoardOptions = Field(default_factory=BoardOptions, description="The Trello board.")

    @field_validator("scm")
    @classmethod
    def _github(cls, scm: RepoSpec) -> RepoSpec:
        return github_repository(scm, _ON_GITHUB)

    @property
    def board_name(self) -> str:
        return self.board.name or self.scm.full_name

    @property
    def board_description(self) -> str:
        if self.board.description is not None:
            return self.board.description
        return f"Description is managed by DevStream, please don't modify. {self.scm.full_name}"


def _workflow() -> str:
    return resources.files("devstream.plugins.trello").joinpath("issuebuilder.yml").read_text()


class TrelloPlugin(Plugin[TrelloOptions]):
    """A Trello board with its lists and labels, and the GitHub workflow that turns issues into its cards."""

    name: ClassVar[str] = "trello"
    Options: ClassVar[type[TrelloOptions]] = TrelloOptions
    description: ClassVar[str] = ("A Trello board with lists and labels, its ids and credentials in a GitHub "
                                  "repository's secrets, and the workflow that turns issues into cards.")

    def create(self, options: TrelloOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, prior=None)

    def update(self, options: TrelloOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, prior=ctx.prior)

    def read(self, options: TrelloOptions, ctx: PluginContext) -> ResourceStatus | None:
        self._note(ctx)
        prior = ctx.prior or {}
        recorded = (prior.get("board") or {}).get("id")
        with self._client(options, ctx) as trello:
            board = (trello.get_board(str(recorded)) if recorded
                     else trello.find_open_board(options.board_name, options.board_description))
        if board is None:
            return None
        github = self._workflows(options, board).read(ctx, prior.get("github"))
        if github is None:
            return None
        return _status(options, board, bool(prior.get("created", False)), github)

    def delete(self, options: TrelloOptions, ctx: PluginContext) -> None:
        self._note(ctx)
        prior = ctx.prior or {}
        recorded = prior.get("board") or {}
        board = Board(id=str(recorded.get("id", "")), name="", desc="", closed=False, url="",
                      lists=dict(recorded.get("lists") or {}))
        self._workflows(options, board).delete(ctx, prior.get("github"))
        if not (prior.get("created") and board.id):
            if board.id:
                ctx.logger.info("%s: board %s was there before dtm: left as it is", ctx.key, board.id)
            return
        with self._client(options, ctx) as trello:
            if options.board.onDelete == "delete":
                trello.delete_board(board.id)
            elif trello.get_board(board.id) is not None:
                trello.update_board(board.id, closed="true")

    def output_keys(self, options: TrelloOptions) -> set[str] | None:
        return {"boardId", "boardUrl", "todoListId", "doingListId", "doneListId"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return {"trello", "github"}

    # -- helpers ---------------------------------------------------------------------------------------------
    def _note(self, ctx: PluginContext) -> None:
        """Nothing to say under the plugin's own name (the alias says it is deprecated)."""

    @staticmethod
    def _client(options: TrelloOptions, ctx: PluginContext) -> TrelloClient:
        token = options.board.token.get_secret_value() if options.board.token is not None else None
        return TrelloClient(ctx, options.board.key, token)

    def _put(self, options: TrelloOptions, ctx: PluginContext, prior: ResourceStatus | None) -> ResourceStatus:
        self._note(ctx)
        recorded = str((prior or {}).get("board", {}).get("id") or "")
        created = bool((prior or {}).get("created", False))
        want_labels = {label.name: label.color for label in options.board.labels}
        with self._client(options, ctx) as trello:
            board = trello.get_board(recorded) if recorded else None
            if board is None and recorded:
                ctx.logger.warning("%s: board %s is gone (deleted by hand?); making a new one", ctx.key, recorded)
            if board is None:
                board = trello.find_open_board(options.board_name, options.board_description)
                created = False
            if board is None:
                board = trello.create_board(options.board_name, options.board_description,
                                            default_labels=not want_labels)
                created = True
            changes = {}
            if board.closed:
                changes["closed"] = "false"
            if board.name != options.board_name:
                changes["name"] = options.board_name
            if board.desc != options.board_description:
                changes["desc"] = options.board_description
            if changes:
                trello.update_board(board.id, **changes)
                board.closed, board.name, board.desc = False, options.board_name, options.board_description
            trello.ensure(board, options.board.lists, want_labels)
        github = self._workflows(options, board).put(ctx, (prior or {}).get("github"))
        return _status(options, board, created, github)

    def _workflows(self, options: TrelloOptions, board: Board) -> GitHubWorkflows:
        token = options.board.token.get_secret_value() if options.board.token is not None else ""
        lists = [board.lists.get(name, "") for name in options.board.lists]
        secrets = {"TRELLO_API_KEY": options.board.key or "", "TRELLO_TOKEN": token, "TRELLO_BOARD_ID": board.id,
                   "TRELLO_TODO_LIST_ID": lists[0], "TRELLO_DOING_LIST_ID": lists[1],
                   "TRELLO_DONE_LIST_ID": lists[-1], "TRELLO_MEMBER_MAP": "[]"}
        # a tool deleted after it left the config has no credentials to set: its secrets are only removed
        return GitHubWorkflows(options.scm, {WORKFLOW: _workflow()},
                               {name: value for name, value in secrets.items() if value})


class TrelloGithubIntegPlugin(TrelloPlugin):
    """DevStream's older name of the trello plugin."""

    name: ClassVar[str] = "trello-github-integ"
    description: ClassVar[str] = "Deprecated: DevStream's older name of the trello plugin; use trello."

    def _note(self, ctx: PluginContext) -> None:
        ctx.logger.warning("%s: the plugin name trello-github-integ is deprecated; name the tool trello "
                           "(same options)", ctx.key)


def _status(options: TrelloOptions, board: Board, created: bool, github: ResourceStatus) -> ResourceStatus:
    lists = {name: board.lists.get(name) for name in options.board.lists}
    labels = {label.name: board.labels.get(label.name) for label in options.board.labels}
    ids = list(lists.values())  # a list removed by hand is None here: drift that the next apply mends
    if not board.id:
        raise PermanentError("Trello: a board without an id")
    return {
        "board": {"id": board.id, "name": board.name, "description": board.desc, "url": board.url,
                  "closed": board.closed, "lists": lists, "labels": labels},
        "created": created,
        "github": github,
        "outputs": {"boardId": board.id, "boardUrl": board.url, "todoListId": ids[0], "doingListId": ids[1],
                    "doneListId": ids[-1]},
    }
