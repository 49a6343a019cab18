"""The `prefect` state's lock: a Prefect global concurrency limit of 1 slot, held through a lease.

Taking the lock is `POST /api/v2/concurrency_limits/increment-with-lease` on the state's limit (created with
`limit: 1` when missing; the REST calls are in lease_limit.py). The server answers with a lease id; a daemon
thread renews the lease every third of its duration, so a long apply keeps it. If the holder dies, renewals
stop and the server's repossessor service frees the slot once the lease has expired (lease durations are 60
s at least; the repossessor looks every `PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS`, 15 s by
default).

Leases live in the server's memory by default (dtm's local server keeps them on disk instead): a restart
forgets them while their slots stay taken. dtm repairs both sides of that:
- the holder's renewer, told the lease is gone while the holder record still names it, takes the slot
  again with a new lease (`_recreate`);
- a holder on this host whose process is gone is taken over at once, as the local lock does; when the
  server lost its lease, its slot is given back by resetting the limit (`_revoke_stale_holder`).
A holder on another host cannot be checked: its slot frees itself when its lease expires, if the server
still has the lease; `dtm force-unlock` frees it in every case.

Traps this module closes (see the server's `api/concurrency_limits_v2.py`):
- a missing or inactive limit lets every caller in with no slot taken (LimitApi.ensure and take check it);
- a 423 LOCKED answer carries `Retry-After`; a caller with a timeout waits that long (never past its
  deadline) before asking again;
- a server that is busy (503) or away while a caller waits is asked again until the caller's deadline,
  however long that is.

Who holds the lock is kept beside it in a Prefect Variable (JSON, at most 5000 characters), so a refused
run can name the holder:

    {"host": "ci-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-02T03:04:05+00:00",
     "lease_id": "..."}

The protocol (re-entrance, takeover, renewal, waiting) is devstream/state/lock_protocol.py's, as for every
state backend; this module is its Prefect primitives.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from devstream.errors import PrefectUnavailableError, StateError, StateLockedError
from devstream.prefect_boundary.lease_limit import MIN_LEASE_SECONDS, LimitApi
from devstream.prefect_boundary.rest import PrefectApi
from devstream.state.holdings import ProcessHoldings
from devstream.state.lock_protocol import (
    Holding,
    StateLock,
    describe_holder,
    holder_fields,
    holder_gone_here,
    locked_error,
)

__all__ = ["MIN_LEASE_SECONDS", "LeaseLock"]

logger = logging.getLogger("devstream.state")

# The server refuses leases longer than a day (`lease_duration`, le=86400) or shorter than MIN_LEASE_SECONDS.
MAX_LEASE_SECONDS = 86400.0
DEFAULT_LEASE_SECONDS = 60.0
# How long to wait between attempts when a 423 carries no usable Retry-After.
DEFAULT_RETRY_SECONDS = 1.0
# After a failed renewal, try again this much sooner than the regular interval (the lease is still valid).
RENEW_RETRY_SECONDS = 2.0


@dataclass
class _Holding(Holding):
    """This process's hold on one limit: its lease."""

    lease_id: str


class LeaseLock(StateLock[_Holding]):
    """The lock named `limit_name` on the server behind `api`, with its holder in `variable_name`.

    `state_description` names what is locked in messages; `unlock_hint` is the command that breaks the
    lock of a run that is gone. `renew_every` defaults to a third of `lease_seconds`.
    """

    holdings: ClassVar[ProcessHoldings[_Holding]] = ProcessHoldings()
    renew_retry_seconds = RENEW_RETRY_SECONDS
    renew_errors = (StateError,)

    def __init__(
        self,
        api: PrefectApi,
        *,
        limit_name: str,
        variable_name: str,
        state_description: str,
        unlock_hint: str = "dtm force-unlock -f <config>",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        renew_every: float | None = None,
    ) -> None:
        if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(
                f"lease_seconds must be between {MIN_LEASE_SECONDS:g} and {MAX_LEASE_SECONDS:g} (the server's bounds)"
            )
        self.api = api
        self.limit_name = limit_name
        self.variable_name = variable_name
        self.limit = LimitApi(api, limit_name=limit_name, variable_name=variable_name,
                              state_description=state_description)
        self.state_description = state_description
        self.unlock_hint = unlock_hint
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every if renew_every is not None else lease_seconds / 3
        self._key = f"{api.url}|{limit_name}"
        self.renew_join_seconds = api.timeout + 1
        # The record of the last gone holder this object took the lock over from (see `taken_over`).
        self.last_taken_over: dict[str, Any] | None = None

    # -- reading --------------------------------------------------------------------------------------

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock as recorded in its variable; None if no holder is recorded."""
        return self.limit.holder()

    # -- the protocol's primitives ----------------------------------------------------------------------

    def _take(self, command: str, deadline: float, timeout: float) -> _Holding:
        """Take a slot of the limit and record the holder; a server busy or away meanwhile is asked again
        until the deadline."""
        while True:
            try:
                self.limit.ensure()
                self._revoke_stale_holder()
                lease_id = self._take_slot(command, deadline, timeout)
                break
            except PrefectUnavailableError as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                logger.warning("waiting for the lock on state %s: %s", self.state_description, exc)
                time.sleep(min(DEFAULT_RETRY_SECONDS, remaining))
        try:
            self._record_holder(command, lease_id)
        except BaseException:
            # Without a recorded holder a refused run could not say who holds the state: give it back.
            self._free(lease_id)
            raise
        return _Holding(lease_id=lease_id)

    def _give_back(self, held: _Holding, on_release: Callable[[], None] | None) -> None:
        """Run `on_release`, stop the renewer, forget the holder and free the slot. Failures are logged, not
        raised: the work under the lock is done, and a slot that could not be given back frees itself when its
        lease expires."""
        try:
            if on_release is not None and not held.lost.is_set():
                on_release()
        finally:
            self._stop_renewing(held)
        try:
            # The holder first, while the slot is still ours: nobody else may write the variable
            # meanwhile, unless a force-unlock broke our lock, and then the lease ids differ.
            current = self.holder()
            if current is not None and current.get("lease_id") == held.lease_id:
                self.limit.forget_holder()
            else:
                logger.warning(
                    "the lock on state %s was broken while this run held it; it is now held by %s",
                    self.state_description,
                    describe_holder(current) if current else "nobody",
                )
        except StateError as exc:
            logger.warning("could not clear the holder of the lock on state %s: %s", self.state_description, exc)
        self._free(held.lease_id)

    def _renew(self, holding: _Holding) -> bool:
        """Renew the lease; a lease the server lost is taken again while the holder record still names it."""
        if self.limit.renew(holding.lease_id, self.lease_seconds) or self._recreate(holding):
            return True
        logger.error(
            "the lock on state %s was lost: the server no longer has its lease (it expired or was "
            "force-unlocked) and another run holds it or may take it; another run may now change "
            "the state",
            self.state_description,
        )
        return False

    def annotate(self, **fields: str) -> None:
        """Add fields to the holder record while this process holds the lock."""
        with self.holdings.serial(self._key):
            held = self.holdings.get(self._key)
            current = self.holder() if held is not None else None
            if held is None or not current or current.get("lease_id") != held.lease_id:
                return
            self.limit.update_holder({**current, **fields})

    def force_unlock(self) -> dict[str, Any] | None:
        """Free the lock whoever holds it; returns its recorded holder ({} if none was recorded), None if free.

        The holder record goes first: a holder still running whose renewal then finds its lease gone must
        not take the lock again as if the server had lost the lease (`_recreate` does that only while the
        record names its lease). Then the recorded lease is revoked (`decrement-with-lease` frees its slot
        and works from any client). If the slot is still taken afterwards and no new holder has appeared,
        its lease is gone (a server restart forgets leases), and the limit's active slots are reset to 0.
        """
        holder = self.holder()
        if holder is not None:
            self.limit.forget_holder()
        if holder and holder.get("lease_id"):
            self._free(str(holder["lease_id"]), strict=True)
        slots = self.limit.active_slots()
        if slots > 0:
            newer = self.holder()
            newer_lease = (newer or {}).get("lease_id")
            if newer_lease and newer_lease != (holder or {}).get("lease_id"):
                # Another run took the lock between our revocation and this check: it is theirs now.
                return holder if holder is not None else {}
            self.limit.reset()
            logger.warning(
                "reset the lock %s of state %s: its slot was taken with no live lease on record",
                self.limit_name,
                self.state_description,
            )
        if holder is None and slots == 0:
            return None
        return holder if holder is not None else {}

    # -- internals --------------------------------------------------------------------------------------

    def _revoke_stale_holder(self) -> None:
        """Take over at once from a holder on this host whose process is gone, or from this process after a
        release the server refused (e.g. busy): waiting for its lease to expire would cost up to a minute,
        and forever when the server lost the lease (restarted). The local lock takes over a dead pid's lock
        file the same way."""
        try:
            holder = self.holder()
        except PrefectUnavailableError:
            raise
        except StateError:
            return
        if not holder or not holder.get("lease_id") or not holder_gone_here(holder):
            return  # free, or alive (or on another host: its lease expires)
        lease_id = str(holder["lease_id"])
        logger.warning("taking over the lock of state %s from %s, whose process no longer holds it",
                       self.state_description, describe_holder(holder))
        if self.limit.lease_exists(lease_id):
            self._free(lease_id)
        else:
            self.limit.free_lost_slot(lease_id)
        self.limit.forget_holder()
        self.last_taken_over = holder

    def _take_slot(self, command: str, deadline: float, timeout: float) -> str:
        """The lease id of a slot of the limit, waiting until `deadline` (monotonic) while it is taken."""
        while True:
            grant = self.limit.take(self.lease_seconds)
            if grant.lease_id is not None:
                return grant.lease_id
            if not grant.locked:
                # The trap: a missing or inactive limit is "granted" with nothing locked.
                if grant.granted_other:
                    self._free(grant.granted_other)
                raise StateError(
                    f"the Prefect server at {self.api.safe_url} granted the lock of state "
                    f"{self.state_description} without taking a slot of {self.limit_name} (was the limit "
                    "deleted or disabled meanwhile?); nothing is locked, so dtm stops here"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._locked_error(timeout)
            wait = grant.retry_after
            time.sleep(min(wait if wait is not None else DEFAULT_RETRY_SECONDS, remaining))

    def _record_holder(self, command: str, lease_id: str) -> None:
        # The variable holds 5000 characters; the slot is ours, so any record still there is a dead holder's.
        self.limit.record_holder({**holder_fields(command[:500]), "lease_id": lease_id})

    def _free(self, lease_id: str, *, strict: bool = False) -> None:
        """Free the slot of `lease_id` and revoke it; a lease already gone is a no-op on the server."""
        try:
            self.limit.give_back(lease_id)
        except StateError as exc:
            if strict:
                raise
            logger.warning(
                "could not release the lock on state %s (%s); the next dtm run on this host takes it over "
                "once this process has ended; elsewhere it is freed when its lease expires (%gs after its last "
                "renewal, if the server still has the lease), or run `%s`",
                self.state_description,
                exc,
                self.lease_seconds,
                self.unlock_hint,
            )

    def _recreate(self, holding: _Holding) -> bool:
        """Take the lock again with a new lease after the server lost ours (a restart forgets leases kept in
        memory); True when this run holds the state again. Only while the holder record still names our
        lease: if it names another run, a force-unlock broke our lock and the state is theirs."""
        current = self.holder()
        if not current or current.get("lease_id") != holding.lease_id:
            return False
        if holding.stop.is_set():
            return True  # releasing: nothing to keep
        self.limit.free_lost_slot(holding.lease_id)
        grant = self.limit.take(self.lease_seconds, what="take the state's lock again")
        if grant.lease_id is None:
            return False
        self.limit.update_holder({**current, "lease_id": grant.lease_id})
        holding.lease_id = grant.lease_id
        logger.warning("the Prefect server lost the lease of the lock on state %s (was it restarted?); this run "
                       "took the lock again with a new lease", self.state_description)
        return True

    def _locked_error(self, timeout: float) -> StateLockedError:
        try:
            holder = self.holder()
        except StateError:
            holder = None
        if not holder:
            who = f"an unknown holder (no holder is recorded in the Prefect variable {self.variable_name})"
            after = (f"if no run holds it, run `{self.unlock_hint}`")
        elif holder.get("host") == socket.gethostname():
            # A holder on this host whose process were gone would have been taken over already.
            who = f"{describe_holder(holder)}, which is still running"
            after = f"wait for it to finish, or stop it; `{self.unlock_hint}` breaks the lock"
        else:
            who = describe_holder(holder)
            after = (f"dtm cannot tell from here whether that run is alive; if it is gone, the server frees its "
                     f"slot once its lease expires ({self.lease_seconds:g}s after its last renewal, plus the "
                     f"server's repossessor interval) unless the server was restarted since and lost the lease; "
                     f"`{self.unlock_hint}` frees it now")
        return locked_error(self.state_description, holder, timeout, who=who, after=after)
