"""Shared fixtures. Prefect-backed tests share one test server per session (it takes ~13 s to start)."""

from __future__ import annotations

import os
import tempfile

# Before anything imports prefect: no telemetry without network, and a Prefect home of the tests' own.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="dtm-tests-prefect-"))
# dtm's own home (its local Prefect server's record and database): never the developer's ~/.dtm.
os.environ.setdefault("DTM_HOME", tempfile.mkdtemp(prefix="dtm-tests-home-"))
os.environ.setdefault("GIT_AUTHOR_NAME", "dtm tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@dtm.invalid")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_real_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real SCM with the developer's own credentials."""
    for name in ("GITHUB_TOKEN", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect test server (temporary SQLite) for every test that runs real flows."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        # The harness sets the URL in-process only; code that talks to the API over plain HTTP (and any
        # subprocess) reads it from the environment.
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
