"""github-actions inside another plugin: workflow files and Actions secrets that a plugin such as trello or jira
puts in a GitHub repository beside what it does in its own system.

The files and secrets go through the github-actions plugin itself (one commit, sealed secrets, drift on the
files' blob SHAs, removal of only what dtm made), with its status kept under one key of the host plugin's status
(`github`), which is also where the host passes it back as the prior.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from devstream.plugin.base import PluginContext, ResourceStatus
from devstream.plugins.github_actions.plugin import GitHubActionsOptions, GitHubActionsPlugin, Pipeline
from devstream.plugins.scm.base import RepoSpec

__all__ = ["GitHubWorkflows"]

_PLUGIN = GitHubActionsPlugin()


@dataclasses.dataclass(frozen=True)
class GitHubWorkflows:
    """Workflow files (name in .github/workflows -> template text, rendered with `vars`) and Actions secrets
    (name -> value) for one GitHub repository."""

    scm: RepoSpec
    files: Mapping[str, str]
    secrets: Mapping[str, str]
    vars: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def options(self) -> GitHubActionsOptions:
        return GitHubActionsOptions(scm=self.scm, pipeline=Pipeline(
            configContents=dict(self.files), vars=dict(self.vars),
            secrets={name: SecretStr(value) for name, value in self.secrets.items()}))

    @staticmethod
    def _ctx(ctx: PluginContext, prior: ResourceStatus | None) -> PluginContext:
        return dataclasses.replace(ctx, prior=prior)

    def put(self, ctx: PluginContext, prior: ResourceStatus | None) -> ResourceStatus:
        """Commit the files and set the secrets; with the part's `prior` status, also remove what it made that is
        no longer wanted."""
        inner = self._ctx(ctx, prior)
        if prior is None:
            return _PLUGIN.create(self.options(), inner)
        return _PLUGIN.update(self.options(), inner)

    def read(self, ctx: PluginContext, prior: ResourceStatus | None) -> ResourceStatus | None:
        """The files' blob SHAs and which secrets exist; None when the repository is gone."""
        return _PLUGIN.read(self.options(), self._ctx(ctx, prior))

    def delete(self, ctx: PluginContext, prior: ResourceStatus | None) -> None:
        """Remove the files and secrets (those the options give and those `prior` says dtm made)."""
        _PLUGIN.delete(self.options(), self._ctx(ctx, prior))
