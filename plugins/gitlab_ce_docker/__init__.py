"""The built-in `gitlab-ce-docker` plugin."""

from __future__ import annotations

from devstream.plugins.gitlab_ce_docker.plugin import GitLabCEDockerOptions, GitLabCEDockerPlugin

__all__ = ["GitLabCEDockerOptions", "GitLabCEDockerPlugin"]
