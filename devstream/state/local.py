"""The `local` state backend: DevStream's YAML state file, with a journal so one write stays small.

DevStream rewrote the whole file after every change, so an apply of N tools wrote O(N^2) bytes. Here the
file keeps DevStream's format (one YAML document mapping `name_instanceID` to its record, indent 2, an
empty state is an empty file) and is only rewritten by `flush()`, once per locked run. In between, each
`put`/`delete` appends one JSON line to `<state>.journal`, fsync'ed before it returns:

    {"op":"put","key":"repo_default","record":{"name":"repo","instanceID":"default",...}}
    {"op":"delete","key":"repo_old"}

Reading is the YAML file with the journal replayed on top, so a run that crashed before compacting loses
nothing. Replaying is idempotent, which makes a crash between the file's replacement and the journal's
removal harmless too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from devstream.errors import StateError, describe_os_error
from devstream.osutil import fsync_dir, write_atomically
from devstream.state import document, journal
from devstream.state.base import ChangeNote, StateRecord
from devstream.state.group_commit import GroupCommit
from devstream.state.lock import FileLock
from devstream.state.lock_protocol import LockedStore

__all__ = ["LocalStateStore"]

logger = logging.getLogger("devstream.state")

_DO_NOT_EDIT = "it is DevStream's format, do not edit it by hand; restore it from backup"

# One in-process lock per state path, shared by every store object on that path: the apply flow writes
# records from many threads, and a process may open the same state more than once.
_path_locks_guard = threading.Lock()
_path_locks: dict[str, threading.RLock] = {}


def _path_lock(path: Path) -> threading.RLock:
    with _path_locks_guard:
        return _path_locks.setdefault(str(path), threading.RLock())


def _forget_after_fork() -> None:
    # A thread lock copied into a forked child while another thread held it would never open.
    global _path_locks_guard
    _path_locks_guard = threading.Lock()
    _path_locks.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextmanager
def _environment(doing: str) -> Iterator[None]:
    """An OSError (a full disk, a folder that is a file, no permission) as a StateError that names the path,
    the cause and what to do: the environment refused, dtm is not at fault."""
    try:
        yield
    except OSError as exc:
        raise StateError(describe_os_error(exc, doing)) from exc


class LocalStateStore(LockedStore):
    """State in a local file in DevStream's format, written through an append-only journal.

    Safe to call from many threads of one process; `lock()` keeps other processes off the state.
    `bytes_written` counts every byte this object wrote (journal lines and compactions).
    """

    state_lock: FileLock

    def __init__(self, path: Path, *, config_path: Path | None = None) -> None:
        self.path = Path(os.path.abspath(path))
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.description = f"local file {self.path}"
        self.bytes_written = 0
        hint = f"dtm force-unlock -f {config_path}" if config_path else "dtm force-unlock -f <config>"
        self.state_lock = FileLock(self.lock_path, state_description=str(self.path), unlock_hint=hint)
        # Changes that finish together share one append and one fsync, each returning once its line is
        # durable. Alone, a write took 77 ms of a 190 ms change with 50 in flight (apply_scale.py, N=500),
        # most likely waiting to get the GIL back after each of its system calls among Prefect's busy threads.
        self._appends: GroupCommit[bytes] = GroupCommit(self._append_lines, max_items=512, max_bytes=8 << 20,
                                                        size=len)

    @property
    def _lock(self) -> threading.RLock:
        """The in-process lock of this state path, shared with every other store object on it."""
        return _path_lock(self.path)

    def __repr__(self) -> str:
        return f"LocalStateStore({str(self.path)!r})"

    # -- the StateStore protocol ------------------------------------------------------------------------

    def read(self) -> dict[str, StateRecord]:
        """Every record, by state key: the state file with the journal replayed on top."""
        with self._lock, _environment(f"read the state {self.path}"):
            return self._load()

    def put(self, record: StateRecord, note: ChangeNote | None = None) -> None:
        """Save one record by appending it to the journal (DevStream's format has no place for the note)."""
        self._append(journal.put_entry(record))

    def delete(self, state_key: str, note: ChangeNote | None = None) -> None:
        """Forget one record by appending its removal to the journal (missing records are fine)."""
        self._append(journal.delete_entry(state_key))

    def _lock_errors(self, doing: str) -> AbstractContextManager[None]:
        return _environment(f"{doing} the state {self.path}")

    def flush(self) -> None:
        """Compact: write the merged state to the state file atomically, then drop the journal."""
        with self._lock, _environment(f"write the state file {self.path}"):
            if not self.journal_path.exists():
                return  # nothing written since the last compaction
            data = document.render(self._load())
            write_atomically(self.path, data)
            self.bytes_written += len(data)
            # A crash before this line leaves a journal that replays onto the records it already holds.
            self.journal_path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)

    # -- reading ----------------------------------------------------------------------------------------

    def _load(self) -> dict[str, StateRecord]:
        records = self._read_state_file()
        self._replay_journal(records)
        return records

    def _corrupt(self, line: int, what: str) -> StateError:
        return StateError(f"state file {self.path} is corrupt at line {line}: {what}; {_DO_NOT_EDIT}")

    def _read_state_file(self) -> dict[str, StateRecord]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}  # DevStream creates it empty: a missing file is an empty state
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror or exc}") from exc
        return document.parse(raw, self._corrupt)

    def _replay_journal(self, records: dict[str, StateRecord]) -> None:
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"cannot read state journal {self.journal_path}: {exc.strerror or exc}") from exc
        lines = raw.split(b"\n")
        last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                if i == last:
                    # An append interrupted by a crash: that write never returned, so nobody relied on it.
                    logger.warning(
                        "state journal %s: ignoring its torn last line %d (a write was interrupted)",
                        self.journal_path,
                        i + 1,
                    )
                    continue
                raise self._corrupt_journal(i + 1, f"not a JSON line ({exc})") from None
            journal.fold(records, entry, partial(self._corrupt_journal, i + 1))

    def _corrupt_journal(self, line: int, what: str) -> StateError:
        return StateError(
            f"state journal {self.journal_path} is corrupt at line {line}: {what}; do not edit it by hand; "
            "restore it from backup, or remove it to lose the changes made since the state file was last written"
        )

    # -- writing ----------------------------------------------------------------------------------------

    def _append(self, entry: dict[str, Any]) -> None:
        line = (journal.encode(entry) + "\n").encode("utf-8")
        with _environment(f"write the state journal {self.journal_path}"):
            self._appends.submit(line)

    def _append_lines(self, lines: list[bytes]) -> None:
        """Append a group of journal lines with one write and one fsync."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.journal_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                data = self._repair_tail(fd, size) + b"".join(lines)
                _write_all(fd, data)
                self.bytes_written += len(data)
            except BaseException:
                os.close(fd)
                raise
        # fsync outside the lock: concurrent changes then share one disk flush instead of queueing for it.
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if size == 0:
            fsync_dir(self.path.parent)  # a new journal must survive a crash as much as its content

    def _repair_tail(self, fd: int, size: int) -> bytes:
        """Make the journal end at a line boundary before appending, so a new line never joins a torn one.

        Returns what must be written first (a missing newline after a complete line), or truncates a
        torn tail that a crashed run left behind.
        """
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return b""
        content = os.pread(fd, size, 0)
        cut = content.rfind(b"\n") + 1
        tail = content[cut:]
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            logger.warning("state journal %s: dropping a torn last line (a write was interrupted)", self.journal_path)
            os.ftruncate(fd, cut)
            return b""
        return b"\n"
