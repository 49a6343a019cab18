"""Which state locks this process holds: both lock kinds are re-entrant per process, not per thread.

The CLI holds a state's lock while the apply flow it starts, in the same process, takes it again; a
count per lock is kept here. Acquisition and release of one lock are serialised within the process, so
two of its threads never race each other for the same lock. A forked child holds none of its parent's
locks, and a thread lock copied mid-use would never open: the child starts with an empty registry.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ProcessHoldings"]

H = TypeVar("H")


@dataclass
class _Entry(Generic[H]):
    holding: H
    pid: int
    count: int = 1


class ProcessHoldings(Generic[H]):
    """This process's holds, by lock key, each entered `count` times; `serial(key)` orders takers."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self._held: dict[str, _Entry[H]] = {}
        self._serial: dict[str, threading.Lock] = {}
        _registries.append(self)  # type: ignore[arg-type]

    def serial(self, key: str) -> threading.Lock:
        with self.guard:
            return self._serial.setdefault(key, threading.Lock())

    def get(self, key: str) -> H | None:
        """This process's hold on `key`, or None."""
        with self.guard:
            entry = self._held.get(key)
            return entry.holding if entry is not None and entry.pid == os.getpid() else None

    def reenter(self, key: str) -> bool:
        """Count one more entry if this process holds `key`; False when it does not (take it first)."""
        with self.guard:
            entry = self._held.get(key)
            if entry is None or entry.pid != os.getpid():
                return False
            entry.count += 1
            return True

    def add(self, key: str, holding: H) -> None:
        """Record a lock this process has just taken (entered once)."""
        with self.guard:
            self._held[key] = _Entry(holding, os.getpid())

    def leave(self, key: str) -> H | None:
        """Count one exit; the hold when that was the outermost one (the caller then releases), else None."""
        with self.guard:
            entry = self._held.get(key)
            if entry is None or entry.pid != os.getpid():
                return None
            entry.count -= 1
            if entry.count > 0:
                return None
            del self._held[key]
            return entry.holding

    def _forget(self) -> None:
        self.guard = threading.Lock()
        self._held.clear()
        self._serial.clear()


_registries: list[ProcessHoldings[object]] = []


def _forget_after_fork() -> None:
    for registry in _registries:
        registry._forget()


os.register_at_fork(after_in_child=_forget_after_fork)
