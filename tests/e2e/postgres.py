"""A throwaway PostgreSQL cluster for end-to-end tests: `initdb`, `postgres` on a free loopback port, one
database and one password user, stopped and removed at teardown.

Binaries are looked for in /usr/lib/postgresql/*/bin (Debian's `postgresql` package, newest version first),
then on PATH. `initdb` and `postgres` refuse to run as root, so under root they run as the `postgres` OS user,
switched to by the subprocess itself (no runuser or su, which may be off PATH or need their arguments quoted for
a shell), in a directory handed over to it. Missing binaries are installed (apt-get, see tests/fetched.py) when
the tests may; otherwise the tests fail saying what to install.

    from postgres import postgres_url  # noqa: F401  (the fixture)

    def test_x(postgres_url: str): ...  # postgresql+asyncpg://dtm:<pw>@127.0.0.1:<port>/dtm
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_server import free_port
from fetched import FetchError, apt_install

__all__ = ["PostgresCluster", "find_bin_dir", "installed_bin_dir", "postgres_url"]

_TOOLS = ("initdb", "pg_ctl", "postgres", "psql")
OS_USER = "postgres"


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(p) for p in version.split(".") if p.isdigit()) or (0,)


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl, postgres and psql; None when PostgreSQL is not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in candidates:
        if all(os.access(Path(folder) / tool, os.X_OK) for tool in _TOOLS):
            return Path(folder)
    return None


class PostgresCluster:
    """One cluster in a temporary folder: `start()`, then `url`; `stop()` removes everything."""

    def __init__(self, bin_dir: Path, database: str = "dtm", user: str = "dtm"):
        self.bin_dir = bin_dir
        self.database, self.user = database, user
        self.password = secrets.token_hex(12)
        self.superuser = "dtm_admin"
        self.as_root = os.geteuid() == 0
        # Not under pytest's tmp folder: pytest-of-<user> is mode 0700, which the postgres user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="dtm-pg-"))
        self.data, self.sockets, self.log = self.root / "data", self.root / "sockets", self.root / "postgres.log"
        self.port = 0
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, argv: list[str], timeout: float = 120) -> str:
        """Run argv, as the postgres OS user when we are root (initdb and postgres refuse root)."""
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        owner: dict[str, object] = {}
        if self.as_root:
            user = pwd.getpwnam(OS_USER)
            owner = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            env |= {"HOME": user.pw_dir, "USER": OS_USER, "LOGNAME": OS_USER}
        done = subprocess.run(argv, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout,
                              **owner)  # type: ignore[call-overload]
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{log}")
        return done.stdout

    def start(self) -> None:
        self.sockets.mkdir()
        if self.as_root:
            try:
                owner = pwd.getpwnam(OS_USER)
            except KeyError:
                raise RuntimeError(f"running as root, but there is no `{OS_USER}` OS user to run initdb as "
                                   f"(Debian's postgresql package creates it)") from None
            for path in (self.root, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        t0 = time.monotonic()
        self._run([str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", self.superuser, "--auth-local=trust",
                   "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"])
        t1 = time.monotonic()
        # A free port can be taken between our probe and postgres binding it: try a few.
        for attempt in range(3):
            self.port = free_port()
            # A throwaway cluster: durability off, which is what makes it quick on a small CI machine.
            options = (f"-p {self.port} -k {self.sockets} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off "
                       f"-c full_page_writes=off -c max_connections=200")
            try:
                self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                           "-w", "-t", "60", "start"])
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.started = True
        # Two -c: CREATE DATABASE cannot share a transaction with anything.
        self._run([str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.sockets), "-p",
                   str(self.port), "-U", self.superuser, "-d", "postgres",
                   "-c", f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'",
                   "-c", f"CREATE DATABASE {self.database} OWNER {self.user}"])
        print(f"\npostgres {self.bin_dir.parent.name} on 127.0.0.1:{self.port}: initdb {t1 - t0:.1f} s, "
              f"start and create database {time.monotonic() - t1:.1f} s")

    def stop(self) -> None:
        try:
            if self.started:
                self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60",
                           "stop"])
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def installed_bin_dir() -> Path:
    """The binaries' folder, Debian's postgresql installed first if need be; the test fails if it cannot be."""
    try:
        return apt_install("postgresql", find_bin_dir)
    except FetchError as exc:
        pytest.fail(f"PostgreSQL binaries (initdb, pg_ctl, postgres, psql) not found: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A `postgresql+asyncpg://` URL of a database on a cluster of the module's own."""
    cluster = PostgresCluster(installed_bin_dir())
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()
