"""dtm's local Prefect server, with real `prefect server start` processes in temporary DTM_HOMEs.

Two homes keep the file near 30 s: `home` holds one server for the read-only tests; `spare_home` is where
servers start, die and stop (its first start migrates a database; later starts reuse it and take ~4 s).
Every server is stopped at teardown, found by its working directory (the home) should a test lose track.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstream.cli import server_cmds
from devstream.prefect_boundary import server, server_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finds servers through /proc (Linux)")

_CLEAN_ENV = ("PREFECT_API_URL", "DTM_EMBEDDED_SERVER", "PREFECT_PROFILES_PATH", "PREFECT_PROFILE")


def _servers_in(home: Path) -> list[int]:
    """Pids of `prefect server start` processes running in home: what dtm started there, recorded or not."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"prefect" in cmd and b"server" in cmd and cwd == str(home) and server._alive(int(proc.name)):
            pids.append(int(proc.name))
    return pids


def _stop_everything(home: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DTM_HOME", str(home))
        server_cmds.server_stop()
    for pid in _servers_in(home):
        server.terminate_server(pid)


def _ensure_in_subprocess(home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV} | {"DTM_HOME": str(home)}
    code = "from devstream.prefect_boundary.server import ensure_server; print(ensure_server())"
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _health(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/health", timeout=5) as resp:
        return int(resp.status)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DTM_HOME with dtm's server running in it, started once by `dtm server start`."""
    path = tmp_path_factory.mktemp("dtm-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in _CLEAN_ENV:
            mp.delenv(name, raising=False)
        mp.setenv("DTM_HOME", str(path))
        t0 = time.perf_counter()
        try:
            assert server_cmds.server_start() == 0
            print(f"\nfirst start of dtm's local server: {time.perf_counter() - t0:.1f} s")
            yield path
        finally:
            _stop_everything(path)


@pytest.fixture(scope="module")
def spare_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("dtm-spare-home")
    try:
        yield path
    finally:
        _stop_everything(path)


@pytest.fixture
def in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DTM_HOME", str(home))
    return home


@pytest.fixture
def in_spare_home(spare_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DTM_HOME", str(spare_home))
    return spare_home


def test_status_shows_the_started_server_running_and_healthy(in_home, capsys):
    capsys.readouterr()
    assert server_cmds.server_status(json_out=True) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["running"] and status["healthy"]
    assert status["url"] == f"http://127.0.0.1:{status['port']}/api"
    assert status["ui_url"] == f"http://127.0.0.1:{status['port']}"
    assert status["database"] == str(in_home / "prefect" / "prefect.db") and Path(status["database"]).exists()
    assert _health(status["url"]) == 200
    assert json.loads((in_home / "server.json").read_text())["pid"] == status["pid"]
    # The UI finds its API through a setting of its own, not through the port the server listens on.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{status['ui_url']}/ui-settings", timeout=5) as resp:
        assert json.load(resp)["api_url"] == status["url"]

    assert server_cmds.server_status(json_out=False) == 0
    out = capsys.readouterr().out
    assert "running" in out and status["ui_url"] in out and str(status["pid"]) in out


def test_the_callers_server_settings_reach_the_server_but_not_another_database(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "7")  # a tuning of the user's own
    monkeypatch.setenv("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "P30D")
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db.example.invalid/prefect")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "elsewhere"))
    env = server_env.server_env(tmp_path / "prefect", "127.0.0.1", 4321)
    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] == "7"
    assert env["PREFECT_SERVER_EVENTS_RETENTION_PERIOD"] == "P30D"
    # The database, home and address stay dtm's: `dtm server status` reports what is really there.
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in env
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect")
    assert env["PREFECT_SERVER_UI_API_URL"] == "http://127.0.0.1:4321/api"


def test_a_second_call_reuses_the_server(in_home, capsys):
    before = server.read_server_info()
    assert before is not None
    t0 = time.perf_counter()
    url = server.ensure_server()
    print(f"ensure_server() reusing the server: {(time.perf_counter() - t0) * 1000:.1f} ms")
    assert url == before.url and server.read_server_info() == before

    # And from a fresh process, as the next `dtm apply` would: the same server, without a word.
    proc = _ensure_in_subprocess(in_home)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == before.url and "Starting" not in err
    assert _servers_in(in_home) == [before.pid]


def test_server_start_when_running_says_so(in_home, capsys):
    info = server.read_server_info()
    assert info is not None
    assert server_cmds.server_start() == 0
    assert "Already running" in capsys.readouterr().out and server.read_server_info() == info


def test_prefect_api_url_in_the_environment_wins_and_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DTM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example.invalid:4200/api")
    assert server.ensure_server() == "http://prefect.example.invalid:4200/api"
    assert not (tmp_path / "home").exists()


def test_opting_out_leaves_prefect_its_ephemeral_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("DTM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DTM_EMBEDDED_SERVER", "0")
    assert server.ensure_server() is None
    assert not (tmp_path / "home").exists()


def test_a_prefect_profile_naming_a_server_is_used_and_nothing_is_started(tmp_path, monkeypatch):
    # `prefect cloud login` and `prefect config set PREFECT_API_URL=...` write the active profile.
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://prefect.example.invalid/api"\n'
                        '[profiles.local]\n')
    for name in _CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DTM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(profiles))
    assert server.ensure_server() == "http://prefect.example.invalid/api"
    assert not (tmp_path / "home" / "server.json").exists()
    monkeypatch.setenv("PREFECT_PROFILE", "local")  # a profile without a URL: dtm's server again
    assert server._profile_api_url() is None


def test_two_processes_starting_at_once_start_one_server(in_spare_home):
    procs = [_ensure_in_subprocess(in_spare_home) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    urls = {out.strip() for out, _ in results}
    info = server.read_server_info()
    assert info is not None and urls == {info.url}
    assert sum("Starting dtm's local Prefect server" in err for _, err in results) == 1
    assert _servers_in(in_spare_home) == [info.pid]


def test_a_stale_record_of_a_dead_server_gets_a_fresh_server(in_spare_home):
    server_cmds.server_stop()
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: its pid now names no process
    stale = server.ServerInfo(pid=dead.pid, port=9, url="http://127.0.0.1:9/api",
                              prefect_home=str(in_spare_home / "prefect"), started="2020-01-01T00:00:00+00:00",
                              version="3.9.1")
    server._write_server_info(in_spare_home, stale)

    url = server.ensure_server()
    info = server.read_server_info()
    assert info is not None and url == info.url and info.pid != dead.pid
    assert _health(info.url) == 200 and _servers_in(in_spare_home) == [info.pid]


def test_a_crashed_server_is_replaced(in_spare_home):
    server.ensure_server()
    crashed = server.read_server_info()
    assert crashed is not None
    os.kill(crashed.pid, signal.SIGKILL)
    assert server._wait_gone(crashed.pid, 10)

    assert server_cmds.server_status() == 1
    url = server.ensure_server()
    info = server.read_server_info()
    assert info is not None and url == info.url and info.pid != crashed.pid and _health(url) == 200


def test_stop_ends_the_process_and_forgets_it(in_spare_home, capsys):
    server.ensure_server()
    info = server.read_server_info()
    assert info is not None

    assert server_cmds.server_stop() == 0
    assert not server._alive(info.pid) and _servers_in(in_spare_home) == []
    assert not (in_spare_home / "server.json").exists()
    assert "Stopped" in capsys.readouterr().out
    assert server_cmds.server_stop() == 0 and "not running" in capsys.readouterr().out
    assert server_cmds.server_status() == 1


def test_a_restart_listens_on_the_last_port_when_it_is_free(in_spare_home):
    """UI bookmarks of runs keep working across `dtm server stop` / start (and a reboot)."""
    server.ensure_server()
    first = server.read_server_info()
    assert first is not None
    server_cmds.server_stop()

    server.ensure_server()
    again = server.read_server_info()
    assert again is not None and again.pid != first.pid
    assert again.port == first.port and again.url == first.url and _health(again.url) == 200

    # Taken by another program meanwhile: any free port rather than no server.
    server_cmds.server_stop()
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stopped server's connections linger
        other.bind(("127.0.0.1", first.port))
        other.listen()
        server.ensure_server()
        moved = server.read_server_info()
    assert moved is not None and moved.port != first.port and _health(moved.url) == 200


def test_the_module_does_not_import_prefect():
    code = "import sys, devstream.prefect_boundary.server; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_dtm_drift_on_a_local_state_runs_on_dtms_local_server(in_home, tmp_path):
    # Every command that runs a flow takes the same way to the server, whatever the state backend: the drift
    # check's run is on the server `dtm server status` names (its UI shows it), not in a throwaway one.
    import yaml

    config = tmp_path / "drift-here.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}},
                                      "tools": [{"name": "noop", "instanceID": "one", "options": {}}]}))
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV} | {"DTM_HOME": str(in_home)}
    dtm = str(Path(sys.executable).parent / "dtm")
    for argv in (["apply", "-f", str(config), "-y"], ["drift", "-f", str(config), "--json"]):
        done = subprocess.run([dtm, *argv], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["resources"][0]["kind"] == "in_sync"

    info = server.read_server_info()
    assert info is not None
    body = json.dumps({"flows": {"name": {"any_": ["dtm-apply", "dtm-drift-check"]}}}).encode()
    request = urllib.request.Request(f"{info.url}/flow_runs/filter", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as resp:
        runs = [r for r in json.load(resp) if r["parameters"].get("config") == str(config)]
    assert len(runs) == 2, runs
