"""What the tests need from outside the repository, fetched by the tests themselves (once, cached).

No test skips because a file the project could provide is missing: on a fresh machine, README's test command
fetches it here. `.ci/run` installs the same things ahead of time, so CI never waits on them mid-run.

- npm packages (GitHub's OpenAPI description) go into the cache folder `$DTM_NPM_CACHE` (default
  `~/.cache/dtm/npm`), shared by every checkout on the machine; `npm_file()` installs a pinned version there
  when the file is missing or the installed version differs, under a file lock so two test runs at once
  install it once.
- Debian packages (chromium) are installed with apt-get when the tests run as root (or with password-less
  sudo); otherwise the failure says which command to run. A missing tool fails the test, it never skips it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["apt_install", "npm_file", "npm_folder"]

_NPM_TIMEOUT = 900
_APT_TIMEOUT = 900


class FetchError(RuntimeError):
    """What a test needs could not be fetched; the message says what to run by hand."""


def npm_folder() -> Path:
    """The npm cache folder tests install into (`--prefix`), outside the work tree."""
    return Path(os.environ.get("DTM_NPM_CACHE") or Path.home() / ".cache" / "dtm" / "npm").expanduser()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _installed_version(prefix: Path, name: str) -> str | None:
    try:
        return str(json.loads((prefix / "node_modules" / name / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def npm_file(name: str, version: str, relative: str | Path, prefix: Path | None = None) -> Path:
    """The file `relative` (e.g. `node_modules/@octokit/openapi/...`) of npm package `name@version` in the
    cache folder, installed there first if it is missing or another version is installed."""
    prefix = prefix or npm_folder()
    path = prefix / relative
    if path.is_file() and _installed_version(prefix, name) == version:
        return path
    with _locked(prefix.parent / f".{prefix.name}.lock"):
        if path.is_file() and _installed_version(prefix, name) == version:  # another run installed it meanwhile
            return path
        npm = shutil.which("npm")
        command = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", "--silent",
                   f"{name}@{version}"]
        if npm is None:
            raise FetchError(f"{path} is missing and npm is not installed to fetch it; install Node.js and npm "
                             f"(Debian: apt-get install -y npm), then: {' '.join(command)}")
        print(f"\nfetching {name}@{version} into {prefix} (npm, once per machine)")
        try:
            done = subprocess.run([npm, *command[1:]], capture_output=True, text=True, timeout=_NPM_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FetchError(f"`{' '.join(command)}` took over {_NPM_TIMEOUT} s") from None
        if done.returncode != 0 or not path.is_file():
            raise FetchError(f"`{' '.join(command)}` failed ({done.returncode}), so {path} is missing:\n"
                             f"{(done.stderr or done.stdout)[-2000:]}")
    return path


def apt_install(package: str, find: Callable[[], Path | None]) -> Path:
    """What `find` finds (a program, a folder of them), installing Debian's `package` first when it finds nothing."""
    found = find()
    if found is not None:
        return found
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        sudo = ["sudo", "-n"]
    else:
        raise FetchError(f"{package} is not installed and the tests cannot install it (not root, no password-less "
                         f"sudo); run: sudo apt-get install -y {package}")
    if not shutil.which("apt-get"):
        raise FetchError(f"{package} is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _locked(Path(os.environ.get("TMPDIR", "/tmp")) / "dtm-tests-apt.lock"):
        if find() is None:
            print(f"\ninstalling {package} (apt-get) for the tests")
            for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
                done = subprocess.run([*sudo, *step], env=env, capture_output=True, text=True,
                                      timeout=_APT_TIMEOUT, stdin=subprocess.DEVNULL)
                if done.returncode != 0:
                    raise FetchError(f"`{' '.join(step)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = find()
    if found is None:
        raise FetchError(f"apt-get installed {package}, yet what the tests need from it is still not found")
    return found
