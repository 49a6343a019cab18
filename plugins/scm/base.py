"""What every SCM client offers the plugins: repositories, files, secrets (and, later, webhooks).

A file's identity is its git blob SHA-1 (`git hash-object`): GitHub's contents API and GitLab's files API
both report it, and plain git computes it, so a plugin's Read can compare what it wrote with what the
server holds, whichever system that is.
"""

from __future__ import annotations

import hashlib
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["FileInfo", "RepoInfo", "RepoSpec", "ScmClient", "git_blob_sha"]


def git_blob_sha(content: bytes) -> str:
    """The SHA-1 git gives a file's content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class RepoSpec(BaseModel):
    """Where a repository lives: DevStream's RepoInfo, plus `git` for any git remote.

    For `github` and `gitlab`, `owner` (a user) or `org` (an organisation or group) and `name` locate it;
    `apiURL`/`baseURL` point at GitHub Enterprise or a self-hosted GitLab. For `git`, `url` is the remote
    (file://, a local path, ssh or https): a local one is created when missing, a network one must exist.
    """

    model_config = ConfigDict(extra="forbid")

    scmType: Literal["github", "gitlab", "git"] = Field(description="Which kind of system hosts the repository.")
    owner: str | None = Field(default=None, description="The user that owns the repository.")
    org: str | None = Field(default=None, description="The organisation (GitHub) or group (GitLab) that owns it.")
    name: str | None = Field(default=None, description="The repository's name.")
    branch: str | None = Field(default=None, description="The branch to write to (default: main, master on GitLab).")
    url: str | None = Field(default=None, description="The repository's URL (required for `git`).")
    baseURL: str | None = Field(default=None, description="The web address of a self-hosted GitLab.")
    apiURL: str | None = Field(default=None, description="The API address of GitHub Enterprise or GitLab.")
    token: SecretStr | None = Field(default=None, description="An access token; stored only as a fingerprint.")
    sshPrivateKey: SecretStr | None = Field(default=None, description="Unused for now; accepted for DevStream configs.")

    @property
    def namespace(self) -> str:
        return self.org or self.owner or ""

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def default_branch(self) -> str:
        return self.branch or ("master" if self.scmType == "gitlab" else "main")


class RepoInfo(BaseModel):
    """What a client knows of an existing repository."""

    full_name: str
    default_branch: str
    clone_url: str
    html_url: str
    id: str | None = None


class FileInfo(BaseModel):
    path: str
    sha: str  # git blob SHA-1 of the content on the branch
    content: bytes | None = None


class ScmClient(Protocol):
    """One repository on one system. Every method is idempotent where the system allows it."""

    spec: RepoSpec

    def describe_repo(self) -> RepoInfo | None:
        """The repository, or None when it does not exist."""
        ...

    def create_repo(self, *, private: bool = True, description: str = "") -> RepoInfo:
        """Create the (empty) repository; for a `git` network remote, which dtm cannot create, check it exists."""
        ...

    def delete_repo(self) -> None:
        """Delete the repository; one already gone is success."""
        ...

    def get_file(self, path: str, branch: str | None = None) -> FileInfo | None:
        """A file on the branch (default: the spec's), or None."""
        ...

    def list_files(self, prefix: str = "", branch: str | None = None) -> dict[str, str]:
        """Path -> blob SHA of every file under `prefix` on the branch ({} for an empty repository)."""
        ...

    def push_files(self, files: dict[str, bytes], message: str, branch: str | None = None,
                   delete: list[str] | None = None) -> str:
        """Write (and delete) files in ONE commit on the branch, creating the branch if needed; returns the
        commit SHA. Files whose content is already there are left alone; nothing to do returns the head."""
        ...

    def list_secrets(self) -> list[str]:
        """Names of the repository's CI secrets (GitHub Actions secrets, GitLab CI/CD variables)."""
        ...

    def put_secret(self, name: str, value: str) -> None:
        ...

    def delete_secret(self, name: str) -> None:
        """Remove a secret; one already gone is success."""
        ...
