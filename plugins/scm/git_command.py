"""Running git for the `git` SCM client (git.py): one command at a time, with a timeout, no prompts, the C
locale, credentials in the environment only, and failures sorted into transient and permanent ones.

A `token` is sent as HTTP basic auth through git's `http.extraHeader`, scoped to the remote's scheme, host
and port and given in the environment (never on a command line); an ssh key is written to a 0600 file in the
client's scratch folder. User info in a URL, the token and its basic-auth form are scrubbed from everything
logged or raised.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec
from devstream.repourl import SCP_LIKE, token_user

__all__ = ["DEFAULT_TIMEOUT", "GitCommand", "git_dir_of", "is_git_repository", "local_path", "mentions",
           "strip_userinfo"]

DEFAULT_TIMEOUT = 300.0
"""Seconds any one git command may take."""

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_DENIED = ("authentication failed", "permission denied", "could not read username", "could not read password",
           "access denied", "returned error: 401", "returned error: 403", "http 401", "http 403",
           "invalid credentials", "host key verification failed")
_FLAKY = ("could not resolve host", "timed out", "connection refused", "connection reset", "early eof",
          "the remote end hung up unexpectedly", "temporary failure", "rpc failed", "couldn't connect",
          "failed to connect", "network is unreachable", "returned error: 5", "http 5", "internal server error",
          "index-pack failed")


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
    elif "://" in url or SCP_LIKE.match(url):
        return None
    else:
        path = url
    p = Path(path).expanduser()
    return Path(os.path.abspath(p if p.is_absolute() else workdir / p))


def git_dir_of(path: Path) -> Path | None:
    """The git directory of a local repository (bare or with a work tree), or None if `path` is not one."""
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir():
        return path
    dot = path / ".git"
    if dot.is_dir() and (dot / "HEAD").is_file():
        return dot
    return None


def is_git_repository(path: Path) -> bool:
    """Whether `path` is a local git repository: a bare one, or a work tree with its `.git` folder."""
    return git_dir_of(path) is not None


def mentions(message: str, needles: tuple[str, ...]) -> bool:
    """Whether git's `message` contains one of `needles`, ignoring case."""
    low = message.lower()
    return any(n in low for n in needles)


class GitCommand:
    """The remote of `spec`, its scratch folder and the git command line; `GitClient` builds on it."""

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
        self._cleanup: weakref.finalize[..., GitCommand] | None = None
        self._scratch: Path | None = None
        self._env: dict[str, str] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the scratch folder (the fetched commits, the ssh key file); nothing to do if there is none."""
        cleanup, root = self._cleanup, self._scratch_root
        self._cleanup, self._scratch_root, self._scratch = None, None, None
        self._env = None  # it names the ssh key file, which goes with the folder
        if cleanup is not None:
            cleanup()  # the finalizer's rmtree, run now and never again
        if root is not None and root.exists():  # not an error: it must not hide the one a `with` block ends on
            self.ctx.logger.warning("could not remove git's scratch folder %s; remove it yourself", root)

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
            user = split.username or token_user(split.netloc)
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
        if mentions(message, _DENIED):
            return PermanentError(text + "; check the url and the credentials (token, ssh key)")
        if mentions(message, _FLAKY):
            return TransientError(text)
        return PermanentError(text)
