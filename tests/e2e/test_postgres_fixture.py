"""The PostgreSQL fixture works from any shell: with /usr/sbin off PATH (a non-login root shell, a CI
step), as root it still runs initdb and postgres as the postgres user, and the password it sets works."""

from __future__ import annotations

import os
import subprocess

import pytest
from postgres import PostgresCluster, installed_bin_dir


def test_a_cluster_starts_and_takes_its_password_without_sbin_on_path(monkeypatch: pytest.MonkeyPatch):
    bin_dir = installed_bin_dir()
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        done = subprocess.run([str(bin_dir / "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
                               cluster.user, "-d", cluster.database, "-c", "select current_user"],
                              env={**os.environ, "PGPASSWORD": cluster.password}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == cluster.user, done.stderr
    finally:
        cluster.stop()
    assert not cluster.root.exists()
