"""The client for a repository, by its `scmType`."""

from __future__ import annotations

from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec, ScmClient


def scm_client(spec: RepoSpec, ctx: PluginContext) -> ScmClient:
    """GitHub and GitLab speak their REST APIs (through the context's retrying httpx client); `git` runs
    the git command against the remote.

    The caller owns the client and closes it, on every path: `with scm_client(spec, ctx) as client: ...`.
    """
    if spec.scmType == "github":
        from devstream.plugins.scm.github import GitHubClient

        return GitHubClient(spec, ctx)
    if spec.scmType == "gitlab":
        from devstream.plugins.scm.gitlab import GitLabClient

        return GitLabClient(spec, ctx)
    from devstream.plugins.scm.git import GitClient

    return GitClient(spec, ctx)
