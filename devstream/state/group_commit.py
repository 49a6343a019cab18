"""Group commit: concurrent writers share one write, and each returns only once its item is written.

A write that costs about as much for many items as for one (an fsync of a journal; a request to a server that
serialises its writes, as Prefect's does on SQLite) is shared: while one write is in flight the callers that
arrive queue up, and when it returns the next caller takes everything queued (up to a cap) and writes it in
one go. There is no background thread and no timer: a writer alone writes at once, as it would without this
(leader and followers on one lock and condition). A failed write fails every caller of its group, each with
the error.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")


@dataclass(eq=False)  # slots compare by identity
class _Slot(Generic[T]):
    item: T
    done: bool = False
    error: BaseException | None = None
    wrote_it: bool = False  # this caller led the write of its own group


class GroupCommit(Generic[T]):
    """`submit(item)` returns once `write` has written a group holding `item`; it raises that write's error.

    A group holds at most `max_items` items and, past its first item, at most `max_bytes` of `size(item)`.
    `write` is called by one caller at a time, outside the lock; it must not call `submit`.
    """

    def __init__(self, write: Callable[[list[T]], None], *, max_items: int, max_bytes: int,
                 size: Callable[[T], int]) -> None:
        self._write = write
        self.max_items = max(1, max_items)
        self.max_bytes = max_bytes
        self._size = size
        self._cond = threading.Condition()
        self._queue: deque[_Slot[T]] = deque()
        self._busy = False

    def submit(self, item: T) -> None:
        slot = _Slot(item)
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if self._busy:
                    self._cond.wait()
                    continue
                group = self._take()
                self._busy = True
                self._cond.release()
                error: BaseException | None = None
                try:
                    self._write([s.item for s in group])
                except BaseException as exc:  # every caller of the group learns it, then the leader re-raises
                    error = exc
                finally:
                    self._cond.acquire()
                    self._busy = False
                    for other in group:
                        other.done, other.error = True, error
                    slot.wrote_it = slot.wrote_it or any(s is slot for s in group)
                    self._cond.notify_all()
        if slot.error is not None:
            if slot.wrote_it:
                raise slot.error
            # Each follower raises its own copy: one exception object raised in many threads at once would
            # have its traceback rewritten under each of them.
            raise copy.copy(slot.error) from slot.error

    @property
    def waiting(self) -> int:
        """How many items are queued for the next group."""
        with self._cond:
            return len(self._queue)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off every group write for the block (the block writes by itself, e.g. a compaction)."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _take(self) -> list[_Slot[T]]:
        """The queued slots of the next group, oldest first (called with the lock held)."""
        group: list[_Slot[T]] = []
        total = 0
        while self._queue and len(group) < self.max_items:
            size = self._size(self._queue[0].item)
            if group and total + size > self.max_bytes:
                break
            group.append(self._queue.popleft())
            total += size
        return group
