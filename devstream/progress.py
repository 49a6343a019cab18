"""How the changes of a run ended, told to whoever listens (the CLI's progress bar, its server watch)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ChangeListener", "RunProgress"]

ChangeListener = Callable[[str, str], None]
"""Told (tool key, result) as each change ends; result is "succeeded", "unchanged" or "failed"."""


class RunProgress:
    """How each change of this process's runs ended, by tool key, and the listeners told as each one does."""

    def __init__(self) -> None:
        self.ended: dict[str, str] = {}
        self._listeners: list[ChangeListener] = []
        self._guard = threading.Lock()

    def change_ended(self, key: str, result: str) -> None:
        self.ended[key] = result
        with self._guard:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(key, result)

    @contextmanager
    def listening(self, listener: ChangeListener) -> Iterator[None]:
        """`listener` is told of every change that ends inside this block."""
        with self._guard:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._guard:
                self._listeners.remove(listener)
