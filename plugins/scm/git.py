"""The `git` SCM client: any git remote, spoken to through the git command line.

The remote is `spec.url`: a `file://` URL or a local path (relative to the config's folder), an ssh URL
(`ssh://host/x.git`, `git@host:x.git`) or an http(s) URL. Reads fetch the branch's tip (`--depth 1`) into a
scratch repository of the client's own and read blob SHAs straight from its tree. A push builds ONE commit on
top of that tip with `git fast-import` (no checkout, no hooks, no signing) and pushes it; a remote that moved
meanwhile rejects the push, which is a transient error: the retry fetches again.

The scratch repository (and the ssh key file, when one is used) lives in a folder `dtm-git-*` under the
system's temporary folder (`tempfile.gettempdir()`), made by the first call that needs it and removed by
`close()`, which leaving a `with` block calls; should an owner forget, the garbage collector removes it when
the client goes away.

Whether a commit is still on a branch (its head or an ancestor) costs one `ls-remote` when it is the head.
Otherwise a local remote is asked directly (`git merge-base --is-ancestor` in its own repository); for a
network remote the branch's last 100 commits are fetched into the scratch repository, and its whole history
only when the commit is not among them.

Local remotes are the only ones dtm creates (`git init --bare`) and deletes; it marks the repositories it
created (`dtm.created` in their git config) so that a repository somebody else made is never removed on
the strength of a guess. A network remote must exist already, and dtm never deletes one.

Running git (timeouts, no prompts, credentials in the environment only, failures sorted into transient and
permanent ones) is git_command.py's part; reading trees and blobs and making commits in the scratch
repository, git_objects.py's.
"""

from __future__ import annotations

import shutil
from pathlib import PurePosixPath

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugin.http import safe_url
from devstream.plugins.scm.base import (
    FULL_SHA,
    FileInfo,
    RepoInfo,
    RepoSpec,
    Webhook,
    WebhookInfo,
    file_mode,
    git_blob_sha,
    under,
)
from devstream.plugins.scm.git_command import (
    DEFAULT_TIMEOUT,
    git_dir_of,
    is_git_repository,
    local_path,
    mentions,
    strip_userinfo,
)
from devstream.plugins.scm.git_objects import Entries, GitObjects
from devstream.repourl import name_from_url

__all__ = ["GitClient", "is_git_repository", "local_path", "strip_userinfo"]

CREATED_MARK = "dtm.created"
"""The git config key dtm sets in a local repository it created."""

_HISTORY_STEP = 100  # commits of a branch's history fetched first when looking for a commit in it
_MISSING = ("repository not found", "does not appear to be a git repository", "could not be found",
            "does not exist", "not found")
_UNREACHABLE = ("could not resolve host", "timed out", "connection refused", "network is unreachable",
                "failed to connect", "couldn't connect")
_MOVED = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to update ref")


def _clean_path(path: str) -> str:
    """A repository-relative path, checked: no absolute paths, no `..`, no `.git`."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts or ".git" in parts:
        raise PermanentError(f"{path!r} is not a file path inside a repository")
    return "/".join(p for p in parts if p != ".")


class GitClient(GitObjects):
    """One repository behind a git remote; see the module's docstring.

    Beyond the ScmClient protocol it offers `read_tree` (every file of a branch, for templates) and
    `created_by_dtm` (whether dtm created the repository, so that deleting it is safe). Use it as a context
    manager, or call `close()`, to remove its scratch folder; a closed client may be used again (it then
    makes a new one, which needs closing in turn).
    """

    def __init__(self, spec: RepoSpec, ctx: PluginContext, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(spec, ctx, timeout=timeout)
        self._snapshots: dict[str, Entries] = {}
        self._branch: str | None = spec.branch

    def close(self) -> None:
        """Remove the scratch folder (the fetched commits, the ssh key file); nothing to do if there is none."""
        self._snapshots.clear()  # they name commits of the scratch repository, which goes
        super().close()

    # -- the ScmClient protocol ----------------------------------------------------------------------------


    def describe_repo(self) -> RepoInfo | None:
        """The repository, or None when it does not exist (a missing local folder; a remote that says so)."""
        git_dir = None
        if self.path is not None:
            if not self.path.exists() or (self.path.is_dir() and not any(self.path.iterdir())):
                return None  # an empty folder is where create_repo may put the repository
            git_dir = git_dir_of(self.path)
            if git_dir is None:
                raise PermanentError(f"{self.display} exists but is not a git repository")
        done = self._git(["ls-remote", "--symref", self.remote, "HEAD"], check=False)
        if done.returncode != 0:
            message = self._stderr(done)
            if self.path is None and mentions(message, _MISSING) and not mentions(message, _UNREACHABLE):
                return None
            raise self._failure("ls-remote", done)
        head: str | None = None
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            ref, _, name = line.partition("\t")
            if ref.startswith("ref: refs/heads/") and name == "HEAD":
                head = ref.removeprefix("ref: refs/heads/")
        if head is None and git_dir is not None:  # an empty repository's HEAD is unborn: read it directly
            sym = self._git(["symbolic-ref", "--quiet", "HEAD"], git_dir=git_dir, check=False)
            head = sym.stdout.decode().strip().removeprefix("refs/heads/") or None
        return self._info(head or self.spec.default_branch)

    def create_repo(self, *, private: bool = True, description: str = "") -> RepoInfo:
        """A local remote is created (a bare repository, the spec's branch as HEAD) when missing; a network
        remote must exist already: this only checks that it does."""
        info = self.describe_repo()
        if info is not None:
            return info
        if self.path is None:
            raise PermanentError(f"git remote {self.display} does not exist or cannot be read; dtm creates only "
                                 f"local (file://) repositories: create it on its server first, and check the "
                                 f"url and the credentials")
        branch = self.spec.default_branch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._git(["init", "--bare", "--quiet", f"--initial-branch={branch}", str(self.path)])
        self._git(["config", CREATED_MARK, "true"], git_dir=self.path)
        if description:
            (self.path / "description").write_text(description.strip() + "\n")
        self.ctx.logger.info("created the git repository %s (branch %s)", self.display, branch)
        return self._info(branch)

    def delete_repo(self) -> None:
        """Remove a local repository's folder (gone already is fine); network remotes cannot be deleted."""
        if self.path is None:
            raise PermanentError(f"git remotes cannot be deleted by dtm; delete {self.display} yourself")
        if not self.path.exists():
            return
        if not is_git_repository(self.path):
            raise PermanentError(f"{self.path} is not a git repository; dtm will not remove it")
        shutil.rmtree(self.path)
        self.ctx.logger.info("deleted the git repository %s", self.display)

    def get_file(self, path: str, branch: str | None = None) -> FileInfo | None:
        """A file on the branch (default: the spec's, else the remote's default branch) with its content."""
        entry = self._tree(branch or self.branch).get(_clean_path(path))
        if entry is None:
            return None
        content = self._git(["cat-file", "blob", entry[1]], cwd=self._scratch_repo()).stdout
        return FileInfo(path=_clean_path(path), sha=entry[1], content=content)

    def list_files(self, prefix: str = "", branch: str | None = None) -> dict[str, str]:
        """Path -> blob SHA of the files on the branch under the folder `prefix` ({} for no such branch)."""
        entries = self._tree(branch or self.branch)
        return {p: sha for p, (_, sha) in sorted(entries.items()) if under(p, prefix)}

    def push_files(self, files: dict[str, bytes], message: str, branch: str | None = None,
                   delete: list[str] | None = None) -> str:
        """ONE commit writing `files` and removing `delete` on the branch (created from the default branch
        if missing); returns its SHA, or the branch's head when there is nothing to change."""
        branch = branch or self.branch
        if self.path is not None and not is_git_repository(self.path):
            what = "is not a git repository" if self.path.exists() else "does not exist"
            raise PermanentError(f"{self.display} {what}")
        head = self._head(branch)
        base = head
        entries = self._tree_at(branch, head)
        if head is None:
            default = self.describe_repo()
            if default is not None and default.default_branch != branch:
                base = self._head(default.default_branch)
                entries = self._tree_at(default.default_branch, base)
        wanted = dict(entries)
        writes: list[tuple[str, str, bytes]] = []  # (path, mode, content)
        for raw_path, data in sorted(files.items()):
            path = _clean_path(raw_path)
            mode = file_mode(entries[path][0] if path in entries else None)
            entry = (mode, git_blob_sha(data))
            if wanted.get(path) != entry:
                wanted[path] = entry
                writes.append((path, mode, data))
        removed = sorted({p for p in (_clean_path(p) for p in (delete or [])) if p in wanted})
        for path in removed:
            del wanted[path]
        if not writes and not removed:
            if head is None and base is not None:  # a new branch at the default branch's head
                self._push(base, branch)
                return base
            return head or ""
        commit = self._commit(base, message, writes, removed)
        self._push(commit, branch)
        self._snapshots[commit] = wanted
        self.ctx.logger.info("pushed %s to %s (%s): %d file(s) written, %d removed", commit[:12], self.display,
                             branch, len(writes), len(removed))
        return commit

    def commit_on_branch(self, sha: str, branch: str | None = None) -> bool:
        """Whether the commit is the branch's head or an ancestor of it (see the module's docstring for how)."""
        if not FULL_SHA.fullmatch(sha):
            return False
        branch = branch or self.branch
        if self.path is not None and not is_git_repository(self.path):
            return False
        head = self._head(branch)
        if head is None:
            return False
        if head == sha:
            return True
        if self.path is not None:  # a local remote: ask its own repository, nothing to fetch
            git_dir = git_dir_of(self.path)
            assert git_dir is not None
            return self._is_ancestor(sha, head, git_dir=git_dir)
        scratch = self._scratch_repo()
        for deepen in ([f"--depth={_HISTORY_STEP}"], ["--unshallow"]):
            self._git(["fetch", "--quiet", "--no-tags", *deepen, self.remote,
                       f"+refs/heads/{branch}:refs/dtm/history"], cwd=scratch)
            if self._is_ancestor(sha, "refs/dtm/history", cwd=scratch):
                return True
            shallow = self._git(["rev-parse", "--is-shallow-repository"], cwd=scratch).stdout.decode().strip()
            if shallow != "true":
                return False  # the branch's whole history is here, and the commit is not in it
        return False

    def list_secrets(self) -> list[str]:
        """Plain git has no CI secrets."""
        return []

    def put_secret(self, name: str, value: str) -> None:
        """Always fails: plain git has no CI secrets to put one in."""
        raise PermanentError(f"scmType git has no CI secrets: cannot store {name} in {self.display}; use a "
                             f"github or gitlab repository, or set the secret in your CI system yourself")

    def delete_secret(self, name: str) -> None:
        """Nothing to delete: plain git has no CI secrets."""

    def list_webhooks(self) -> list[WebhookInfo]:
        """Plain git has no webhooks."""
        return []

    def put_webhook(self, hook: Webhook) -> WebhookInfo:
        """Always fails: plain git has no webhooks to put one in."""
        raise PermanentError(f"scmType git has no webhooks: cannot add one for {safe_url(hook.url)} to "
                             f"{self.display}; use a github or gitlab repository (dtm manages their webhooks), or "
                             f"set up delivery in your git server yourself (e.g. a post-receive hook)")

    def delete_webhook(self, url: str) -> None:
        """Nothing to delete: plain git has no webhooks."""

    # -- beyond the protocol ---------------------------------------------------------------------------------
    @property
    def branch(self) -> str:
        """The branch to use: the spec's, else the remote's default branch, else `main`."""
        if self._branch is None:
            info = self.describe_repo()
            self._branch = info.default_branch if info is not None else self.spec.default_branch
        return self._branch

    def created_by_dtm(self) -> bool:
        """Whether dtm created this repository (only local ones, which it marks); False when unsure."""
        if self.path is None:
            return False
        git_dir = git_dir_of(self.path)
        if git_dir is None:
            return False
        done = self._git(["config", "--get", CREATED_MARK], git_dir=git_dir, check=False)
        return done.stdout.decode().strip() == "true"

    def read_tree(self, branch: str | None = None) -> dict[str, bytes]:
        """Every file of the branch (default: the spec's, else the remote's HEAD) with its content."""
        info = self.describe_repo()
        if info is None:
            raise PermanentError(f"git repository {self.display} does not exist")
        if self._branch is None:  # what `branch` would ask describe_repo (one more ls-remote) for
            self._branch = info.default_branch
        branch = branch or self.branch
        head = self._head(branch)
        if head is None:
            raise PermanentError(f"git repository {self.display} has no branch {branch!r}")
        entries = self._tree_at(branch, head)
        return dict(zip(entries, self._blobs([sha for _, sha in entries.values()]), strict=True))

    # -- plumbing --------------------------------------------------------------------------------------------
    def _info(self, default_branch: str) -> RepoInfo:
        name = self.spec.name or name_from_url(self.display)
        full = f"{self.spec.namespace}/{name}" if self.spec.namespace else name
        html = self.display.removesuffix(".git") if self.display.startswith(("http://", "https://")) else self.display
        return RepoInfo(full_name=full, default_branch=default_branch, clone_url=self.display, html_url=html)

    def _head(self, branch: str) -> str | None:
        """The commit the remote's branch points at, or None when there is no such branch."""
        done = self._git(["ls-remote", self.remote, f"refs/heads/{branch}"], check=False)
        if done.returncode != 0:
            if self.path is not None and not self.path.exists():
                raise PermanentError(f"git repository {self.display} does not exist")
            raise self._failure("ls-remote", done)
        for line in done.stdout.decode().splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def _tree(self, branch: str) -> Entries:
        """The files of the branch's tip ({} when the branch does not exist), fetched once per commit."""
        return self._tree_at(branch, self._head(branch))

    def _tree_at(self, branch: str, head: str | None) -> Entries:
        """The files of the branch whose tip the caller just read as `head` (None: no such branch)."""
        if head is None:
            return {}
        if head not in self._snapshots:
            scratch = self._scratch_repo()
            self._git(["fetch", "--quiet", "--depth=1", "--no-tags", self.remote,
                       f"+refs/heads/{branch}:refs/dtm/fetched"], cwd=scratch)
            commit = self._git(["rev-parse", "refs/dtm/fetched"], cwd=scratch).stdout.decode().strip()
            self._snapshots[commit] = self._ls_tree(commit)
            self._snapshots.setdefault(head, self._snapshots[commit])  # the branch may have moved meanwhile
        return self._snapshots[head]

    def _push(self, commit: str, branch: str) -> None:
        done = self._git(["push", "--quiet", "--no-verify", self.remote, f"{commit}:refs/heads/{branch}"],
                         cwd=self._scratch_repo(), check=False)
        if done.returncode == 0:
            return
        message = self._stderr(done)
        if mentions(message, _MOVED):
            raise TransientError(f"git push to {self.display} ({branch}) was rejected because the branch moved "
                                 f"meanwhile; a retry starts from its new head: {message}")
        raise self._failure("push", done)
