"""When the environment refuses (a path through a file, a folder dtm may not write, a full disk, a number
Python will not read, a config nobody may read), dtm says which path and why, and exits 1: the user's to
fix, not a bug of dtm's (exit 3 with a crash report)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from dtm_process import as_unprivileged_user, run_dtm, shared_folder

from devstream.config import load_config
from devstream.engine import Workspace
from devstream.errors import StateError
from devstream.state import open_store
from devstream.state.local import LocalStateStore


def local_config(folder: Path, state_file: str = "devstream.state", tools: int = 1, text: str = "x") -> Path:
    path = folder / "dtm.yaml"
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local", "options": {"stateFile": state_file}}},
        "tools": [{"name": "noop", "instanceID": f"t{i}", "options": {"triggers": {"text": text}}}
                  for i in range(tools)],
    }, sort_keys=False))
    return path


def assert_users_error(done, *words: str) -> None:
    assert done.code == 1, done.out + done.err
    assert not done.crash_reports and "bug in dtm" not in done.text
    for word in words:
        assert word in done.text, done.text


def test_a_state_file_under_a_regular_file_is_named_with_the_cause(tmp_path):
    (tmp_path / "notes").write_text("a file, not a folder\n")
    config = local_config(tmp_path, state_file="notes/devstream.state")
    done = run_dtm("apply", "-y", "-f", str(config))
    assert_users_error(done, f"{tmp_path / 'notes'}: File exists", "a file stands where a folder is needed")


def test_a_state_folder_dtm_may_not_write_is_named_with_the_cause():
    folder = shared_folder()
    try:
        config = local_config(folder)  # the folder is root's (or the test user's), mode 755
        prefix = as_unprivileged_user()
        if not prefix:
            folder.chmod(0o555)
        done = run_dtm("apply", "-y", "-f", str(config), prefix=prefix)
        assert_users_error(done, f"cannot lock the state {folder / 'devstream.state'}", "Permission denied")
        assert sorted(p.name for p in folder.iterdir()) == ["dtm.yaml"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_an_unreadable_config_is_named_with_the_cause():
    folder = shared_folder()
    try:
        config = local_config(folder)
        config.chmod(0o600)
        done = run_dtm("validate", "-f", str(config), prefix=as_unprivileged_user())
        assert_users_error(done, f"cannot read the config file: {config}: Permission denied (EACCES)")
        # A file that cannot be reached inside a config folder is named too.
        (folder / "more").mkdir(mode=0o700)
        (folder / "more" / "tools.yaml").write_text("tools: []\n")
        config.chmod(0o644)
        done = run_dtm("validate", "-f", str(folder), prefix=as_unprivileged_user())
        assert_users_error(done, str(folder / "more"), "Permission denied")
    finally:
        shutil.rmtree(folder)


def test_an_integer_of_5000_digits_is_refused_at_its_line(tmp_path):
    config = tmp_path / "dtm.yaml"
    config.write_text(textwrap.dedent("""\
        tools:
        - name: noop
          instanceID: big
          options:
            triggers:
              n: """) + "9" * 5000 + "\n")
    done = run_dtm("validate", "-f", str(config))
    assert_users_error(done, f"{config}:6: tools[0].options.triggers.n:", "4300 digits", "quote it")


def prepared_state(folder: Path, tools: int, text: str) -> Path:
    """A config whose tools are all applied, with their records still in the journal (not compacted)."""
    config = local_config(folder, tools=tools, text=text)
    loaded = load_config(config)
    ws = Workspace(config=loaded, store=open_store(loaded))
    for change in ws.current_plan().changes:
        ws.executor.run_change(change)
    assert (folder / "devstream.state.journal").exists() and not (folder / "devstream.state").exists()
    return config


def test_a_full_disk_at_compaction_is_named_and_loses_nothing(tmp_path):
    """The state's folder is a tiny tmpfs (in a private mount namespace) with one page left: enough for the
    lock file, not for the compacted state file."""
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.fail("this test needs `unshare -rm` (unprivileged user namespaces) to mount a small tmpfs")
    source = tmp_path / "source"
    source.mkdir()
    prepared_state(source, tools=20, text="y" * 500)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = textwrap.dedent(f"""\
        set -e
        mount -t tmpfs -o size=256k tmpfs {disk}
        cp {source}/dtm.yaml {source}/devstream.state.journal {disk}/
        head -c 4096 /dev/zero > {disk}/pad
        cat /dev/zero > {disk}/fill 2>/dev/null || true
        rm {disk}/pad
        set +e
        "$@"
        echo "exit=$?"
        ls -a {disk}
        cmp {source}/devstream.state.journal {disk}/devstream.state.journal && echo journal-intact
        """)
    done = run_dtm("apply", "-y", "-f", str(disk / "dtm.yaml"),
                   prefix=["unshare", "-rm", "sh", "-c", script, "sh"])
    assert "exit=1" in done.out, done.out + done.err
    assert not done.crash_reports
    assert f"cannot write the state file {disk / 'devstream.state'}" in done.text
    assert "No space left on device (ENOSPC)" in done.text and "free some space" in done.text
    assert "journal-intact" in done.out  # every record is still there, for the next run to compact
    assert "devstream.state.lock" not in done.out.split()  # the lock was released


def test_a_full_disk_is_a_state_error_naming_the_file(tmp_path, monkeypatch):
    """The same at the store's level: the compaction's write fails with ENOSPC, the journal is kept."""
    store = LocalStateStore(tmp_path / "devstream.state")
    config = prepared_state(tmp_path, tools=2, text="z")
    journal = (tmp_path / "devstream.state.journal").read_bytes()

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(StateError, match=r"cannot write the state file .*devstream.state: No space left on device"):
        store.flush()
    monkeypatch.undo()
    assert (tmp_path / "devstream.state.journal").read_bytes() == journal
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert config.exists()
