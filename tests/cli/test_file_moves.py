"""The file plugin follows its file: a new `path` moves it, and delete removes the file the state records.

Run through `dtm apply` / `dtm destroy` (the real entry point, in this process) against the session's Prefect
server, as a user edits the config between runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from devstream.cli.main import main

pytestmark = pytest.mark.usefixtures("prefect_server")


def dtm(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["dtm", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0)


def write_config(folder: Path, path: str) -> Path:
    config = folder / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "tools": [{"name": "file", "instanceID": "motd", "options": {"path": path, "content": "welcome\n"}}],
    }, sort_keys=False))
    return config


def test_a_new_path_moves_the_file_and_destroy_removes_where_it_is(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, "etc/motd")
    assert dtm(monkeypatch, "apply", "-f", str(config), "-y") == 0
    assert (tmp_path / "etc" / "motd").read_text() == "welcome\n"

    write_config(tmp_path, "srv/motd")
    assert dtm(monkeypatch, "apply", "-f", str(config), "-y") == 0

    assert (tmp_path / "srv" / "motd").read_text() == "welcome\n"
    assert not (tmp_path / "etc" / "motd").exists()  # moved, not copied
    assert dtm(monkeypatch, "plan", "-f", str(config), "--detailed-exitcode") == 0  # nothing left to do

    # Delete removes what the state records, whatever the config says now.
    write_config(tmp_path, "elsewhere/motd")
    assert dtm(monkeypatch, "destroy", "-f", str(config), "-y") == 0
    assert not (tmp_path / "srv" / "motd").exists()
    assert not (tmp_path / "elsewhere").exists()
