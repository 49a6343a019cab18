"""The built-in `gitlab-ci` plugin."""

from __future__ import annotations

from devstream.plugins.gitlab_ci.plugin import GitLabCIOptions, GitLabCIPlugin

__all__ = ["GitLabCIOptions", "GitLabCIPlugin"]
