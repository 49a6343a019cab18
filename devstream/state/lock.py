"""A cross-process lock file that keeps two runs off one state.

DevStream had no lock at all: two `dtm apply` runs on one state file silently lost each other's records.
Here the lock is a file created with O_CREAT|O_EXCL (atomic on every local filesystem) holding who took
it, so a refused run can say who holds the state and since when:

    {"host": "ci-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-02T03:04:05+00:00", "id": "..."}

A holder that died is detected (same host, pid gone) and its lock taken over; a holder on another host
cannot be checked, so the user is told how to `dtm force-unlock`. Within one process the lock is
re-entrant: the CLI holds it while the apply flow, in the same process, takes it again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devstream.errors import StateLockedError
from devstream.osutil import pid_alive, write_atomically
from devstream.state.holdings import ProcessHoldings

__all__ = ["FileLock", "describe_holder", "holder_fields", "pid_alive"]

logger = logging.getLogger("devstream.state")

# A lock file that cannot be parsed is a holder that crashed between creating and writing it, or one
# still writing it right now; only after this many seconds is it safe to call it abandoned.
UNREADABLE_STALE_AFTER = 5.0
POLL_INTERVAL = 0.1


@dataclass
class _Holding:
    """This process's hold on one lock path: how many times it was entered, and the id written."""

    lock_id: str


# Re-entrance is per process, not per thread (see devstream/state/holdings.py).
_holdings: ProcessHoldings[_Holding] = ProcessHoldings()


def describe_holder(holder: dict[str, Any] | None) -> str:
    """`dtm apply` (pid 123 on host h) since 2026-...: how messages name a lock's holder."""
    if not holder:
        return "an unknown holder (its lock file is empty or unreadable)"
    return (
        f"`{holder.get('command', '?')}` (pid {holder.get('pid', '?')} on host {holder.get('host', '?')})"
        f" since {holder.get('since', '?')}"
    )


def holder_fields(command: str) -> dict[str, Any]:
    """Who takes a lock now, as both lock kinds record it for `describe_holder`: host, pid, command, since."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class FileLock:
    """The lock file at `path`, taken with `hold(command, timeout)`.

    `state_description` names what is locked in messages; `unlock_hint` is the command a user runs to
    break the lock of a run that is gone.
    """

    def __init__(
        self,
        path: Path,
        *,
        state_description: str | None = None,
        unlock_hint: str = "dtm force-unlock -f <config>",
        unreadable_stale_after: float = UNREADABLE_STALE_AFTER,
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self.state_description = state_description or str(self.path)
        self.unlock_hint = unlock_hint
        self.unreadable_stale_after = unreadable_stale_after
        self._key = str(self.path)
        # The record of the last gone holder this object took the lock over from (see `taken_over`).
        self.last_taken_over: dict[str, Any] | None = None

    # -- reading --------------------------------------------------------------------------------------

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock: the lock file's content; {} if it exists but cannot be read; None if free."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def held_here(self) -> bool:
        """Whether this process currently holds the lock."""
        return _holdings.get(self._key) is not None

    # -- taking and releasing ---------------------------------------------------------------------------

    @contextmanager
    def hold(
        self, command: str, timeout: float = 0, on_release: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Hold the lock for the block; `on_release` runs when the outermost holder leaves, lock still held."""
        self.acquire(command, timeout)
        try:
            yield
        finally:
            self.release(on_release)

    def acquire(self, command: str, timeout: float = 0) -> None:
        """Take the lock, or enter it again if this process holds it; StateLockedError if another does."""
        # The per-path lock makes a second thread of this process wait for the first to finish acquiring
        # (then simply count itself in), and keeps acquisitions off a release that is still finishing.
        with self._path_lock():
            if _holdings.reenter(self._key):
                return
            _holdings.add(self._key, _Holding(lock_id=self._create(command, timeout)))

    def release(self, on_release: Callable[[], None] | None = None) -> None:
        """Leave the lock once; the outermost exit runs `on_release` then removes the file if still ours."""
        with self._path_lock():
            held = _holdings.leave(self._key)
            if held is None:
                return  # an inner exit, or not held by this process
            # Someone may have force-unlocked us and another run taken the lock: then the state is theirs,
            # and so are its lock file and the compaction of the journal.
            current = self.holder()
            if not current or current.get("id") != held.lock_id:
                logger.warning(
                    "the lock on state %s was broken while this run held it; it is now held by %s",
                    self.state_description,
                    describe_holder(current) if current is not None else "nobody",
                )
                return
            try:
                if on_release is not None:
                    on_release()
            finally:
                self.path.unlink(missing_ok=True)

    def annotate(self, **fields: str) -> None:
        """Add fields to the lock file while this process holds it (a rename: readers see old or new)."""
        with self._path_lock():
            held = _holdings.get(self._key)
            current = self.holder()
            if held is None or not current or current.get("id") != held.lock_id:
                return
            write_atomically(self.path, json.dumps({**current, **fields}).encode())

    def taken_over(self) -> dict[str, Any] | None:
        """The record of the gone holder whose lock was last taken over here, handed out once."""
        taken, self.last_taken_over = self.last_taken_over, None
        return taken

    def force_unlock(self) -> dict[str, Any] | None:
        """Remove the lock file whoever holds it; returns its holder ({} if unreadable), None if none."""
        holder = self.holder()
        if holder is None:
            return None
        self.path.unlink(missing_ok=True)
        return holder

    # -- internals --------------------------------------------------------------------------------------

    def _path_lock(self) -> threading.Lock:
        return _holdings.serial(self._key)

    def _create(self, command: str, timeout: float) -> str:
        """Create the lock file, waiting up to `timeout` seconds and taking over stale locks."""
        deadline = time.monotonic() + max(timeout, 0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            lock_id = uuid.uuid4().hex
            content = {**holder_fields(command), "id": lock_id}
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is None:
                    continue  # released between our open and our read: try again at once
                if self._is_stale(holder):
                    self._take_over(holder)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._locked_error(holder, timeout) from None
                time.sleep(min(POLL_INTERVAL, remaining))
                continue
            try:
                os.write(fd, json.dumps(content).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            return lock_id

    def _is_stale(self, holder: dict[str, Any]) -> bool:
        """A holder that can be proven gone: a dead pid on this host, or an unreadable file left long ago."""
        if not holder or not isinstance(holder.get("pid"), int):
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return False  # gone already; the caller's next O_EXCL attempt decides
            return age > self.unreadable_stale_after
        if holder.get("host") != socket.gethostname():
            return False  # another machine: its pids mean nothing here
        pid = holder["pid"]
        if pid == os.getpid():
            # Our own pid, yet we do not hold it (acquisition is serialised per path in this process):
            # a previous process had this pid, typically pid 1 in a container restarted on one volume.
            return True
        return not pid_alive(pid)

    def _take_over(self, stale: dict[str, Any]) -> None:
        """Remove a stale lock file, unless it changed since we judged it stale.

        Two runs may find the same stale lock at once; a short-lived guard file makes the check and the
        removal one step, so neither removes a fresh lock the other has just created.
        """
        guard = self.path.with_name(self.path.name + ".takeover")
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            # Another run is taking over right now; a guard left by a crashed run expires quickly.
            try:
                if time.time() - guard.stat().st_mtime > self.unreadable_stale_after:
                    guard.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            time.sleep(POLL_INTERVAL / 10)
            return
        os.close(fd)
        try:
            current = self.holder()
            if current == stale and self._is_stale(current):
                logger.warning(
                    "taking over the lock on state %s: its holder %s is gone",
                    self.state_description,
                    describe_holder(stale),
                )
                self.path.unlink(missing_ok=True)
                self.last_taken_over = stale
        finally:
            guard.unlink(missing_ok=True)

    def _locked_error(self, holder: dict[str, Any], timeout: float) -> StateLockedError:
        waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
        return StateLockedError(
            f"state {self.state_description} is locked by {describe_holder(holder)}{waited}; "
            f"if that run is gone, run `{self.unlock_hint}`",
            holder=holder,
        )
