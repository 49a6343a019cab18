"""The REST calls under the `prefect` state's lock: one global concurrency limit and one Variable.

`LeaseLock` (lease.py) decides when to take, renew and give back; this module only says how, in the words
of the server's API (see its `api/concurrency_limits_v2.py` and `api/variables.py`):

- the limit `limit_name` (1 slot) is taken with `increment-with-lease`, which answers a lease id, or 423
  LOCKED with `Retry-After`; a lease is renewed, and given back with `decrement-with-lease`;
- the Variable `variable_name` records the holder, so a refused run can name it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from devstream.errors import StateError
from devstream.plugin.http import parse_retry_after
from devstream.prefect_boundary.rest import PrefectApi

__all__ = ["Grant", "LimitApi"]

logger = logging.getLogger("devstream.state")

# A run that takes a slot records itself as the holder within milliseconds; a slot still taken this long
# after a dead holder's lease was found gone, with that holder still on record, is the lost lease's slot.
LOST_SLOT_CONFIRM_SECONDS = 1.0
# The server refuses leases shorter than a minute or longer than a day (`lease_duration`, ge=60, le=86400).
MIN_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Grant:
    """The answer to `increment-with-lease`: a lease id; or `locked` (423) with the server's Retry-After."""

    lease_id: str | None
    locked: bool = False
    retry_after: float | None = None
    granted_other: str | None = None  # a lease id granted without a slot of our limit (the trap below)


class LimitApi:
    """The limit `limit_name` and the holder Variable `variable_name` on the server behind `api`."""

    def __init__(self, api: PrefectApi, *, limit_name: str, variable_name: str, state_description: str) -> None:
        self.api = api
        self.limit_name = limit_name
        self.variable_name = variable_name
        self.state_description = state_description

    # -- the holder Variable ----------------------------------------------------------------------------

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock as recorded in its variable; None if no holder is recorded."""
        response = self.api.call(
            "GET", f"/variables/name/{self.variable_name}", ok=(404,), what="read who holds the state's lock"
        )
        if response.status_code == 404:
            return None
        value = response.json().get("value")
        return value if isinstance(value, dict) else {}

    def record_holder(self, value: dict[str, Any]) -> None:
        """Write the holder record, over any record a dead holder left (the slot is ours)."""
        response = self.api.call(
            "POST",
            "/variables/",
            json={"name": self.variable_name, "value": value, "tags": ["dtm", "dtm-lock"]},
            ok=(409,),
            what="record who holds the state's lock",
        )
        if response.status_code == 409:
            self.update_holder(value)

    def update_holder(self, value: dict[str, Any]) -> None:
        self.api.call("PATCH", f"/variables/name/{self.variable_name}", json={"value": value}, retry=True,
                      what="record who holds the state's lock")

    def forget_holder(self) -> None:
        self.api.call(
            "DELETE", f"/variables/name/{self.variable_name}", ok=(404,), what="clear who holds the state's lock"
        )

    # -- the limit --------------------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        response = self.api.call(
            "GET", f"/v2/concurrency_limits/{self.limit_name}", ok=(404,), what="read the state's lock"
        )
        return None if response.status_code == 404 else dict(response.json())

    def active_slots(self) -> int:
        limit = self.read()
        return int(limit.get("active_slots") or 0) if limit is not None else 0

    def ensure(self) -> None:
        """Create the limit if it is missing, then check it is a real lock: active, 1 slot, no decay.

        A limit that does not exist, or is inactive, lets every caller in with a 200 and no slot taken.
        """
        limit = self.read()
        if limit is None:
            # Read first, create second: a duplicate create is a 409 that the server also logs as an error.
            response = self.api.call(
                "POST",
                "/v2/concurrency_limits/",
                json={"name": self.limit_name, "limit": 1, "active": True},
                ok=(409,),
                what="create the state's lock",
            )
            limit = self.read() if response.status_code == 409 else dict(response.json())
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

    def take(self, lease_seconds: float, what: str = "take the state's lock") -> Grant:
        """Ask once for the limit's slot with a lease of `lease_seconds`.

        Not retried on a 500 or 504: a lost answer to a granted request would leave a slot we do not know
        of. A 503 is the server saying its database was busy: the transaction rolled back, nothing was
        granted, so the API client asks again (and a slot taken all the same would expire with its lease).
        """
        response = self.api.call(
            "POST",
            "/v2/concurrency_limits/increment-with-lease",
            json={"names": [self.limit_name], "slots": 1, "mode": "concurrency", "lease_duration": lease_seconds},
            ok=(423,),
            what=what,
        )
        if response.status_code == 423:
            return Grant(None, locked=True, retry_after=parse_retry_after(response.headers.get("retry-after")))
        body = response.json()
        granted = [lim.get("name") for lim in body.get("limits") or [] if isinstance(lim, dict)]
        lease_id = body.get("lease_id")
        if self.limit_name not in granted or not lease_id:
            # The trap: a missing or inactive limit is "granted" with nothing locked.
            return Grant(None, granted_other=str(lease_id) if lease_id else None)
        return Grant(str(lease_id))

    def renew(self, lease_id: str, lease_seconds: float, *, gone: tuple[int, ...] = (404, 410),
              what: str = "renew the state's lock") -> bool:
        """Renew a lease; False when the server answers one of `gone` (it no longer has the lease)."""
        response = self.api.call(
            "POST",
            f"/v2/concurrency_limits/leases/{lease_id}/renew",
            json={"lease_duration": lease_seconds},
            ok=gone,
            retry=True,
            what=what,
        )
        return response.status_code < 400

    def lease_exists(self, lease_id: str) -> bool:
        """Whether the server still has this lease (renewing the lease of a holder known dead harms nobody)."""
        return self.renew(lease_id, MIN_LEASE_SECONDS, gone=(404, 410, 422), what="check the lease of the state's lock")

    def give_back(self, lease_id: str) -> None:
        """Free the slot of `lease_id` and revoke it; a lease already gone is a no-op on the server."""
        self.api.call(
            "POST",
            "/v2/concurrency_limits/decrement-with-lease",
            json={"lease_id": lease_id},
            retry=True,  # the server ignores a lease it no longer has, so a repeat frees nothing twice
            what="release the state's lock",
        )

    def reset(self) -> None:
        """Set the limit's active slots to 0 (a slot whose lease the server lost)."""
        self.api.call(
            "PATCH",
            f"/v2/concurrency_limits/{self.limit_name}",
            json={"active_slots": 0},
            what="reset the state's lock",
        )

    def free_lost_slot(self, lease_id: str) -> None:
        """Give back the slot of a lease the server no longer has, if the slot is still taken.

        A lease that expired was freed by the server's repossessor already (no slot left). A slot still
        taken while the holder record still names the lost lease is that lease's, kept by a server that
        restarted: reset the limit, as force-unlock does. Checked twice, a moment apart, so a run that has
        just taken the freed slot and not yet recorded itself is never reset.
        """
        for confirm in (False, True):
            if confirm:
                time.sleep(LOST_SLOT_CONFIRM_SECONDS)
            slots = self.active_slots()
            current = self.holder()
            if not slots or (current or {}).get("lease_id") != lease_id:
                return
        self.reset()
        logger.warning("freed the slot of the lock on state %s: the Prefect server no longer has the lease "
                       "that held it (was it restarted?)", self.state_description)
