"""Shared fixtures. Prefect-backed tests share one test server per session (it takes ~13 s to start)."""

from __future__ import annotations

import os
import signal
import tempfile
import time
import uuid

# The tests run on several pytest-xdist workers (pyproject's addopts): a worker is a child of the run's main
# process, which set the variables below before starting it. A pytest that a test runs is not a worker.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "") if (
    os.environ.get("DTM_TESTS_SESSION_PID") == str(os.getppid())) else ""
# Before anything imports prefect: no telemetry without network, and a Prefect home of the tests' own.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="dtm-tests-prefect-"))
# dtm's own home (its local Prefect server's record and database): never the developer's ~/.dtm.
os.environ.setdefault("DTM_HOME", tempfile.mkdtemp(prefix="dtm-tests-home-"))
if _XDIST_WORKER:  # each worker a home of its own (its own server record, database, profiles)
    for _home in ("PREFECT_HOME", "DTM_HOME"):
        os.environ[_home] = os.path.join(os.environ[_home], _XDIST_WORKER)
        os.makedirs(os.environ[_home], exist_ok=True)
    # A worker's temporary folders are longer (.../popen-gw0/...): wide lines, so that no message of a process a
    # test starts wraps inside a path the test looks for (a worker's own output is not shown).
    os.environ["COLUMNS"] = "200"
else:
    # Every process the tests start inherits this mark (a fresh one per run, so a pytest run by a test has its
    # own; the workers keep their main process's): at the end, a process still carrying it is one a test left
    # behind (see pytest_sessionfinish).
    os.environ["DTM_TESTS_SESSION"] = uuid.uuid4().hex
    os.environ["DTM_TESTS_SESSION_PID"] = str(os.getpid())
os.environ.setdefault("GIT_AUTHOR_NAME", "dtm tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@dtm.invalid")

import collections  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from config_schema_check import watch_loaded_configs  # noqa: E402, F401 - autouse for every test
from dtm_cli import dtm  # noqa: E402, F401 - the `dtm` fixture for every test
from helm_charts import chart_repository  # noqa: E402, F401 - the stand-in charts, for every folder
from kube_cluster import kube_binaries, kube_cluster, kube_standin  # noqa: E402, F401 - Kubernetes stand-in
from s3_server import s3_env, s3_server  # noqa: E402, F401 - the s3 state backend's tests

# Under `--dist loadfile` a file runs whole on one worker, and xdist hands files out in collection order
# (`--no-loadscope-reorder` in pyproject). These took longest (`pytest --durations=0`, summed per file, on
# 3 December 2026: 60-294 s each, the whole run 1,179 s): handed out first, longest first, they do not leave
# one worker on a long file at the end while the other has nothing left to do.
SLOW_FILES = (
    "e2e/test_deployments.py", "e2e/test_postgres.py", "cli/test_local_server.py", "cli/test_server_faults.py",
    "cli/test_s3_backend.py", "cli/test_busy_server.py", "helm/test_helm_installer_cluster.py",
    "engine/test_apply.py", "cli/test_init_plugins.py", "e2e/test_ui_artifacts.py", "state/test_prefect_store.py",
    "cli/test_big_plans.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """A pytest that a test runs gets none of this run's extra options, such as .ci/run's `--cov` (its coverage
    would combine this run's data files): PYTEST_ADDOPTS goes once it is read. The main process of a
    distributed run keeps it: its workers read it when they start, and a worker without `--cov` there sends
    back no coverage data (pytest-cov decides while parsing the options)."""
    if _XDIST_WORKER or not getattr(config.option, "numprocesses", None):
        os.environ.pop("PYTEST_ADDOPTS", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """SLOW_FILES first, then the other files with the most tests first (what xdist's own reordering did);
    a file's tests stay together and in their order."""
    tests = Path(__file__).parent
    rank = {tests / name: i for i, name in enumerate(SLOW_FILES)}
    count = collections.Counter(item.path for item in items)
    items.sort(key=lambda item: (rank.get(item.path, len(rank)), -count[item.path]))  # stable: files stay whole


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


def _left_behind() -> dict[int, str]:
    """Live processes (not zombies) other than this one that carry this session's mark: pid -> command line."""
    mark = f"DTM_TESTS_SESSION={os.environ['DTM_TESTS_SESSION']}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if mark not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
    return found


@pytest.hookimpl(trylast=True)  # after pytest-xdist has stopped its workers
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test leaves a process running: what is still alive at the end is listed, killed, and fails the run.
    Checked once, by the run's main process, when every worker is done (a worker's own check would find the
    processes the other workers' tests still run)."""
    if _XDIST_WORKER or not Path("/proc/self/environ").exists():
        return
    # A server stopped by the last teardown may take a moment to go.
    deadline = time.monotonic() + float(os.environ.get("DTM_TESTS_LEAK_WAIT", "10"))
    while (left := _left_behind()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not left:
        return
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    lines = "\n".join(f"  {pid}: {cmd.strip()[:200]}" for pid, cmd in sorted(left.items()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"tests left {len(left)} process(es) running (now killed):\n{lines}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
