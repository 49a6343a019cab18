"""Which state locks this process holds: both lock kinds are re-entrant per process, not per thread.

The CLI holds a state's lock while the apply flow it starts, in the same process, takes it again; a
count per lock is kept here. Acquisition and release of one lock are serialised within the process, so
two of its threads never race each other for the same lock. A forked child holds none of its parent's
locks, and a thread lock copied mid-use would never open: the child starts with an empty registry.
"""

from __future__ import annotations

import os
import threading
from typing import Generic, TypeVar

__all__ = ["ProcessHoldings"]

H = TypeVar("H")


class ProcessHoldings(Generic[H]):
    """`held[key]` is this process's hold on one lock; `guard` protects it; `serial(key)` orders takers."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.held: dict[str, H] = {}
        self._serial: dict[str, threading.Lock] = {}
        _registries.append(self)

    def serial(self, key: str) -> threading.Lock:
        with self.guard:
            return self._serial.setdefault(key, threading.Lock())

    def _forget(self) -> None:
        self.guard = threading.Lock()
        self.held.clear()
        self._serial.clear()


_registries: list[ProcessHoldings[object]] = []


def _forget_after_fork() -> None:
    for registry in _registries:
        registry._forget()


os.register_at_fork(after_in_child=_forget_after_fork)
