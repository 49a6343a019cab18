"""The one lock protocol of every state backend; each backend gives only its conditional write and read.

A state's lock keeps two runs off one state. Whatever holds it (a lock file, an S3 object, a Kubernetes
Lease, a Prefect concurrency limit), the protocol is the same, and lives here:

- the holder record: who took the lock, so a refused run can name it (`holder_fields`, `describe_holder`):

      {"host": "ci-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-02T03:04:05+00:00", ...}

- re-entrance per process (devstream/state/holdings.py): the CLI holds the lock while the apply flow, in
  the same process, takes it again; acquisitions and releases of one lock are serialised in the process;
- a dead holder is taken over at once when it can be proven gone: same host and its pid has ended, or
  its pid is ours while this process does not hold the lock (an earlier process had that pid, typically
  pid 1 in a container restarted on one volume) (`holder_gone_here`); a holder on another host is waited
  for until its lease runs out, where the backend has one;
- a lease, where there is one, is renewed by a daemon thread every `renew_every` seconds (sooner after a
  failed renewal, the lease still being valid); a renewal that finds the lock taken from us marks it lost;
- waiting: until the caller's deadline, then a `StateLockedError` naming the holder, how long it waited and
  how to break the lock (`locked_error`);
- release: the outermost exit stops the renewer and gives the lock back (if it is still ours);
  `force_unlock` breaks it whoever holds it, and the run that held it learns so.

A backend subclasses `StateLock` and writes `_take` (take the lock once it is free, or wait until the
deadline), `_renew` (one renewal: False when the lock is no longer ours), `_give_back`, `annotate` and
`force_unlock`; its store subclasses `LockedStore`, which holds the lock for a run and compacts the state
(`flush`) under it before giving it back.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from devstream.errors import StateLockedError
from devstream.osutil import pid_alive
from devstream.state.holdings import ProcessHoldings

__all__ = [
    "Holding", "LockedStore", "StateLock", "describe_holder", "holder_fields", "holder_gone_here", "locked_error",
]

logger = logging.getLogger("devstream.state")


def describe_holder(holder: dict[str, Any] | None) -> str:
    """`dtm apply` (pid 123 on host h) since 2026-...: how messages name a lock's holder."""
    if not holder:
        return "an unknown holder (its lock file is empty or unreadable)"
    return (
        f"`{holder.get('command', '?')}` (pid {holder.get('pid', '?')} on host {holder.get('host', '?')})"
        f" since {holder.get('since', '?')}"
    )


def holder_fields(command: str) -> dict[str, Any]:
    """Who takes a lock now, as every lock records it for `describe_holder`: host, pid, command, since."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def holder_gone_here(holder: dict[str, Any] | None) -> bool:
    """Whether `holder` can be proven gone from here: on this host, and its process has ended or is an
    earlier process that had our pid (the caller does not hold the lock). Another host's pids mean nothing."""
    if not holder or holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    pid = int(holder["pid"])
    return pid == os.getpid() or not pid_alive(pid)


def locked_error(state_description: str, holder: dict[str, Any] | None, timeout: float, *, after: str,
                 who: str | None = None, detail: str = "") -> StateLockedError:
    """The error a run refused by a held lock gets: who holds it (`who`, else the holder record), how long we
    waited, the backend's `detail`, and what to do `after`."""
    waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
    who = who if who is not None else describe_holder(holder)
    return StateLockedError(f"state {state_description} is locked by {who}{waited}{detail}; {after}", holder=holder)


@dataclass
class Holding:
    """This process's hold on one lock: set `stop` to end the renewer; `lost` once the lock was taken from us."""

    stop: threading.Event = field(default_factory=threading.Event, kw_only=True)
    lost: threading.Event = field(default_factory=threading.Event, kw_only=True)
    renewer: threading.Thread | None = field(default=None, kw_only=True)


H = TypeVar("H", bound=Holding)


class StateLock(Generic[H]):
    """The protocol above; a subclass sets `holdings` (its own registry), `_key`, `state_description`,
    `unlock_hint`, `renew_every` (None: no lease to renew) and writes `_take`, `_renew`, `_give_back`."""

    holdings: ClassVar[ProcessHoldings[Any]]
    # How soon a failed renewal is tried again (None: at the regular interval); what a failed renewal raises.
    renew_retry_seconds: ClassVar[float | None] = None
    renew_errors: ClassVar[tuple[type[BaseException], ...]] = (Exception,)
    # How long a renewer is given to finish its last call when the lock is released.
    renew_join_seconds: float = 30.0

    _key: str
    state_description: str
    unlock_hint: str
    renew_every: float | None = None
    last_taken_over: dict[str, Any] | None = None

    # -- the backend's part -------------------------------------------------------------------------------

    def _take(self, command: str, deadline: float, timeout: float) -> H:
        """Take the lock (waiting until `deadline`, monotonic), taking over a gone holder; the new holding."""
        raise NotImplementedError

    def _renew(self, holding: H) -> bool:
        """Renew the lease once; False (after saying why) when the lock is no longer ours."""
        raise NotImplementedError

    def _give_back(self, holding: H, on_release: Callable[[], None] | None) -> None:
        """Run `on_release` while the lock is still ours, then give it back; log, never raise, if it was taken."""
        raise NotImplementedError

    def annotate(self, **fields: str) -> None:
        """Add fields (the flow run) to the holder record while this process holds the lock."""
        raise NotImplementedError

    def force_unlock(self) -> dict[str, Any] | None:
        """Break the lock whoever holds it; its holder ({} if unknown), None if it was free."""
        raise NotImplementedError

    # -- the protocol -------------------------------------------------------------------------------------

    def held_here(self) -> bool:
        """Whether this process currently holds the lock."""
        return self.holdings.get(self._key) is not None

    def lost(self) -> bool:
        """Whether this process holds the lock but it was taken from it (force-unlocked, expired, revoked)."""
        held = self.holdings.get(self._key)
        return held is not None and held.lost.is_set()

    def taken_over(self) -> dict[str, Any] | None:
        """The record of the gone holder whose lock was last taken over here, handed out once."""
        taken, self.last_taken_over = self.last_taken_over, None
        return taken

    @contextmanager
    def hold(self, command: str, timeout: float = 0, on_release: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the lock for the block; `on_release` runs when the outermost holder leaves, lock still held."""
        self.acquire(command, timeout)
        try:
            yield
        finally:
            self.release(on_release)

    def acquire(self, command: str, timeout: float = 0) -> None:
        """Take the lock, or enter it again if this process holds it; StateLockedError if another run does."""
        # The per-key lock makes a second thread of this process wait for the first to finish acquiring (then
        # simply count itself in), and keeps acquisitions off a release that is still finishing.
        with self.holdings.serial(self._key):
            if self.holdings.reenter(self._key):
                return
            deadline = time.monotonic() + max(timeout, 0)
            holding = self._take(command, deadline, timeout)
            if self.renew_every is not None:
                holding.renewer = threading.Thread(target=self._renew_loop, args=(holding,), daemon=True,
                                                   name=f"dtm-lock-renewer-{self._key}")
            self.holdings.add(self._key, holding)
            if holding.renewer is not None:
                # A daemon: a process that exits without releasing must not wait for it; the lease expires.
                holding.renewer.start()

    def release(self, on_release: Callable[[], None] | None = None) -> None:
        """Leave the lock once; the outermost exit gives it back (see `_give_back`)."""
        with self.holdings.serial(self._key):
            held = self.holdings.leave(self._key)
            if held is None:
                return  # an inner exit, or not held by this process
            self._give_back(held, on_release)

    def _stop_renewing(self, held: H) -> None:
        held.stop.set()
        if held.renewer is not None:
            held.renewer.join(timeout=self.renew_join_seconds)

    def _renew_loop(self, holding: H) -> None:
        assert self.renew_every is not None
        interval = self.renew_every
        while not holding.stop.wait(interval):
            interval = self.renew_every
            try:
                if not self._renew(holding):
                    holding.lost.set()
                    return
            except self.renew_errors as exc:
                # The lease is still valid for a while: try again (sooner, where the backend says so).
                logger.warning("could not renew the lock on state %s: %s", self.state_description, exc)
                if self.renew_retry_seconds is not None:
                    interval = min(self.renew_every, self.renew_retry_seconds)

    def _wait(self, deadline: float, poll: float, refused: Callable[[], StateLockedError]) -> None:
        """Sleep `poll` seconds before the next attempt, or raise `refused()` once the deadline has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise refused() from None
        time.sleep(min(poll, remaining))


class LockedStore:
    """The lock half of a state store: `lock()` holds `state_lock` for a run; the outermost exit compacts the
    state (`flush`) while the lock is still held, then gives it back."""

    state_lock: StateLock[Any]

    def flush(self) -> None:
        raise NotImplementedError

    def lock(self, command: str, timeout: float = 0) -> AbstractContextManager[None]:
        """Hold the state's lock (re-entrant in this process); the outermost exit compacts, then releases."""
        return self._held(command, timeout)

    @contextmanager
    def _held(self, command: str, timeout: float) -> Iterator[None]:
        # Only the lock's own operations are translated: an error of the block is not the lock's.
        with self._lock_errors("lock"):
            outermost = not self.state_lock.held_here()
            self.state_lock.acquire(command, timeout)
        if outermost:
            self._locked_afresh()
        try:
            yield
        finally:
            with self._lock_errors("release the lock of"):
                self.state_lock.release(self._on_release)

    def force_unlock(self) -> dict[str, Any] | None:
        """Break the lock whoever holds it; returns its holder ({} if unknown), None if it was free."""
        with self._lock_errors("unlock"):
            return self.state_lock.force_unlock()

    def note_holder(self, **fields: str) -> None:
        """Add fields (the flow run) to this process's record as the lock's holder."""
        with self._lock_errors("annotate the lock of"):
            self.state_lock.annotate(**fields)

    def taken_over(self) -> dict[str, Any] | None:
        """The holder record of a gone run whose lock this process took over, once."""
        return self.state_lock.taken_over()

    def _on_release(self) -> None:
        """What the outermost exit does while the lock is still held: compact the state (`flush`)."""
        self.flush()

    def _lock_errors(self, doing: str) -> AbstractContextManager[None]:
        """How the backend words a failure to `doing` the state's lock (e.g. an OSError as a StateError)."""
        return nullcontext()

    def _locked_afresh(self) -> None:
        """Called when this process has just taken the lock (not entered it again): others may have written."""
