"""The built-in `jira` plugin (and its deprecated alias `jira-github-integ`): a GitHub repository's issues
mirrored into a Jira project."""

from __future__ import annotations

from devstream.plugins.jira.plugin import JiraGithubIntegPlugin, JiraOptions, JiraPlugin

__all__ = ["JiraGithubIntegPlugin", "JiraOptions", "JiraPlugin"]
