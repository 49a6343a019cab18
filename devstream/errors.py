"""The one error hierarchy of dtm.

    DtmError                      every error a user can act on; the CLI exits 1 with its message
    ├── ConfigError               the config is wrong; carries one Issue per problem (file, line, field)
    ├── GraphError
    │   ├── DependencyCycleError  the whole cycle is named
    │   └── UnknownDependencyError
    ├── StateError                the state cannot be read or written
    │   └── StateLockedError      another run holds the state's lock; names the holder
    └── PluginError
        ├── PluginLoadError       a plugin is not installed or cannot be imported
        ├── PermanentError        a plugin call failed and retrying will not help
        │   └── RateLimitError    rate limited until a reset too far away to wait for; names the reset
        └── TransientError        a plugin call failed and may succeed when retried
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ConfigError",
    "DependencyCycleError",
    "DtmError",
    "GraphError",
    "Issue",
    "PermanentError",
    "PluginError",
    "PluginLoadError",
    "RateLimitError",
    "StateError",
    "StateLockedError",
    "TransientError",
    "UnknownDependencyError",
]


class DtmError(Exception):
    """An error the user can act on: the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Issue:
    """One problem in the config, located as precisely as the config allows."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}" if where else f"{field.strip()} {self.message}".strip()

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class ConfigError(DtmError):
    """The config is wrong. Nothing has been read or written when this is raised."""

    def __init__(self, issues: list[Issue] | Issue | str):
        if isinstance(issues, str):
            issues = [Issue(issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = issues
        super().__init__("\n".join(str(i) for i in issues))


class GraphError(ConfigError):
    """The tools' dependencies do not form a valid graph."""


class DependencyCycleError(GraphError):
    """The dependencies loop; `cycle` lists the keys in order, the first repeated at the end."""

    def __init__(self, cycle: list[str], issue: Issue | None = None):
        self.cycle = cycle
        text = "dependency cycle: " + " -> ".join(cycle) + "; remove one of these dependsOn entries or references"
        super().__init__(issue or Issue(text))


class UnknownDependencyError(GraphError):
    """A dependsOn entry or an output reference names a tool that is not in the config."""


class StateError(DtmError):
    """The state cannot be read or written."""


class StateLockedError(StateError):
    """Another run holds the state's lock."""

    def __init__(self, message: str, holder: dict[str, object] | None = None):
        self.holder = holder or {}
        super().__init__(message)


class PluginError(DtmError):
    """A plugin failed, or cannot be loaded."""


class PluginLoadError(PluginError):
    """A plugin named in the config is not installed or cannot be imported."""


class PermanentError(PluginError):
    """A plugin call failed in a way that retrying will not fix (bad input, conflict, denied)."""


class RateLimitError(PermanentError):
    """A server's rate limit is used up until `resets_at`, further away than dtm waits (DTM_RATE_LIMIT_WAIT).

    Not transient: retrying before the reset is refused again (and GitHub may block a client that keeps
    trying), so the message names the reset and the run fails at once.
    """

    def __init__(self, message: str, resets_at: datetime | None = None):
        self.resets_at = resets_at
        super().__init__(message)


class TransientError(PluginError):
    """A plugin call failed in a way that may pass when retried (timeout, 429, 5xx, a busy lock)."""
