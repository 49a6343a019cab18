"""The `prefect` state's lock: a Prefect global concurrency limit of 1 slot, held through a lease.

Taking the lock is `POST /api/v2/concurrency_limits/increment-with-lease` on the state's limit (created
with `limit: 1` when missing). The server answers with a lease id; a daemon thread renews the lease every
third of its duration, so a long apply keeps it. If the holder dies, renewals stop and the server's
repossessor service frees the slot once the lease has expired (lease durations are 60 s at least; the
repossessor looks every `PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS`, 15 s by default).

Leases live in the server's memory by default (dtm's local server keeps them on disk instead): a restart
forgets them while their slots stay taken. dtm repairs both sides of that:
- the holder's renewer, told the lease is gone while the holder record still names it, takes the slot
  again with a new lease (`_recreate`);
- a holder on this host whose process is gone is taken over at once, as the local lock does; when the
  server lost its lease, its slot is given back by resetting the limit (`_revoke_stale_holder`).
A holder on another host cannot be checked: its slot frees itself when its lease expires, if the server
still has the lease; `dtm force-unlock` frees it in every case.

Traps this module closes (see the server's `api/concurrency_limits_v2.py`):
- a limit that does not exist, or is inactive, lets every caller in with a 200 and no slot taken: the
  limit is created first, checked to be active with `limit: 1` and no slot decay, and a grant that does
  not name it is an error;
- a 423 LOCKED answer carries `Retry-After`; a caller with a timeout waits that long (never past its
  deadline) before asking again;
- a server that is busy (503) or away while a caller waits is asked again until the caller's deadline,
  however long that is.

Who holds the lock is kept beside it in a Prefect Variable (JSON, at most 5000 characters), so a refused
run can name the holder:

    {"host": "ci-7", "pid": 4242, "command": "dtm apply", "since": "2026-01-02T03:04:05+00:00",
     "lease_id": "..."}

Within one process the lock is re-entrant, as the local lock is: the CLI holds it while the apply flow, in
the same process, takes it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from devstream.errors import PrefectUnavailableError, StateError, StateLockedError
from devstream.osutil import pid_alive
from devstream.plugin.http import parse_retry_after
from devstream.state.holdings import ProcessHoldings
from devstream.state.lock import describe_holder, holder_fields
from devstream.state.prefect_rest import PrefectApi

__all__ = ["MIN_LEASE_SECONDS", "LeaseLock"]

logger = logging.getLogger("devstream.state")

# The server refuses leases shorter than a minute or longer than a day (`lease_duration`, ge=60, le=86400).
MIN_LEASE_SECONDS = 60.0
MAX_LEASE_SECONDS = 86400.0
DEFAULT_LEASE_SECONDS = 60.0
# How long to wait between attempts when a 423 carries no usable Retry-After.
DEFAULT_RETRY_SECONDS = 1.0
# After a failed renewal, try again this much sooner than the regular interval (the lease is still valid).
RENEW_RETRY_SECONDS = 2.0
# A run that takes a slot records itself as the holder within milliseconds; a slot still taken this long
# after a dead holder's lease was found gone, with that holder still on record, is the lost lease's slot.
LOST_SLOT_CONFIRM_SECONDS = 1.0


@dataclass
class _Holding:
    """This process's hold on one limit: the lease, its renewer, and how many times it was entered."""

    lease_id: str
    renewer: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)


# Re-entrance is per process, not per thread (see devstream/state/holdings.py).
_holdings: ProcessHoldings[_Holding] = ProcessHoldings()


class LeaseLock:
    """The lock named `limit_name` on the server behind `api`, with its holder in `variable_name`.

    `state_description` names what is locked in messages; `unlock_hint` is the command that breaks the
    lock of a run that is gone. `renew_every` defaults to a third of `lease_seconds`.
    """

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
        self.state_description = state_description
        self.unlock_hint = unlock_hint
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every if renew_every is not None else lease_seconds / 3
        self._key = f"{api.url}|{limit_name}"
        # The record of the last gone holder this object took the lock over from (see `taken_over`).
        self.last_taken_over: dict[str, Any] | None = None

    # -- reading --------------------------------------------------------------------------------------

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock as recorded in its variable; None if no holder is recorded."""
        response = self.api.call(
            "GET", f"/variables/name/{self.variable_name}", ok=(404,), what="read who holds the state's lock"
        )
        if response.status_code == 404:
            return None
        value = response.json().get("value")
        return value if isinstance(value, dict) else {}

    def held_here(self) -> bool:
        """Whether this process currently holds the lock."""
        return _holdings.get(self._key) is not None

    def lost(self) -> bool:
        """Whether this process holds the lock but the server no longer honours its lease (expired, revoked)."""
        held = _holdings.get(self._key)
        return held is not None and held.lost.is_set()

    # -- taking and releasing ---------------------------------------------------------------------------

    @contextmanager
    def hold(self, command: str, timeout: float = 0) -> Iterator[None]:
        """Hold the lock for the block (re-entrant within this process)."""
        self.acquire(command, timeout)
        try:
            yield
        finally:
            self.release()

    def acquire(self, command: str, timeout: float = 0) -> None:
        """Take a slot of the limit, or enter again if this process holds it; StateLockedError if another does.

        With a timeout, a server that is busy or away meanwhile is asked again until the deadline.
        """
        deadline = time.monotonic() + max(timeout, 0)
        with self._limit_lock():
            if _holdings.reenter(self._key):
                return
            while True:
                try:
                    self._ensure_limit()
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
                self._give_back(lease_id)
                raise
            holding = _Holding(lease_id=lease_id)
            holding.renewer = threading.Thread(
                target=self._renew_loop,
                args=(holding,),
                name=f"dtm-lease-{self.limit_name}",
                daemon=True,  # a process that exits without releasing must not wait for it; the lease expires
            )
            _holdings.add(self._key, holding)
            holding.renewer.start()

    def release(self) -> None:
        """Leave the lock once; the outermost exit stops the renewer, forgets the holder and frees the slot.

        Failures are logged, not raised: the work under the lock is done, and a slot that could not be
        given back frees itself when its lease expires.
        """
        with self._limit_lock():
            held = _holdings.leave(self._key)
            if held is None:
                return  # an inner exit, or not held by this process
            held.stop.set()
            if held.renewer is not None:
                held.renewer.join(timeout=self.api.timeout + 1)
            try:
                # The holder first, while the slot is still ours: nobody else may write the variable
                # meanwhile, unless a force-unlock broke our lock, and then the lease ids differ.
                current = self.holder()
                if current is not None and current.get("lease_id") == held.lease_id:
                    self._forget_holder()
                else:
                    logger.warning(
                        "the lock on state %s was broken while this run held it; it is now held by %s",
                        self.state_description,
                        describe_holder(current) if current else "nobody",
                    )
            except StateError as exc:
                logger.warning("could not clear the holder of the lock on state %s: %s", self.state_description, exc)
            self._give_back(held.lease_id)

    def annotate(self, **fields: str) -> None:
        """Add fields to the holder record while this process holds the lock."""
        with self._limit_lock():
            held = _holdings.get(self._key)
            current = self.holder() if held is not None else None
            if held is None or not current or current.get("lease_id") != held.lease_id:
                return
            self.api.call("PATCH", f"/variables/name/{self.variable_name}", json={"value": {**current, **fields}},
                          retry=True, what="record who holds the state's lock")

    def taken_over(self) -> dict[str, Any] | None:
        """The record of the gone holder whose lock was last taken over here, handed out once."""
        taken, self.last_taken_over = self.last_taken_over, None
        return taken

    def force_unlock(self) -> dict[str, Any] | None:
        """Free the lock whoever holds it; returns its recorded holder ({} if none was recorded), None if free.

        The recorded lease is revoked (`decrement-with-lease` frees its slot and works from any client).
        If the slot is still taken afterwards and no new holder has appeared, its lease is gone (a server
        restart forgets leases), and the limit's active slots are reset to 0.
        """
        holder = self.holder()
        if holder and holder.get("lease_id"):
            self._give_back(str(holder["lease_id"]), strict=True)
        limit = self._read_limit()
        slots = int(limit.get("active_slots") or 0) if limit is not None else 0
        if slots > 0:
            newer = self.holder()
            newer_lease = (newer or {}).get("lease_id")
            if newer_lease and newer_lease != (holder or {}).get("lease_id"):
                # Another run took the lock between our revocation and this check: it is theirs now.
                return holder if holder is not None else {}
            self._reset_slots()
            logger.warning(
                "reset the lock %s of state %s: its slot was taken with no live lease on record",
                self.limit_name,
                self.state_description,
            )
        if holder is not None:
            self._forget_holder()
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
        if not holder or holder.get("host") != socket.gethostname() or not holder.get("lease_id"):
            return
        pid = holder.get("pid")
        if pid != os.getpid():
            try:
                if pid_alive(int(pid)):  # type: ignore[arg-type]
                    return  # alive (or someone else's): really held
            except (TypeError, ValueError):
                return
        lease_id = str(holder["lease_id"])
        logger.warning("taking over the lock of state %s from %s, whose process no longer holds it",
                       self.state_description, describe_holder(holder))
        if self._lease_exists(lease_id):
            self._give_back(lease_id)
        else:
            self._free_lost_slot(lease_id)
        self._forget_holder()
        self.last_taken_over = holder

    def _lease_exists(self, lease_id: str) -> bool:
        """Whether the server still has this lease (renewing the lease of a holder known dead harms nobody)."""
        response = self.api.call(
            "POST",
            f"/v2/concurrency_limits/leases/{lease_id}/renew",
            json={"lease_duration": MIN_LEASE_SECONDS},
            ok=(404, 410, 422),
            retry=True,
            what="check the lease of the state's lock",
        )
        return response.status_code < 400

    def _free_lost_slot(self, lease_id: str) -> None:
        """Give back the slot of a lease the server no longer has, if the slot is still taken.

        A lease that expired was freed by the server's repossessor already (no slot left). A slot still
        taken while the holder record still names the lost lease is that lease's, kept by a server that
        restarted: reset the limit, as force-unlock does. Checked twice, a moment apart, so a run that has
        just taken the freed slot and not yet recorded itself is never reset.
        """
        for confirm in (False, True):
            if confirm:
                time.sleep(LOST_SLOT_CONFIRM_SECONDS)
            limit = self._read_limit()
            current = self.holder()
            if limit is None or not int(limit.get("active_slots") or 0) or (current or {}).get("lease_id") != lease_id:
                return
        self._reset_slots()
        logger.warning("freed the slot of the lock on state %s: the Prefect server no longer has the lease "
                       "that held it (was it restarted?)", self.state_description)

    def _reset_slots(self) -> None:
        self.api.call(
            "PATCH",
            f"/v2/concurrency_limits/{self.limit_name}",
            json={"active_slots": 0},
            what="reset the state's lock",
        )

    def _limit_lock(self) -> threading.Lock:
        return _holdings.serial(self._key)

    def _read_limit(self) -> dict[str, Any] | None:
        response = self.api.call(
            "GET", f"/v2/concurrency_limits/{self.limit_name}", ok=(404,), what="read the state's lock"
        )
        return None if response.status_code == 404 else dict(response.json())

    def _ensure_limit(self) -> None:
        """Create the limit if it is missing, then check it is a real lock: active, 1 slot, no decay."""
        limit = self._read_limit()
        if limit is None:
            # Read first, create second: a duplicate create is a 409 that the server also logs as an error.
            response = self.api.call(
                "POST",
                "/v2/concurrency_limits/",
                json={"name": self.limit_name, "limit": 1, "active": True},
                ok=(409,),
                what="create the state's lock",
            )
            limit = self._read_limit() if response.status_code == 409 else dict(response.json())
            if limit is None:
                raise StateError(
                    f"the Prefect server at {self.api.safe_url} did not keep the lock {self.limit_name} of "
                    f"state {self.state_description} that dtm just created; check the server's logs"
                )
        problems = []
        if not limit.get("active", False):
            problems.append("it is inactive")
        if limit.get("limit") != 1:
            problems.append(f"its limit is {limit.get('limit')}, not 1")
        if float(limit.get("slot_decay_per_second") or 0) != 0:
            problems.append("its slots decay")
        if problems:
            raise StateError(
                f"the global concurrency limit {self.limit_name} that locks state {self.state_description} "
                f"cannot lock it: {', '.join(problems)}; restore it with "
                f"`prefect gcl update {self.limit_name} --enable --limit 1 --slot-decay-per-second 0`"
            )

    def _take_slot(self, command: str, deadline: float, timeout: float) -> str:
        """The lease id of a slot of the limit, waiting until `deadline` (monotonic) while it is taken."""
        while True:
            # Not retried on a 500 or 504: a lost answer to a granted request would leave a slot we do not
            # know of. A 503 is the server saying its database was busy: the transaction rolled back,
            # nothing was granted, so the API client asks again (and a slot taken all the same would expire
            # with its lease).
            response = self.api.call(
                "POST",
                "/v2/concurrency_limits/increment-with-lease",
                json={
                    "names": [self.limit_name],
                    "slots": 1,
                    "mode": "concurrency",
                    "lease_duration": self.lease_seconds,
                },
                ok=(423,),
                what="take the state's lock",
            )
            if response.status_code != 423:
                body = response.json()
                granted = [lim.get("name") for lim in body.get("limits") or [] if isinstance(lim, dict)]
                lease_id = body.get("lease_id")
                if self.limit_name not in granted or not lease_id:
                    # The trap: a missing or inactive limit is "granted" with nothing locked.
                    if lease_id:
                        self._give_back(str(lease_id))
                    raise StateError(
                        f"the Prefect server at {self.api.safe_url} granted the lock of state "
                        f"{self.state_description} without taking a slot of {self.limit_name} (was the limit "
                        "deleted or disabled meanwhile?); nothing is locked, so dtm stops here"
                    )
                return str(lease_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._locked_error(timeout)
            wait = parse_retry_after(response.headers.get("retry-after"))
            time.sleep(min(wait if wait is not None else DEFAULT_RETRY_SECONDS, remaining))

    def _record_holder(self, command: str, lease_id: str) -> None:
        value = {**holder_fields(command[:500]), "lease_id": lease_id}  # the variable holds 5000 characters
        # The slot is ours, so any variable still there is a dead holder's: overwrite it.
        response = self.api.call(
            "POST",
            "/variables/",
            json={"name": self.variable_name, "value": value, "tags": ["dtm", "dtm-lock"]},
            ok=(409,),
            what="record who holds the state's lock",
        )
        if response.status_code == 409:
            self.api.call(
                "PATCH",
                f"/variables/name/{self.variable_name}",
                json={"value": value},
                retry=True,
                what="record who holds the state's lock",
            )

    def _forget_holder(self) -> None:
        self.api.call(
            "DELETE", f"/variables/name/{self.variable_name}", ok=(404,), what="clear who holds the state's lock"
        )

    def _give_back(self, lease_id: str, *, strict: bool = False) -> None:
        """Free the slot of `lease_id` and revoke it; a lease already gone is a no-op on the server."""
        try:
            self.api.call(
                "POST",
                "/v2/concurrency_limits/decrement-with-lease",
                json={"lease_id": lease_id},
                retry=True,  # the server ignores a lease it no longer has, so a repeat frees nothing twice
                what="release the state's lock",
            )
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

    def _renew_loop(self, holding: _Holding) -> None:
        """Renew the lease until told to stop; a lease the server lost is taken again while still ours."""
        interval = self.renew_every
        while not holding.stop.wait(interval):
            try:
                response = self.api.call(
                    "POST",
                    f"/v2/concurrency_limits/leases/{holding.lease_id}/renew",
                    json={"lease_duration": self.lease_seconds},
                    ok=(404, 410),
                    retry=True,
                    what="renew the state's lock",
                )
                if response.status_code in (404, 410) and not self._recreate(holding):
                    holding.lost.set()
                    logger.error(
                        "the lock on state %s was lost: the server no longer has its lease (it expired or was "
                        "force-unlocked) and another run holds it or may take it; another run may now change "
                        "the state",
                        self.state_description,
                    )
                    return
            except StateError as exc:
                # The lease is still valid for a while: try again sooner rather than give up.
                logger.warning("could not renew the lock on state %s: %s", self.state_description, exc)
                interval = min(self.renew_every, RENEW_RETRY_SECONDS)
                continue
            interval = self.renew_every

    def _recreate(self, holding: _Holding) -> bool:
        """Take the lock again with a new lease after the server lost ours (a restart forgets leases kept in
        memory); True when this run holds the state again. Only while the holder record still names our
        lease: if it names another run, a force-unlock broke our lock and the state is theirs."""
        current = self.holder()
        if not current or current.get("lease_id") != holding.lease_id:
            return False
        if holding.stop.is_set():
            return True  # releasing: nothing to keep
        self._free_lost_slot(holding.lease_id)
        response = self.api.call(
            "POST",
            "/v2/concurrency_limits/increment-with-lease",
            json={"names": [self.limit_name], "slots": 1, "mode": "concurrency",
                  "lease_duration": self.lease_seconds},
            ok=(423,),
            what="take the state's lock again",
        )
        body = response.json() if response.status_code != 423 else {}
        granted = [lim.get("name") for lim in body.get("limits") or [] if isinstance(lim, dict)]
        if self.limit_name not in granted or not body.get("lease_id"):
            return False
        lease_id = str(body["lease_id"])
        self.api.call(
            "PATCH",
            f"/variables/name/{self.variable_name}",
            json={"value": {**current, "lease_id": lease_id}},
            retry=True,
            what="record who holds the state's lock",
        )
        holding.lease_id = lease_id
        logger.warning("the Prefect server lost the lease of the lock on state %s (was it restarted?); this run "
                       "took the lock again with a new lease", self.state_description)
        return True

    def _locked_error(self, timeout: float) -> StateLockedError:
        try:
            holder = self.holder()
        except StateError:
            holder = None
        waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
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
        return StateLockedError(f"state {self.state_description} is locked by {who}{waited}; {after}", holder=holder)
