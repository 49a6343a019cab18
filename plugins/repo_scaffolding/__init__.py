"""The built-in `repo-scaffolding` plugin."""

from __future__ import annotations

from devstream.plugins.repo_scaffolding.plugin import RepoScaffoldingOptions, RepoScaffoldingPlugin

__all__ = ["RepoScaffoldingOptions", "RepoScaffoldingPlugin"]
