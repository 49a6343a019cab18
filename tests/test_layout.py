"""The house rules that code review alone would miss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = ["devstream.config", "devstream.graph", "devstream.plan", "devstream.outputs", "devstream.state",
        "devstream.plugin", "devstream.engine", "devstream.cli.main", "devstream.plugins.noop",
        "devstream.plugins.file"]


def test_the_core_never_imports_prefect():
    # The CLI imports prefect only when a flow must run, so `dtm plan`, `validate` and friends start fast.
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE) + "print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_prefect_facing_folders_install_inside_the_one_package():
    import devstream.flows
    import devstream.plugins
    import devstream.tasks

    for module, folder in ((devstream.flows, "flows"), (devstream.tasks, "tasks"), (devstream.plugins, "plugins")):
        assert module.__file__ is not None and f"/{folder}/" in module.__file__


def test_the_plugin_sdk_exports_what_plugins_need():
    import devstream.plugin as sdk

    for name in ("Plugin", "PluginContext", "TransientError", "PermanentError", "http_client", "raise_for_status"):
        assert name in sdk.__all__ and hasattr(sdk, name)


def test_the_package_type_checks(tmp_path):
    """mypy over the package as it installs: flows/, tasks/ and plugins/ live outside devstream/ in the
    repository, so they are linked into a tree shaped like the installed package first."""
    root = Path(__file__).resolve().parent.parent
    package = tmp_path / "devstream"
    package.mkdir()
    for entry in (root / "devstream").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for folder in ("flows", "tasks", "plugins"):
        (package / folder).symlink_to(root / folder)
    command = [sys.executable, "-m", "mypy", "-p", "devstream", "--config-file", str(root / "pyproject.toml"),
               "--cache-dir", str(tmp_path / "cache")]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
