"""Whether the status a CI plugin recorded (`ctx.prior`) is of the place its options name now.

github-actions and gitlab-ci keep in their status the place they write to: a repository (a GitLab project)
and a branch. They trust the recorded status (the files, secrets or variables dtm made) only in that place.
When the options move the tool elsewhere, what dtm made in the old place is left there: dtm does not act on
a place the tool has left (the token the options give now may not reach it), and a warning names the old
place and what is left in it.

A status recorded before a plugin kept its place names none: it is of no known place (nothing in it is used
and no warning is given). `as_recorded` lets a read leave out the fields such a record lacks (the place, and
repo-scaffolding's `created`, `repoID` and `commit`), so the planner, which compares every status field, sees
no drift; the next create or update records them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from devstream.plugin.base import PluginContext, ResourceStatus

__all__ = ["Place", "as_recorded", "prior_is_here"]


@dataclass(frozen=True)
class Place:
    """A repository (or project) and a branch. Repository names compare without case, as on GitHub and GitLab.

    The branch is None only in a hand-edited record; it then matches no branch.
    """

    repository: str
    branch: str | None

    def same_repository(self, other: Place) -> bool:
        return self.repository.lower() == other.repository.lower()

    def __str__(self) -> str:
        return f"{self.repository} (branch {self.branch})"


def prior_is_here(ctx: PluginContext, recorded: Place | None, here: Place, left: str) -> bool:
    """Whether the recorded status is of `here`, so that what it names may be acted on.

    `recorded` is the place the status names, None when it names none (it predates the field): not here,
    and no warning. A status of another place is not here, and a warning says that `left` (what dtm made
    there, such as "the workflows and secrets") stays in that place and how to remove it.
    """
    if recorded is None:
        return False
    if recorded.same_repository(here) and recorded.branch == here.branch:
        return True
    ctx.logger.warning("%s: the tool moved from %s to %s; what dtm made in the old place is left there: %s. dtm "
                       "does not act on a place the tool has left (its token may differ): remove these there by "
                       "hand, or, next time, delete the tool before moving it (take it out of the config and apply, "
                       "then add it back)", ctx.key, recorded, here, left)
    return False


def as_recorded(status: ResourceStatus, prior: ResourceStatus | None, fields: Iterable[str]) -> ResourceStatus:
    """`status` without those of `fields` that the recorded status lacks (a record from before a plugin kept
    them), so that a read of an unchanged resource gives what was recorded. Without a record, all of it."""
    if prior is None:
        return status
    newer = set(fields) - set(prior)
    return {key: value for key, value in status.items() if key not in newer}
