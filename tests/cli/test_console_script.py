"""The installed `dtm` command as a shell runs it: usage errors, the confirmation prompt, exit codes.

These run the console script in a subprocess, so the real typer and click stand between the user and
dtm's code (an in-process call would miss what they do with usage errors and Ctrl-C).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

DTM = str(Path(sys.executable).with_name("dtm"))


def run_dtm(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=120)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}},
                                    "tools": [{"name": "noop", "instanceID": "a"}]}))
    return path


def no_crash_report(result: subprocess.CompletedProcess[str]) -> None:
    assert "internal error" not in result.stderr and "dtm-crash-" not in result.stderr
    assert "this is a bug in dtm" not in result.stderr


@pytest.mark.parametrize(("args", "says", "with_usage"), [
    (["apply", "--bogus"], "No such option: --bogus", True),
    (["bogus"], "No such command 'bogus'", True),
    (["apply"], "Invalid value for '-f' / '--config-file': missing: there is no config.yaml", True),
    (["apply", "-f"], "Option '-f' requires an argument", False),  # click's parser gives no usage line here
    (["plan", "-f", "x.yaml", "--parallelism"], "Option '--parallelism' requires an argument", False),
    (["plan", "-f", "x.yaml", "--parallelism", "0"], "Invalid value for '--parallelism'", True),
])
def test_usage_errors_exit_2_with_clicks_message(args: list[str], says: str, with_usage: bool,
                                                  tmp_path: Path) -> None:
    result = run_dtm(*args, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert f"Error: {says}" in result.stderr
    assert ("Usage: dtm" in result.stderr) is with_usage
    no_crash_report(result)
    assert not list(tmp_path.iterdir())  # nothing written


def test_validate_refuses_a_backend_option_that_plan_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "dtm.yaml"
    path.write_text("config:\n  state:\n    backend: k8s\n    options:\n      configMap: x\n"
                    "tools:\n- {name: noop, instanceID: a}\n")

    result = run_dtm("validate", "-f", str(path))

    assert result.returncode == 1
    assert f"{path}:5: config.state.options.configMap: unknown option 'configMap' for state backend `k8s`" in \
        " ".join(result.stderr.split())


def test_a_var_named_env_is_a_clear_config_error(tmp_path: Path) -> None:
    path = tmp_path / "dtm.yaml"
    path.write_text('vars:\n  env: prod\ntools:\n- {name: noop, instanceID: a, options: {triggers: '
                    '{home: "[[ env \\"HOME\\" ]]"}}}\n')

    result = run_dtm("validate", "-f", str(path))

    assert result.returncode == 1
    assert f"{path}:2: vars.env: `env` is a reserved name" in result.stderr
    no_crash_report(result)


class Terminal:
    """`dtm` on a pseudo-terminal, so it asks for confirmation as it would in a shell."""

    def __init__(self, *args: str, cwd: Path):
        self.master, slave = os.openpty()
        self.process = subprocess.Popen([DTM, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                        # PYTHONFAULTHANDLER: a process that hangs is ended with SIGABRT, and
                                        # says where each of its threads was.
                                        env={**os.environ, "COLUMNS": "200", "PYTHONFAULTHANDLER": "1"},
                                        start_new_session=True)
        os.close(slave)
        self.output = ""

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} never came; the terminal shows:\n{self.output}"
            self._read(0.5)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def exit_code(self, timeout: float = 60) -> int:
        """Wait for the process to end, reading all it writes meanwhile (a full terminal would block it)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGABRT)  # the fault handler prints every thread's stack
            self.process.wait(timeout=30)
            self._drain()
            raise AssertionError(f"dtm did not end within {timeout:g} s; the terminal shows:\n{self.output}")
        self._drain()
        return self.process.returncode

    def _read(self, wait: float) -> bool:
        """Add what the process wrote within `wait` seconds to the output; False once nothing more comes."""
        if not select.select([self.master], [], [], wait)[0]:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # the terminal's other end is closed: all was read
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)

    def _drain(self) -> None:
        while self._read(0.5):
            pass
        os.close(self.master)


@pytest.mark.parametrize(("answer", "code", "says"), [
    ("n\r", 1, "Nothing changed."),
    ("\x04", 1, "Nothing changed."),  # Ctrl-D
    (signal.SIGINT, 130, "Interrupted: nothing changed."),  # Ctrl-C: what the terminal sends
])
def test_at_the_confirmation_prompt_no_answer_changes_nothing(config: Path, answer: str | signal.Signals,
                                                               code: int, says: str) -> None:
    terminal = Terminal("apply", "-f", str(config), cwd=config.parent)
    terminal.wait_for("Do you want to apply these changes?")

    if isinstance(answer, signal.Signals):
        terminal.process.send_signal(answer)
    else:
        terminal.type(answer)

    assert terminal.exit_code() == code
    assert says in terminal.output
    assert "internal error" not in terminal.output and "Traceback" not in terminal.output
    assert not (config.parent / "devstream.state").exists()  # nothing applied, no state written


def test_debug_adds_the_traceback_to_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dtm.yaml"
    path.write_text("tools:\n- {name: noop, instanceID: Not_Valid}\n")

    plain = run_dtm("validate", "-f", str(path))
    debug = run_dtm("--debug", "validate", "-f", str(path))
    from_env = run_dtm("validate", "-f", str(path), env={"DTM_DEBUG": "1"})

    assert plain.returncode == debug.returncode == from_env.returncode == 1
    assert "Traceback" not in plain.stderr
    for result in (debug, from_env):
        assert "Traceback (most recent call last)" in result.stderr and "ConfigError" in result.stderr
        assert "instanceID" in result.stderr.rsplit("ConfigError", 1)[1]



# What `dtm --help` must not load: typer and rich draw the help, and each of these costs start-up time
# (README, performance). The commands import them when they run.
NOT_FOR_HELP = ("httpx", "yaml", "jinja2", "tenacity", "jsonschema", "boto3", "prefect", "nacl", "devstream.config",
                "devstream.plan", "devstream.state", "devstream.plugin", "devstream.engine")
# A command's own help (`dtm apply --help`) builds its parameters, for which typer itself loads pydantic.
ONLY_TYPER_LOADS = ("pydantic", "importlib.metadata")


def modules_loaded(importtime_report: str) -> set[str]:
    """The modules `python -X importtime` reports having imported."""
    return {line.rpartition("|")[2].strip() for line in importtime_report.splitlines()
            if line.startswith("import time:")}


@pytest.mark.parametrize(("args", "not_loaded"), [
    (["--help"], NOT_FOR_HELP + ONLY_TYPER_LOADS),
    (["apply", "--help"], NOT_FOR_HELP),
    (["state", "list", "--help"], NOT_FOR_HELP),
])
def test_help_loads_typer_and_rich_and_not_what_the_commands_need(args: list[str], not_loaded: tuple[str, ...],
                                                                   tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", DTM, *args], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, cwd=tmp_path, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "Usage: dtm" in result.stdout
    loaded = modules_loaded(result.stderr)
    assert {"typer", "rich.console", "devstream.cli.main"} <= loaded  # the report is read right
    assert sorted(m for m in loaded if m.startswith(not_loaded)) == []
