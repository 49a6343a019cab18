"""The stand-in's object store: every object by (group, plural, namespace, name), one resourceVersion counter
for the whole store (as etcd's revision), and the log of changes that watches replay and follow.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str, str, str]  # group, plural, namespace ("" when cluster-scoped), name


@dataclass
class Event:
    revision: int
    type: str  # ADDED, MODIFIED, DELETED
    group: str
    plural: str
    namespace: str
    object: dict[str, Any]
    previous: dict[str, Any] | None = None  # the object before a MODIFIED or DELETED


class Store:
    """Thread-safe; a watch waits on `changed` for events past the revision it has sent."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[Key, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.revision = 1
        self.epoch = 0  # bumped by reset: watches of an earlier test end
        self.history = 5000  # events kept; a watch from further back gets 410 Gone, as after etcd's compaction

    def reset(self) -> None:
        with self.lock:
            self.objects.clear()
            self.events.clear()
            self.revision = 1
            self.epoch += 1
            self.changed.notify_all()

    def get(self, key: Key) -> dict[str, Any] | None:
        with self.lock:
            found = self.objects.get(key)
            return copy.deepcopy(found) if found is not None else None

    def items(self, group: str, plural: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Copies of the objects of one resource (in one namespace, or all), in name order."""
        with self.lock:
            keys = sorted(k for k in self.objects if k[0] == group and k[1] == plural
                          and (namespace is None or k[2] == namespace))
            found = [copy.deepcopy(self.objects[k]) for k in keys]
        return iter(found)

    def write(self, key: Key, obj: dict[str, Any], event: str) -> dict[str, Any]:
        """Store `obj` under a new resourceVersion and log the event; returns a copy of what was stored."""
        with self.lock:
            self.revision += 1
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.revision)
            previous = self.objects.get(key)
            self.objects[key] = obj  # never changed in place: readers get copies, the event log shares it
            self._log(event, key, obj, previous)
            return copy.deepcopy(obj)

    def remove(self, key: Key) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.pop(key, None)
            if obj is None:
                return None
            self.revision += 1
            previous, obj = obj, {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.revision)}}
            self._log("DELETED", key, obj, previous)
            return copy.deepcopy(obj)

    def _log(self, event: str, key: Key, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
        self.events.append(Event(self.revision, event, key[0], key[1], key[2], obj, previous))
        del self.events[:-self.history]
        self.changed.notify_all()

    def events_after(self, revision: int) -> list[Event] | None:
        """The events past `revision`, or None when they were compacted away (the client must list again)."""
        with self.lock:
            if self.events and self.events[0].revision > revision + 1 and revision < self.revision:
                return None
            return [e for e in self.events if e.revision > revision]
