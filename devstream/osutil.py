"""The few operating-system chores several parts of dtm share, done one way: replacing a file atomically and
durably, and asking whether a process still runs.

    write_atomically(path, data, mode)   a reader sees the old file or the new one, never half of one
    fsync_dir(folder)                    make a creation, replacement or removal in `folder` durable
    pid_alive(pid, ours=False)           whether a process runs (zombies count as dead)
    command_line(pid)                    a process's argv, for telling a reused pid from the process we knew
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

__all__ = ["command_line", "fsync_dir", "pid_alive", "write_atomically"]


def fsync_dir(folder: Path) -> None:
    """Make a file's creation, replacement or removal in `folder` durable (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    `mode` is set explicitly (so the umask does not decide it); without one, the replaced file's mode is kept
    (mkstemp's 0600 would surprise its owner), else 0644. OSError goes to the caller, who knows what it was
    writing and says so; the temporary file never stays behind.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            if mode is None:
                mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            os.fchmod(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def pid_alive(pid: int, *, ours: bool = False) -> bool:
    """Whether process `pid` runs on this host. With `ours`, a process of another user (one that took the pid
    over) counts as not running: it is not the one this user started, and not ours to signal. When in doubt
    it runs, so no caller takes over a lock or a server that is still in use."""
    # A child this very process started becomes a zombie when it dies, and signal 0 still reaches a zombie:
    # reap it first (ChildProcessError means it is not our child, which is the usual case).
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not ours
    except OSError:
        return True
    # An orphan whose new parent (a container's init, say) does not reap is a zombie for good: dead too.
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def command_line(pid: int) -> list[str] | None:
    """The argv of process `pid`, or None when it cannot be read."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        pass
    try:  # no /proc (macOS)
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.split() or None
