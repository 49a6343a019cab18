"""The built-in `github-actions` plugin: GitHub Actions workflows and secrets in a GitHub repository."""

from __future__ import annotations

from devstream.plugins.github_actions.plugin import GitHubActionsOptions, GitHubActionsPlugin

__all__ = ["GitHubActionsOptions", "GitHubActionsPlugin"]
