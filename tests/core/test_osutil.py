"""The operating-system chores dtm does one way everywhere (devstream/osutil.py): state files, the lock file,
the local server's record and the file plugin all replace files through `write_atomically`; locks and the
local server ask `pid_alive` whether their process still runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstream.osutil import command_line, pid_alive, write_atomically


def test_a_replaced_file_keeps_its_mode_unless_one_is_given(tmp_path):
    target = tmp_path / "state.yaml"
    target.write_text("old")
    target.chmod(0o640)
    write_atomically(target, b"new")
    assert (target.read_text(), target.stat().st_mode & 0o777) == ("new", 0o640)
    write_atomically(target, b"newer", mode=0o600)
    assert (target.read_text(), target.stat().st_mode & 0o777) == ("newer", 0o600)


def test_a_new_file_and_its_folders_are_created(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    write_atomically(target, b"x" * 100_000)
    assert target.stat().st_size == 100_000
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "state.yaml"
    target.write_text("old")

    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.yaml"]


def test_a_process_runs_until_it_has_exited_even_as_an_unreaped_child():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert pid_alive(child.pid) and pid_alive(child.pid, ours=True)
        assert "sys.stdin.read()" in " ".join(command_line(child.pid) or [])
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert not pid_alive(child.pid)
    child.wait()


def test_this_process_runs_and_a_pid_nobody_has_does_not():
    assert pid_alive(os.getpid(), ours=True)
    assert not pid_alive(2**22 + 12345)
