"""The Docker Engine API's official description (moby's `api/swagger.yaml`, Swagger 2.0, API v1.41), which every
request the Docker tests send, and every answer the stand-in gives, is held to.

Debian ships moby's source, description included, in the package `golang-github-docker-docker-dev`; the first
test run downloads that package (`apt-get download`, no install) into a cache folder and keeps the description
(`$DTM_DEB_CACHE`, default `~/.cache/dtm/deb`). `$DTM_DOCKER_SWAGGER` names a copy of the file instead.
A file lock beside it makes a second test process (an xdist worker) wait for the first download, then use it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGE = "golang-github-docker-docker-dev"
MEMBER = "./usr/share/gocode/src/github.com/docker/docker/api/swagger.yaml"
FILE_NAME = "docker-engine-api-swagger.yaml"


def cache_folder() -> Path:
    return Path(os.environ.get("DTM_DEB_CACHE") or Path.home() / ".cache" / "dtm" / "deb").expanduser()


def description_path() -> Path:
    explicit = os.environ.get("DTM_DOCKER_SWAGGER")
    return Path(explicit).expanduser() if explicit else cache_folder() / FILE_NAME


def fetch() -> Path:
    """The description's path, downloading Debian's package once when it is not cached yet."""
    target = description_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():  # else another process downloaded it while this one waited
            _download(target)
    return target


def _download(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="dtm-deb-") as scratch:
        download = subprocess.run(["apt-get", "download", PACKAGE], cwd=scratch, capture_output=True, text=True)
        if download.returncode != 0 and os.geteuid() == 0:
            # a machine whose package lists were never fetched knows no package yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
            download = subprocess.run(["apt-get", "download", PACKAGE], cwd=scratch, capture_output=True, text=True)
        if download.returncode != 0:
            raise RuntimeError(f"could not download {PACKAGE} (apt-get download): {download.stderr.strip()[-500:]}")
        deb = next(Path(scratch).glob(f"{PACKAGE}_*.deb"))
        tree = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", scratch, MEMBER], input=tree, check=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(Path(scratch) / MEMBER, partial)
        partial.replace(target)
