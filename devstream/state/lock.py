"""A cross-process lock file that keeps two runs off one state.

DevStream had no lock at all: two `dtm apply` runs on one state file silently lost each other's records.
Here the lock is a file created with O_CREAT|O_EXCL (atomic on every local filesystem) holding who took
it, so a refused run can say who holds the state and since when:

    {"host": "ci-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-02T03:04:05+00:00", "id": "..."}

A holder that died is detected (same host, pid gone) and its lock taken over; a holder on another host
cannot be checked, so the user is told how to `dtm force-unlock`. The protocol (re-entrance, takeover,
waiting, the holder record) is devstream/state/lock_protocol.py's; this module is its file primitives.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from devstream.errors import StateLockedError
from devstream.osutil import write_atomically
from devstream.state.holdings import ProcessHoldings
from devstream.state.lock_protocol import (
    Holding,
    StateLock,
    describe_holder,
    holder_fields,
    holder_gone_here,
    locked_error,
)

__all__ = ["FileLock"]

logger = logging.getLogger("devstream.state")

# A lock file that cannot be parsed is a holder that crashed between creating and writing it, or one
# still writing it right now; only after this many seconds is it safe to call it abandoned.
UNREADABLE_STALE_AFTER = 5.0
POLL_INTERVAL = 0.1


@dataclass
class _Holding(Holding):
    """This process's hold on one lock path: the id written in the lock file."""

    lock_id: str


class FileLock(StateLock[_Holding]):
    """The lock file at `path`, taken with `hold(command, timeout)`.

    `state_description` names what is locked in messages; `unlock_hint` is the command a user runs to
    break the lock of a run that is gone.
    """

    # Re-entrance is per process, not per thread (see devstream/state/holdings.py).
    holdings: ClassVar[ProcessHoldings[_Holding]] = ProcessHoldings()

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

    # -- the protocol's primitives ----------------------------------------------------------------------

    def _take(self, command: str, deadline: float, timeout: float) -> _Holding:
        return _Holding(lock_id=self._create(command, deadline, timeout))

    def _give_back(self, held: _Holding, on_release: Callable[[], None] | None) -> None:
        """Run `on_release` then remove the file, if still ours."""
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
        with self.holdings.serial(self._key):
            held = self.holdings.get(self._key)
            current = self.holder()
            if held is None or not current or current.get("id") != held.lock_id:
                return
            write_atomically(self.path, json.dumps({**current, **fields}).encode())

    def force_unlock(self) -> dict[str, Any] | None:
        """Remove the lock file whoever holds it; returns its holder ({} if unreadable), None if none."""
        holder = self.holder()
        if holder is None:
            return None
        self.path.unlink(missing_ok=True)
        return holder

    # -- internals --------------------------------------------------------------------------------------

    def _create(self, command: str, deadline: float, timeout: float) -> str:
        """Create the lock file, waiting until `deadline` (monotonic) and taking over stale locks."""
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
                self._wait(deadline, POLL_INTERVAL, partial(self._locked_error, holder, timeout))
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
        return holder_gone_here(holder)

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
        return locked_error(self.state_description, holder, timeout,
                            after=f"if that run is gone, run `{self.unlock_hint}`")
