"""The SCM layer under the repository and CI plugins: one interface, three systems (GitHub, GitLab, git)."""

from devstream.plugins.scm.base import FileInfo, RepoInfo, RepoSpec, ScmClient, git_blob_sha

__all__ = ["FileInfo", "RepoInfo", "RepoSpec", "ScmClient", "git_blob_sha"]
