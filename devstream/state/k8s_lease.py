"""The `k8s` state's lock: a `coordination.k8s.io/v1` Lease, held as Kubernetes' own leader election holds one.

The Lease `<configmap>-lock` in the state's namespace names its holder in `spec.holderIdentity`
(`host/pid/id`) and, in the annotation `dtm.devstream.io/holder`, who that is for people (command, since,
flow run). Taking the lock creates the Lease, or takes over one that is free or expired, with the Lease's
resourceVersion as a precondition: of two runs that try at once, the server lets exactly one write (the other
gets 409 Conflict and reads again). Expired is judged as client-go's leader election judges it, on this
process's own clock only: the Lease has not changed (its resourceVersion) for `leaseDurationSeconds` while this
process watched it, so a holder whose clock runs behind or ahead of ours keeps its lock while it renews, and a
dead holder's Lease is taken over one duration after we first saw it. Only a Lease whose `renewTime` is past by
more than SKEW_ALLOWANCE beyond its duration is taken over at first sight (no clock is that far off).
A daemon thread renews `renewTime` every third of the duration, so a long apply keeps the Lease; a holder that
dies stops renewing and its Lease expires by itself. A holder on this host whose process is gone is taken over
at once, as the local lock does; `dtm force-unlock` deletes the Lease whoever holds it. Releasing deletes the
Lease (precondition: it is still ours), after the state's compaction has run under it.

The protocol (re-entrance, takeover, renewal, waiting) is devstream/state/lock_protocol.py's; this module is its
Lease primitives.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from devstream.errors import DtmError, KubernetesConflictError, StateError, StateLockedError
from devstream.state.holdings import ProcessHoldings
from devstream.state.lock_protocol import (
    Holding,
    StateLock,
    describe_holder,
    holder_fields,
    holder_gone_here,
    locked_error,
)

if TYPE_CHECKING:
    from devstream.plugins.kube.client import KubeClient

__all__ = ["DEFAULT_LEASE_SECONDS", "HOLDER_ANNOTATION", "LeaseLock"]

logger = logging.getLogger("devstream.state")

LEASE_API = "coordination.k8s.io/v1"
HOLDER_ANNOTATION = "dtm.devstream.io/holder"
DEFAULT_LEASE_SECONDS = 30
POLL_INTERVAL = 0.5
SKEW_ALLOWANCE = 600.0  # seconds: a renewTime older than its duration plus this is stale on any plausible clock
RENEW_RETRY_SECONDS = 1.0


def _now() -> str:
    """A MicroTime, as Kubernetes writes them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class _Holding(Holding):
    identity: str


class LeaseLock(StateLock[_Holding]):
    """The Lease `name` in `namespace`, on the cluster behind `kube`."""

    holdings: ClassVar[ProcessHoldings[_Holding]] = ProcessHoldings()
    renew_retry_seconds = RENEW_RETRY_SECONDS
    renew_errors = (KubernetesConflictError, StateError, DtmError)

    def __init__(self, kube: KubeClient, *, namespace: str, name: str, state_description: str,
                 unlock_hint: str = "dtm force-unlock -f <config>", lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 renew_every: float | None = None, ensure_namespace: Callable[[], None] | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.state_description = state_description
        self.unlock_hint = unlock_hint
        self.lease_seconds = max(1, int(lease_seconds))
        self.renew_every = renew_every if renew_every is not None else self.lease_seconds / 3
        self.ensure_namespace = ensure_namespace
        self._key = f"{kube.connection.server}|{namespace}|{name}"
        self.last_taken_over: dict[str, Any] | None = None
        self._seen: tuple[str, float] | None = None  # the Lease's resourceVersion, and when we first saw it

    # -- reading ------------------------------------------------------------------------------------------
    def lease(self) -> dict[str, Any] | None:
        return self.kube.get(LEASE_API, "Lease", self.name, self.namespace)

    @staticmethod
    def holder_of(lease: dict[str, Any] | None) -> dict[str, Any] | None:
        """Who holds `lease` ({} when its holder left no record); None when nobody does."""
        if lease is None or not (lease.get("spec") or {}).get("holderIdentity"):
            return None
        raw = ((lease.get("metadata") or {}).get("annotations") or {}).get(HOLDER_ANNOTATION)
        try:
            holder = json.loads(raw) if raw else {}
        except ValueError:
            holder = {}
        holder = holder if isinstance(holder, dict) else {}
        holder.setdefault("identity", lease["spec"]["holderIdentity"])
        return holder

    def holder(self) -> dict[str, Any] | None:
        return self.holder_of(self.lease())

    def expired(self, lease: dict[str, Any]) -> bool:
        spec = lease.get("spec") or {}
        renewed = _parse(spec.get("renewTime") or spec.get("acquireTime"))
        if renewed is None or renewed + self._duration(lease) + SKEW_ALLOWANCE < time.time():
            return True
        return self._expires_in(lease) <= 0

    def _duration(self, lease: dict[str, Any]) -> float:
        return float((lease.get("spec") or {}).get("leaseDurationSeconds") or self.lease_seconds)

    def _expires_in(self, lease: dict[str, Any]) -> float:
        """Seconds until the Lease expires unless renewed: its duration less how long this process has seen it
        unchanged (a renewal changes its resourceVersion)."""
        version = str((lease.get("metadata") or {}).get("resourceVersion") or json.dumps(lease.get("spec"),
                                                                                        sort_keys=True))
        now = time.monotonic()
        if self._seen is None or self._seen[0] != version:
            self._seen = (version, now)
        return self._duration(lease) - (now - self._seen[1])

    # -- the protocol's primitives ----------------------------------------------------------------------------
    def _take(self, command: str, deadline: float, timeout: float) -> _Holding:
        """Create the Lease, or take over a free, expired or gone holder's, waiting until `deadline`."""
        identity = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"
        record = {**holder_fields(command[:500]), "identity": identity}
        told = False
        while not self._try_take(identity, record):
            if not told and deadline > time.monotonic():
                logger.warning("state %s is locked by %s; waiting up to %gs for it", self.state_description,
                               describe_holder(self.holder()), timeout)
                told = True
            self._wait(deadline, POLL_INTERVAL, lambda: self._locked_error(timeout))
        return _Holding(identity=identity)

    def _spec(self, identity: str, transitions: int) -> dict[str, Any]:
        now = _now()
        return {"holderIdentity": identity, "leaseDurationSeconds": self.lease_seconds, "acquireTime": now,
                "renewTime": now, "leaseTransitions": transitions}

    def _try_take(self, identity: str, record: dict[str, Any]) -> bool:
        """One attempt: True when the Lease is now ours."""
        lease = self.lease()
        annotations = {HOLDER_ANNOTATION: json.dumps(record)}
        if lease is None:
            body = {"apiVersion": LEASE_API, "kind": "Lease", "metadata": {
                "name": self.name, "namespace": self.namespace, "annotations": annotations,
                "labels": {"app.kubernetes.io/managed-by": "dtm"}}, "spec": self._spec(identity, 0)}
            try:
                created = self.kube.create(body)
            except DtmError as exc:
                if getattr(exc, "code", 0) != 404 or self.ensure_namespace is None:
                    raise
                self.ensure_namespace()  # the namespace is missing: the first run on this cluster makes it
                created = self.kube.create(body)
            return created is not None  # None: another run created it first
        holder = self.holder_of(lease)
        if holder is not None and not self.expired(lease) and not holder_gone_here(holder):
            return False
        spec = lease.get("spec") or {}
        metadata = {**lease["metadata"], "annotations": {**(lease["metadata"].get("annotations") or {}),
                                                         **annotations}}
        body = {**lease, "metadata": metadata,
                "spec": self._spec(identity, int(spec.get("leaseTransitions") or 0) + (1 if holder else 0))}
        try:
            self.kube.replace(body)  # resourceVersion: only if nobody wrote the Lease since we read it
        except KubernetesConflictError:
            return False
        if holder is not None:
            why = "expired" if self.expired(lease) else "no longer running"
            logger.warning("took over the lock of state %s from %s, whose Lease %s", self.state_description,
                           describe_holder(holder), "had expired" if why == "expired" else "holder is gone")
            self.last_taken_over = holder
        return True

    def _give_back(self, held: _Holding, on_release: Callable[[], None] | None) -> None:
        """Run `on_release` (still held, still renewed), then stop renewing and delete the Lease if still ours."""
        try:
            if on_release is not None and not held.lost.is_set():
                on_release()
        finally:
            self._stop_renewing(held)
            self._delete_if_ours(held)

    def _delete_if_ours(self, held: _Holding) -> None:
        for _ in range(5):
            try:
                lease = self.lease()
                if lease is None or (lease.get("spec") or {}).get("holderIdentity") != held.identity:
                    logger.warning("the lock on state %s was broken while this run held it; it is now held by %s",
                                   self.state_description, describe_holder(self.holder_of(lease))
                                   if lease else "nobody")
                    return
                self.kube.delete(LEASE_API, "Lease", self.name, self.namespace,
                                 preconditions={"resourceVersion": lease["metadata"]["resourceVersion"]})
                return
            except KubernetesConflictError:
                continue  # renewed between our read and our delete: read again
            except DtmError as exc:
                logger.warning("could not release the lock on state %s (%s); it expires %ds after its last renewal, "
                               "or run `%s`", self.state_description, exc, self.lease_seconds, self.unlock_hint)
                return

    def annotate(self, **fields: str) -> None:
        """Add fields (the flow run) to the holder record while this process holds the Lease."""
        with self.holdings.serial(self._key):
            held = self.holdings.get(self._key)
            if held is None:
                return
            for _ in range(5):
                lease = self.lease()
                if lease is None or (lease.get("spec") or {}).get("holderIdentity") != held.identity:
                    return
                record = {**(self.holder_of(lease) or {}), **fields}
                lease["metadata"].setdefault("annotations", {})[HOLDER_ANNOTATION] = json.dumps(record)
                try:
                    self.kube.replace(lease)
                    return
                except KubernetesConflictError:
                    continue

    def force_unlock(self) -> dict[str, Any] | None:
        """Delete the Lease whoever holds it; returns its holder ({} if it named none), None if there was none."""
        lease = self.lease()
        if lease is None:
            return None
        self.kube.delete(LEASE_API, "Lease", self.name, self.namespace)
        return self.holder_of(lease) or {}

    # -- internals --------------------------------------------------------------------------------------------
    def _renew(self, holding: _Holding) -> bool:
        lease = self.lease()
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != holding.identity:
            logger.error("the lock on state %s was lost (force-unlocked, or expired and taken over by %s); "
                         "another run may now change the state", self.state_description,
                         describe_holder(self.holder_of(lease)) if lease else "nobody")
            return False
        lease["spec"]["renewTime"] = _now()
        self.kube.replace(lease)
        return True

    def _locked_error(self, timeout: float) -> StateLockedError:
        lease = self.lease()
        holder = self.holder_of(lease)
        expires = ""
        if lease is not None:
            expires = f"; its Lease expires in {max(0, round(self._expires_in(lease)))}s unless renewed"
        return locked_error(self.state_description, holder, timeout,
                            after=f"if that run is gone, wait for its Lease to expire or run `{self.unlock_hint}`",
                            detail=f" (Lease {self.namespace}/{self.name}){expires}")
