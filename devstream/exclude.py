"""`--exclude KEY`: leave tools out of a plan, and with them every change that cannot be made without them.

A change that waits for an excluded change is excluded too: on apply, a tool that depends on an excluded
one (it would be created or updated before what it needs); on delete and destroy, a tool that an excluded
one depends on (deleting it would pull the ground from under the tool that stays). One exception: apply
orders every create and update after the plan's deletes (so a renamed resource is never created and then
deleted), an order, not a dependency, so excluding a delete leaves the creates alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from devstream.errors import DtmError
from devstream.plan import Action, Change, Plan

__all__ = ["Excluded", "check_keys", "exclude"]


@dataclass(frozen=True)
class Excluded:
    """A change left out of the plan, and why."""

    key: str
    reason: str


def check_keys(keys: Iterable[str], known: Iterable[str], example: str | None) -> list[str]:
    """The keys, refused when one names no tool of the config or the state (a typo would exclude nothing)."""
    wanted = list(dict.fromkeys(keys))
    known_keys = set(known)
    unknown = [k for k in wanted if k not in known_keys]
    if unknown:
        hint = f", e.g. {example}" if example else ""
        raise DtmError(f"--exclude {', '.join(unknown)}: no such tool in the config or the state; "
                       f"tools are named name.instanceID{hint}")
    return wanted


def _needs(change: Change, by_key: Mapping[str, Change]) -> list[str]:
    """The changes `change` really needs made first (see the module's docstring for the one exception)."""
    if change.action is Action.DELETE:
        return list(change.waits_for)
    return [k for k in change.waits_for if k in by_key and by_key[k].action is not Action.DELETE]


def exclude(plan: Plan, keys: Iterable[str]) -> tuple[Plan, list[Excluded]]:
    """The plan without the changes of `keys` and of every change that needs one of them; and what was left
    out, in plan order, each with its reason."""
    by_key = {c.key: c for c in plan.changes}
    reasons: dict[str, str] = {k: "--exclude" for k in keys if k in by_key}
    # A plan lists each change after what it waits for, so one pass usually sees every chain; the loop
    # makes sure of it whatever the order.
    grew = True
    while grew:
        grew = False
        for change in plan.changes:
            if change.key in reasons:
                continue
            blocked = [k for k in _needs(change, by_key) if k in reasons]
            if blocked:
                grew = True
                if change.action is Action.DELETE:
                    reasons[change.key] = f"{blocked[0]} depends on it and stays"
                else:
                    reasons[change.key] = f"depends on {blocked[0]}, which is excluded"
    kept = [c.model_copy(update={"waits_for": [w for w in c.waits_for if w not in reasons]})
            for c in plan.changes if c.key not in reasons]
    out = [Excluded(c.key, reasons[c.key]) for c in plan.changes if c.key in reasons]
    return Plan(operation=plan.operation, changes=kept), out
