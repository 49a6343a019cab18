"""The `s3` state's lock: one object beside the state, created and renewed with S3's conditional writes.

Taking the lock is a PutObject of `<key>.lock` with `If-None-Match: *`: S3 (and moto, MinIO, Ceph) creates it
for exactly one of any number of runs asking at once and answers the others 412 Precondition Failed. The
object names its holder, and the lease the holder promised to keep renewing:

    {"host": "ci-7", "pid": 4242, "command": "dtm apply", "since": "2026-...", "id": "...", "lease_seconds": 60}

A daemon thread renews the lease every third of its duration with a PutObject `If-Match: <our ETag>`, so a long
apply keeps it and a run whose lock was broken learns so (412). Every write carries a fresh id, so two holders'
objects never share an ETag.

A holder is gone when its process is gone (same host, pid not alive: taken over at once, as the local lock
does), or when its lease has run out: the object's Last-Modified is older than its `lease_seconds`, both read
on the server's clock (its Date header), so no client clock is trusted. A gone holder's object is replaced by
a PutObject `If-Match: <its ETag>`: of two runs taking over at once, one wins. `force_unlock` deletes the object
whoever holds it. The protocol (re-entrance, takeover, renewal, waiting) is devstream/state/lock_protocol.py's;
this module is its S3 primitives.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar

from devstream.errors import StateError, StateLockedError
from devstream.state.holdings import ProcessHoldings
from devstream.state.lock_protocol import (
    Holding,
    StateLock,
    describe_holder,
    holder_fields,
    holder_gone_here,
    locked_error,
)

__all__ = ["DEFAULT_LEASE_SECONDS", "S3Lock", "client_error_code", "client_error_status"]

logger = logging.getLogger("devstream.state")

DEFAULT_LEASE_SECONDS = 60.0
# How often a waiting run asks again (each ask is one request to the server).
POLL_INTERVAL = 0.5
# A lock object that cannot be parsed is a holder that died mid-write (S3 writes are atomic, so rather one
# written by hand); after this long it is called abandoned.
UNREADABLE_STALE_AFTER = 30.0


@dataclass
class _Holding(Holding):
    """This process's hold on one lock object: the ETag of its last write and its content."""

    etag: str
    content: dict[str, Any]
    guard: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class LockObject:
    """The lock object as last read: its holder ({} if unreadable), ETag and age on the server's clock."""

    holder: dict[str, Any]
    etag: str
    age: float | None


class S3Lock(StateLock[_Holding]):
    """The lock object `lock_key` in `bucket`, spoken to through `s3` (a boto3 S3 client).

    `precondition_failed(exc)` tells a 412 apart from other errors, `translate(exc, doing)` turns any other
    client error into the StateError the user reads (a missing bucket, refused credentials).
    """

    holdings: ClassVar[ProcessHoldings[_Holding]] = ProcessHoldings()

    def __init__(
        self,
        s3: Any,
        *,
        bucket: str,
        lock_key: str,
        identity: str,
        state_description: str,
        unlock_hint: str,
        precondition_failed: Callable[[Exception], bool],
        translate: Callable[[Exception, str], Exception],
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        renew_every: float | None = None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.lock_key = lock_key
        self.state_description = state_description
        self.unlock_hint = unlock_hint
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every if renew_every is not None else lease_seconds / 3
        self._precondition_failed = precondition_failed
        self._translate = translate
        self._key = f"s3|{identity}|{lock_key}"
        self.last_taken_over: dict[str, Any] | None = None

    # -- reading --------------------------------------------------------------------------------------

    def read(self) -> LockObject | None:
        """The lock object, or None when nobody holds the lock."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.lock_key)
        except Exception as exc:
            if client_error_status(exc) == 404 and client_error_code(exc) != "NoSuchBucket":
                return None
            raise self._translate(exc, "read the state's lock") from exc
        body = response["Body"].read()
        try:
            holder = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            holder = {}
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        age = None
        try:
            now = parsedate_to_datetime(headers["date"])
            age = (now - response["LastModified"]).total_seconds()
        except (KeyError, TypeError, ValueError):
            pass
        return LockObject(holder if isinstance(holder, dict) else {}, str(response.get("ETag", "")), age)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock: the lock object's content ({} if unreadable); None if free."""
        found = self.read()
        return None if found is None else found.holder

    # -- the protocol's primitives ----------------------------------------------------------------------

    def _take(self, command: str, deadline: float, timeout: float) -> _Holding:
        """Create the lock object (If-None-Match), or replace a gone holder's (If-Match its ETag)."""
        while True:
            content = {**holder_fields(command), "id": uuid.uuid4().hex, "lease_seconds": self.lease_seconds}
            etag = self._put(content, IfNoneMatch="*")
            if etag is not None:
                self._check_conditions_hold(content)
                return _Holding(etag=etag, content=content)
            current = self.read()
            if current is None:
                continue  # released between our write and our read: ask again at once
            if self._is_gone(current):
                # Replace the gone holder's object only if it is unchanged: of two runs doing so, one wins.
                etag = self._put(content, IfMatch=current.etag)
                if etag is None:
                    continue
                logger.warning("taking over the lock on state %s: its holder %s is gone",
                               self.state_description, describe_holder(current.holder))
                self.last_taken_over = current.holder
                return _Holding(etag=etag, content=content)
            self._wait(deadline, POLL_INTERVAL, partial(self._locked_error, current.holder, timeout))

    def _give_back(self, held: _Holding, on_release: Callable[[], None] | None) -> None:
        """Stop renewing, run `on_release`, then delete the object if still ours."""
        self._stop_renewing(held)
        if held.lost.is_set():
            logger.warning("the lock on state %s was broken while this run held it; it is now held by %s",
                           self.state_description, self._describe_current())
            return
        try:
            if on_release is not None:
                on_release()
        finally:
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=held.etag)
            except Exception as exc:
                if not self._precondition_failed(exc) and client_error_status(exc) != 404:
                    # The work is done; a lock left behind is taken over by the next run on this host.
                    logger.warning("could not release the lock on state %s: %s", self.state_description, exc)

    def _renew(self, held: _Holding) -> bool:
        with held.guard:
            if held.stop.is_set():
                return True
            content = {**held.content, "renewed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            etag = self._put(content, IfMatch=held.etag)
            if etag is None:
                logger.warning("the lock on state %s was taken from this run (force-unlock, or its lease ran "
                               "out); it is now held by %s", self.state_description, self._describe_current())
                return False
            held.etag, held.content = etag, content
            return True

    def annotate(self, **fields: str) -> None:
        """Add fields (the flow run) to the holder record while this process holds the lock."""
        held = self.holdings.get(self._key)
        if held is None:
            return
        with held.guard:
            if held.lost.is_set():
                return
            content = {**held.content, **fields}
            etag = self._put(content, IfMatch=held.etag)
            if etag is None:
                held.lost.set()
                return
            held.etag, held.content = etag, content

    def force_unlock(self) -> dict[str, Any] | None:
        """Delete the lock object whoever holds it; returns its holder ({} if unreadable), None if free."""
        current = self.read()
        if current is None:
            return None
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.lock_key)
        except Exception as exc:
            if client_error_status(exc) != 404:
                raise self._translate(exc, "remove the state's lock") from exc
        return current.holder

    # -- internals --------------------------------------------------------------------------------------

    def _put(self, content: dict[str, Any], **condition: str) -> str | None:
        """Write the lock object under `condition`; its new ETag, or None when the condition did not hold."""
        try:
            response = self.s3.put_object(Bucket=self.bucket, Key=self.lock_key, Body=json.dumps(content).encode(),
                                          ContentType="application/json", **condition)
        except Exception as exc:
            # 409 ConditionalRequestConflict: another conditional write to the same key was in flight.
            if self._precondition_failed(exc) or client_error_status(exc) == 409:
                return None
            raise self._translate(exc, "lock the state") from exc
        return str(response["ETag"])

    def _check_conditions_hold(self, content: dict[str, Any]) -> None:
        """Refuse a server that ignores conditional writes: there, two runs would both "create" the lock.

        A write of our own lock object under an If-Match no object can match must fail with 412.
        """
        if self._put(content, IfMatch='"dtm-never-matches"') is None:
            return
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.lock_key)
        finally:
            raise StateError(
                f"cannot lock state {self.state_description}: the S3 server ignores conditional writes (it accepted "
                "a PutObject whose If-Match could not match), so it cannot keep two runs apart; use a server that "
                "supports them (AWS S3, recent MinIO), or the `local` or `prefect` backend")

    def _is_gone(self, current: LockObject) -> bool:
        """A holder that can be proven gone: a dead pid on this host, or a lease that ran out."""
        holder = current.holder
        if holder_gone_here(holder):
            return True
        if current.age is None:
            return False
        lease = holder.get("lease_seconds") if holder else UNREADABLE_STALE_AFTER
        if not isinstance(lease, int | float) or lease <= 0:
            return False
        # The server's Date and Last-Modified are whole seconds: a second of margin keeps a live holder.
        return current.age > lease + 1

    def _describe_current(self) -> str:
        try:
            current = self.read()
        except Exception:
            return "an unknown holder"
        return "nobody" if current is None else describe_holder(current.holder)

    def _locked_error(self, holder: dict[str, Any], timeout: float) -> StateLockedError:
        return locked_error(self.state_description, holder, timeout,
                            after=f"if that run is gone, run `{self.unlock_hint}`")


def client_error_code(exc: Exception) -> str:
    """The error code of a botocore ClientError (NoSuchBucket, PreconditionFailed...), or ""."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def client_error_status(exc: Exception) -> int | None:
    """The HTTP status of a botocore ClientError, or None for any other error."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None
