"""The built-in `harbor-docker` plugin."""

from __future__ import annotations

from devstream.plugins.harbor_docker.plugin import HarborDockerOptions, HarborDockerPlugin

__all__ = ["HarborDockerOptions", "HarborDockerPlugin"]
