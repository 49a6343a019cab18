"""The `k8s` state backend: DevStream's ConfigMap, written one record at a time, locked by a Lease.

DevStream kept the whole state as YAML in the ConfigMap `<configmap>` (default `state`) of `<namespace>`
(default `devstream`), data key `state`, and wrote all of it after every change: an apply of N tools sent
O(N^2) bytes. Here the ConfigMap keeps that key in DevStream's format (so a DevStream state is read as it is,
and `kubectl get configmap state -o yaml` shows it), and each `put`/`delete` adds one journal entry beside it
with a JSON merge patch that carries that entry only:

    data:
      state: |            DevStream's YAML: name_instanceID -> record
        ...
      journal.00001764768000123456789.4242.000001: '{"op":"put","key":"repo_default","record":{...}}'
      journal.00001764768000223456789.4242.000002: '{"op":"delete","key":"repo_old"}'

Reading is `state` with the journal replayed on top, in key order (time, pid, sequence: the lock keeps runs
apart). `flush()`, run once per locked run before the lock is given back, folds the journal into `state` with
one replace conditional on the ConfigMap's resourceVersion. A ConfigMap holds at most 1 MiB: a write that
would pass it folds the journal first (it repeats records), and a state that still does not fit is refused
with that reason.

The lock is a real `coordination.k8s.io/v1` Lease (see `devstream.state.k8s_lease`).

How the backend reaches Kubernetes: through `devstream.plugins.kube.client`, the one Kubernetes client of dtm.
That module depends on httpx and dtm's core (errors, retry, the SDK's HTTP client) only, never on a plugin or
the plugin context, so the state layer may use it without depending on the plugin layer; it is imported when
a `k8s` state is opened, so other states never load it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstream.errors import DtmError, KubernetesConflictError, StateError
from devstream.state import document, journal
from devstream.state.base import ChangeNote, StateRecord
from devstream.state.k8s_lease import DEFAULT_LEASE_SECONDS, LeaseLock
from devstream.state.lock_protocol import LockedStore

if TYPE_CHECKING:
    from devstream.plugins.kube.client import KubeClient
    from devstream.plugins.kube.config import KubeTarget

__all__ = ["DEFAULT_CONFIGMAP", "DEFAULT_NAMESPACE", "K8sStateStore"]

logger = logging.getLogger("devstream.state")

DEFAULT_NAMESPACE = "devstream"  # DevStream's defaults
DEFAULT_CONFIGMAP = "state"
STATE_KEY = "state"
JOURNAL_PREFIX = "journal."
_LABELS = {"app.kubernetes.io/managed-by": "dtm", "app.kubernetes.io/name": "dtm-state"}


def _too_large(exc: DtmError) -> bool:
    """The API server's answer to an object past its size limit (422 Too long, or 413 from a proxy)."""
    code = getattr(exc, "code", 0)
    return code == 413 or (code == 422 and "Too long" in str(exc))


class K8sStateStore(LockedStore):
    """State in a ConfigMap on the cluster `target` names; safe to call from many threads of one process.

    `bytes_written` counts the request bodies of state writes (journal entries and compactions).
    """

    state_lock: LeaseLock

    def __init__(self, target: KubeTarget, *, namespace: str = DEFAULT_NAMESPACE, configmap: str = DEFAULT_CONFIGMAP,
                 config_path: Path | None = None, lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 renew_every: float | None = None, client: KubeClient | None = None) -> None:
        from devstream.plugins.kube.client import KubeClient

        try:
            self.kube = client or KubeClient(target, logger=logger)
        except DtmError as exc:
            raise StateError(f"state backend k8s: {exc}") from None
        self.namespace = namespace
        self.configmap = configmap
        self.description = f"ConfigMap {namespace}/{configmap} on {self.kube.connection.server}"
        self.bytes_written = 0
        self._lock = threading.RLock()
        self._sequence = 0
        hint = f"dtm force-unlock -f {config_path}" if config_path else "dtm force-unlock -f <config>"
        self.state_lock = LeaseLock(self.kube, namespace=namespace, name=f"{configmap}-lock",
                                state_description=self.description, unlock_hint=hint, lease_seconds=lease_seconds,
                                renew_every=renew_every, ensure_namespace=self._ensure_namespace)

    def __repr__(self) -> str:
        return f"K8sStateStore({self.description!r})"

    # -- the StateStore protocol ----------------------------------------------------------------------------
    def read(self) -> dict[str, StateRecord]:
        with self._failing("read"):
            found = self.kube.get("v1", "ConfigMap", self.configmap, self.namespace)
        return self._records(found)

    def put(self, record: StateRecord, note: ChangeNote | None = None) -> None:
        self._append(journal.put_entry(record))

    def delete(self, state_key: str, note: ChangeNote | None = None) -> None:
        self._append(journal.delete_entry(state_key))

    def _lock_errors(self, doing: str) -> AbstractContextManager[None]:
        return self._failing(doing)

    def flush(self) -> None:
        """Fold the journal into DevStream's `state` key: one replace, conditional on the resourceVersion."""
        with self._lock, self._failing("compact"):
            for _ in range(10):
                found = self.kube.get("v1", "ConfigMap", self.configmap, self.namespace)
                data = (found or {}).get("data") or {}
                if found is None or not any(k.startswith(JOURNAL_PREFIX) for k in data):
                    return
                rendered = document.render(self._records(found)).decode("utf-8")
                body = {**found, "data": {STATE_KEY: rendered}}
                try:
                    self.kube.replace(body)
                except KubernetesConflictError:
                    continue  # a write landed between our read and our replace: fold again
                self.bytes_written += len(json.dumps(body))
                return
            raise StateError(f"state {self.description}: could not compact it, it kept changing meanwhile")

    # -- internals ----------------------------------------------------------------------------------------------
    @contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except StateError:
            raise
        except DtmError as exc:
            raise StateError(f"cannot {doing} the state {self.description}: {exc}") from None

    def _corrupt(self, where: str, what: str) -> StateError:
        return StateError(f"state {self.description} is corrupt at {where}: {what}; it is dtm's, do not edit it by "
                          "hand (kubectl edit); restore it from a backup of the ConfigMap")

    def _records(self, configmap: dict[str, Any] | None) -> dict[str, StateRecord]:
        data = (configmap or {}).get("data") or {}
        text = data.get(STATE_KEY) or ""
        records = document.parse(text.encode("utf-8"), lambda line, what: self._corrupt(f"data.{STATE_KEY} line {line}",
                                                                                           what))
        for name in sorted(k for k in data if k.startswith(JOURNAL_PREFIX)):
            try:
                entry = json.loads(data[name])
            except (ValueError, TypeError) as exc:
                raise self._corrupt(f"data.{name}", str(exc)) from None
            journal.fold(records, entry, partial(self._corrupt, f"data.{name}"))
        return records

    def _journal_key(self) -> str:
        with self._lock:
            self._sequence += 1
            return f"{JOURNAL_PREFIX}{time.time_ns():023d}.{os.getpid()}.{self._sequence:06d}"

    def _append(self, entry: dict[str, Any]) -> None:
        line = journal.encode(entry)
        patch = {"data": {self._journal_key(): line}}
        with self._failing("write"):
            try:
                self._patch(patch)
            except DtmError as exc:
                if not _too_large(exc):
                    raise
                # The journal repeats records: folded into `state`, the ConfigMap may have room again.
                self.flush()
                try:
                    self._patch(patch)
                except DtmError as again:
                    if not _too_large(again):
                        raise
                    raise StateError(f"the state no longer fits in {self.description}: a ConfigMap holds at most "
                                     f"1 MiB ({again}); keep this config's state in the `s3` or `prefect` backend "
                                     "(dtm state list shows what it holds)") from None
        with self._lock:
            self.bytes_written += len(json.dumps(patch))

    def _patch(self, patch: dict[str, Any]) -> None:
        try:
            self.kube.merge_patch("v1", "ConfigMap", self.configmap, patch, self.namespace)
        except DtmError as exc:
            if getattr(exc, "code", 0) != 404:
                raise
            self._create_configmap()  # the first write to this state
            self.kube.merge_patch("v1", "ConfigMap", self.configmap, patch, self.namespace)

    def _ensure_namespace(self) -> None:
        if self.kube.get("v1", "Namespace", self.namespace) is None:
            self.kube.create({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": self.namespace, "labels": dict(_LABELS)}})
            logger.info("created namespace %s for the state", self.namespace)

    def _create_configmap(self) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {STATE_KEY: ""},
                "metadata": {"name": self.configmap, "namespace": self.namespace, "labels": dict(_LABELS)}}
        try:
            self.kube.create(body)
        except DtmError as exc:
            if getattr(exc, "code", 0) != 404:
                raise
            self._ensure_namespace()
            self.kube.create(body)
