"""The SCM layer under the repository and CI plugins: one interface, three systems (GitHub, GitLab, git)."""

from devstream.plugins.scm.base import (
    WEBHOOK_EVENTS,
    FileInfo,
    RepoInfo,
    RepoSpec,
    ScmClient,
    Webhook,
    WebhookInfo,
    git_blob_sha,
)

__all__ = ["WEBHOOK_EVENTS", "FileInfo", "RepoInfo", "RepoSpec", "ScmClient", "Webhook", "WebhookInfo", "git_blob_sha"]
