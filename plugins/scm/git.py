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

Every git call has a timeout, runs with `GIT_TERMINAL_PROMPT=0` (a missing credential fails instead of
waiting for a prompt nobody sees) and under the C locale. A `token` is sent as HTTP basic auth through git's
`http.extraHeader`, given in the environment (never on a command line); user info in a URL is stripped from
everything logged or raised.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import weakref
from pathlib import Path, PurePosixPath
from types import TracebackType
from urllib.parse import unquote, urlsplit

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

__all__ = ["GitClient", "is_git_repository", "local_path", "strip_userinfo"]

DEFAULT_TIMEOUT = 300.0
"""Seconds any one git command may take."""

CREATED_MARK = "dtm.created"
"""The git config key dtm sets in a local repository it created."""

_DEFAULT_AUTHOR = ("dtm", "dtm@localhost")
_HISTORY_STEP = 100  # commits of a branch's history fetched first when looking for a commit in it
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_SCP_LIKE = re.compile(r"[^/]*:")
_MISSING = ("repository not found", "does not appear to be a git repository", "could not be found",
            "does not exist", "not found")
_DENIED = ("authentication failed", "permission denied", "could not read username", "could not read password",
           "access denied", "returned error: 401", "returned error: 403", "http 401", "http 403",
           "invalid credentials", "host key verification failed")
_UNREACHABLE = ("could not resolve host", "timed out", "connection refused", "network is unreachable",
                "failed to connect", "couldn't connect")
_FLAKY = ("could not resolve host", "timed out", "connection refused", "connection reset", "early eof",
          "the remote end hung up unexpectedly", "temporary failure", "rpc failed", "couldn't connect",
          "failed to connect", "network is unreachable", "returned error: 5", "http 5", "internal server error",
          "index-pack failed")
_MOVED = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to update ref")


def strip_userinfo(text: str) -> str:
    """`text` with the user info (`user:token@`) of every URL in it removed: fit for logs and errors."""
    return _USERINFO.sub(r"\g<scheme>", text)


def local_path(url: str, workdir: Path) -> Path | None:
    """The folder a `file://` URL or a plain path names (relative paths from `workdir`); None for a network
    remote (ssh, http(s), scp-like `host:path`).

    `file:///abs/path` and `file://localhost/abs/path` are absolute; `file://./x`, `file:x` and `x` are
    relative to `workdir`.
    """
    if url.startswith("file:"):
        split = urlsplit(url)
        host, raw = split.netloc, unquote(split.path)
        if host in ("", "localhost"):
            path = raw
        elif host in (".", "..") or host.startswith("~"):
            path = host + raw
        else:
            raise PermanentError(f"{strip_userinfo(url)}: a file:// URL names a local folder; "
                                 f"write file:///absolute/path or a path relative to the config's folder")
    elif "://" in url or _SCP_LIKE.match(url):
        return None
    else:
        path = url
    p = Path(path).expanduser()
    return Path(os.path.abspath(p if p.is_absolute() else workdir / p))


def _git_dir(path: Path) -> Path | None:
    """The git directory of a local repository (bare or with a work tree), or None if `path` is not one."""
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir():
        return path
    dot = path / ".git"
    if dot.is_dir() and (dot / "HEAD").is_file():
        return dot
    return None


def is_git_repository(path: Path) -> bool:
    """Whether `path` is a local git repository: a bare one, or a work tree with its `.git` folder."""
    return _git_dir(path) is not None


def _quote_path(path: str) -> str:
    """A path as fast-import reads it: C-style quoted, so spaces, quotes and newlines survive."""
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _clean_path(path: str) -> str:
    """A repository-relative path, checked: no absolute paths, no `..`, no `.git`."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts or ".git" in parts:
        raise PermanentError(f"{path!r} is not a file path inside a repository")
    return "/".join(p for p in parts if p != ".")


Entries = dict[str, tuple[str, str]]
"""Path -> (mode, blob SHA) of the files of one commit."""


class GitClient:
    """One repository behind a git remote; see the module's docstring.

    Beyond the ScmClient protocol it offers `read_tree` (every file of a branch, for templates) and
    `created_by_dtm` (whether dtm created the repository, so that deleting it is safe). Use it as a context
    manager, or call `close()`, to remove its scratch folder; a closed client may be used again (it then
    makes a new one, which needs closing in turn).
    """

    def __init__(self, spec: RepoSpec, ctx: PluginContext, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not spec.url:
            raise PermanentError("scmType git needs the repository's `url`: a file://, ssh:// or https:// git "
                                 "remote, or a local path relative to the config's folder")
        self.spec = spec
        self.ctx = ctx
        self.timeout = timeout
        self.path = local_path(spec.url, ctx.workdir)
        self.remote = self.path.as_uri() if self.path is not None else spec.url
        self.display = strip_userinfo(self.remote)
        self._secrets = [s for s in (spec.token.get_secret_value() if spec.token else "",) if len(s) >= 4]
        self._scratch_root: Path | None = None
        self._cleanup: weakref.finalize[..., GitClient] | None = None
        self._scratch: Path | None = None
        self._env: dict[str, str] | None = None
        self._snapshots: dict[str, Entries] = {}
        self._branch: str | None = spec.branch

    # -- the ScmClient protocol ----------------------------------------------------------------------------
    def __enter__(self) -> GitClient:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the scratch folder (the fetched commits, the ssh key file); nothing to do if there is none."""
        cleanup, root = self._cleanup, self._scratch_root
        self._cleanup, self._scratch_root, self._scratch = None, None, None
        self._env = None  # it names the ssh key file, which goes with the folder
        self._snapshots.clear()  # they name commits of the scratch repository, which is gone
        if cleanup is not None:
            cleanup()  # the finalizer's rmtree, run now and never again
        if root is not None and root.exists():  # not an error: it must not hide the one a `with` block ends on
            self.ctx.logger.warning("could not remove git's scratch folder %s; remove it yourself", root)

    def describe_repo(self) -> RepoInfo | None:
        """The repository, or None when it does not exist (a missing local folder; a remote that says so)."""
        git_dir = None
        if self.path is not None:
            if not self.path.exists() or (self.path.is_dir() and not any(self.path.iterdir())):
                return None  # an empty folder is where create_repo may put the repository
            git_dir = _git_dir(self.path)
            if git_dir is None:
                raise PermanentError(f"{self.display} exists but is not a git repository")
        done = self._git(["ls-remote", "--symref", self.remote, "HEAD"], check=False)
        if done.returncode != 0:
            message = self._stderr(done)
            if self.path is None and _matches(message, _MISSING) and not _matches(message, _UNREACHABLE):
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
            git_dir = _git_dir(self.path)
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
        git_dir = _git_dir(self.path)
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
        name = self.spec.name or _name_from_url(self.display)
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

    def _is_ancestor(self, sha: str, tip: str, *, cwd: Path | None = None, git_dir: Path | None = None) -> bool:
        """Whether the commit `sha` is `tip` or an ancestor of it, in the repository at `cwd` or `git_dir`; False
        when that repository does not have the commit."""
        known = self._git(["cat-file", "-e", f"{sha}^{{commit}}"], cwd=cwd, git_dir=git_dir, check=False)
        if known.returncode != 0:
            return False
        done = self._git(["merge-base", "--is-ancestor", sha, tip], cwd=cwd, git_dir=git_dir, check=False)
        if done.returncode not in (0, 1):
            raise self._failure("merge-base", done)
        return done.returncode == 0

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

    def _ls_tree(self, commit: str) -> Entries:
        out = self._git(["ls-tree", "-r", "-z", "--full-tree", commit], cwd=self._scratch_repo()).stdout
        entries: Entries = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            if kind == "blob":  # submodules (commits) are not files
                entries[path.decode("utf-8", "surrogateescape")] = (mode, sha)
        return entries

    def _blobs(self, shas: list[str]) -> list[bytes]:
        """The contents of blobs of the scratch repository, in one `cat-file --batch`."""
        if not shas:
            return []
        out = self._git(["cat-file", "--batch"], cwd=self._scratch_repo(),
                        input="".join(f"{s}\n" for s in shas).encode()).stdout
        contents: list[bytes] = []
        pos = 0
        for _ in shas:
            end = out.index(b"\n", pos)
            size = int(out[pos:end].split()[2])
            contents.append(out[end + 1:end + 1 + size])
            pos = end + 1 + size + 1
        return contents

    def _commit(self, parent: str | None, message: str, writes: list[tuple[str, str, bytes]],
                removed: list[str]) -> str:
        """Make the commit with fast-import (in the scratch repository) and return its SHA."""
        name = _ident(os.environ.get("GIT_AUTHOR_NAME")) or _DEFAULT_AUTHOR[0]
        email = _ident(os.environ.get("GIT_AUTHOR_EMAIL")) or _DEFAULT_AUTHOR[1]
        committer = _ident(os.environ.get("GIT_COMMITTER_NAME")) or name
        committer_email = _ident(os.environ.get("GIT_COMMITTER_EMAIL")) or email
        when = f"{int(time.time())} +0000"
        text = message.encode()
        stream = [f"commit refs/dtm/commit\nauthor {name} <{email}> {when}\n"
                  f"committer {committer} <{committer_email}> {when}\ndata {len(text)}\n".encode(), text, b"\n"]
        if parent:
            stream.append(f"from {parent}\n".encode())
        for path, mode, data in writes:
            stream += [f"M {mode} inline {_quote_path(path)}\ndata {len(data)}\n".encode(), data, b"\n"]
        stream += [f"D {_quote_path(p)}\n".encode() for p in removed]
        stream.append(b"\ndone\n")
        scratch = self._scratch_repo()
        self._git(["fast-import", "--quiet", "--done", "--force"], cwd=scratch, input=b"".join(stream))
        return self._git(["rev-parse", "refs/dtm/commit"], cwd=scratch).stdout.decode().strip()

    def _push(self, commit: str, branch: str) -> None:
        done = self._git(["push", "--quiet", "--no-verify", self.remote, f"{commit}:refs/heads/{branch}"],
                         cwd=self._scratch_repo(), check=False)
        if done.returncode == 0:
            return
        message = self._stderr(done)
        if _matches(message, _MOVED):
            raise TransientError(f"git push to {self.display} ({branch}) was rejected because the branch moved "
                                 f"meanwhile; a retry starts from its new head: {message}")
        raise self._failure("push", done)

    def _root(self) -> Path:
        """The client's temporary folder; removed by `close()`, else when the client goes away."""
        if self._scratch_root is None:
            root = Path(tempfile.mkdtemp(prefix="dtm-git-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, root, True)
            self._scratch_root = root
        return self._scratch_root

    def _scratch_repo(self) -> Path:
        """A private repository to fetch into and commit in."""
        if self._scratch is None:
            repo = self._root() / "repo"
            self._git(["init", "--quiet", str(repo)])
            self._scratch = repo
        return self._scratch

    def _environment(self) -> dict[str, str]:
        if self._env is not None:
            return self._env
        env = dict(os.environ)
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANGUAGE="C")
        settings: list[tuple[str, str]] = []
        split = urlsplit(self.remote)
        if self.spec.token is not None and split.scheme in ("http", "https"):
            user = split.username or ("x-access-token" if "github" in split.netloc else "oauth2")
            basic = base64.b64encode(f"{user}:{self.spec.token.get_secret_value()}".encode()).decode()
            # Scoped to the remote's scheme, host and port: git sends it to no other server.
            netloc = split.netloc.rpartition("@")[2]
            settings.append((f"http.{split.scheme}://{netloc}/.extraHeader", f"Authorization: Basic {basic}"))
            if basic not in self._secrets:  # the environment is made again after a close
                self._secrets.append(basic)
        if self.spec.sshPrivateKey is not None and self.path is None:
            key = self._key_file(self.spec.sshPrivateKey.get_secret_value())
            env["GIT_SSH_COMMAND"] = f"ssh -i {shlex.quote(str(key))} -o IdentitiesOnly=yes -o BatchMode=yes"
        start = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        for i, (key_name, value) in enumerate(settings, start):
            env[f"GIT_CONFIG_KEY_{i}"] = key_name
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        if settings:
            env["GIT_CONFIG_COUNT"] = str(start + len(settings))
        self._env = env
        return env

    def _key_file(self, key: str) -> Path:
        path = self._root() / "ssh-key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.strip() + "\n")
        return path

    def _git(self, args: list[str], *, cwd: Path | None = None, git_dir: Path | None = None,
             input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = ["git", *(["--git-dir", str(git_dir)] if git_dir is not None else []), *args]
        try:
            done = subprocess.run(command, cwd=cwd, input=input, capture_output=True, timeout=self.timeout,
                                  env=self._environment(), stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TransientError(f"git {args[0]} ({self.display}) did not finish in {self.timeout:.0f}s") from None
        except FileNotFoundError:
            raise PermanentError("the git command is not installed (or not on PATH)") from None
        if check and done.returncode != 0:
            raise self._failure(args[0], done)
        return done

    def _stderr(self, done: subprocess.CompletedProcess[bytes]) -> str:
        text = " ".join(done.stderr.decode("utf-8", "replace").split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = strip_userinfo(text)
        return text if len(text) <= 500 else "..." + text[-500:]

    def _failure(self, what: str, done: subprocess.CompletedProcess[bytes]) -> PermanentError | TransientError:
        message = self._stderr(done) or f"exit status {done.returncode}"
        text = f"git {what} ({self.display}) failed: {message}"
        if _matches(message, _DENIED):
            return PermanentError(text + "; check the url and the credentials (token, ssh key)")
        if _matches(message, _FLAKY):
            return TransientError(text)
        return PermanentError(text)


def _matches(message: str, needles: tuple[str, ...]) -> bool:
    low = message.lower()
    return any(n in low for n in needles)


def _ident(value: str | None) -> str:
    """A name or e-mail fit for a commit header (no angle brackets, no line breaks)."""
    return re.sub(r"[<>\n\r]", "", value or "").strip()


def _name_from_url(url: str) -> str:
    tail = unquote(url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    return tail.removesuffix(".git") or url
