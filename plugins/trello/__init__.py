"""The built-in `trello` plugin (and its deprecated alias `trello-github-integ`): a Trello board for a GitHub
repository's issues."""

from __future__ import annotations

from devstream.plugins.trello.plugin import TrelloGithubIntegPlugin, TrelloOptions, TrelloPlugin

__all__ = ["TrelloGithubIntegPlugin", "TrelloOptions", "TrelloPlugin"]
