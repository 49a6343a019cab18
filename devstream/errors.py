"""The one error hierarchy of dtm.

    DtmError                        every error a user can act on; the CLI exits 1 with its message
    ├── ConfigError                 the config is wrong; carries one Issue per problem (file, line, field)
    │   └── GraphError              the tools' dependencies do not form a graph
    │       ├── DependencyCycleError    the whole cycle is named
    │       └── UnknownDependencyError
    ├── UnresolvedReferenceError    an output reference names an output its tool does not have
    ├── RunInterrupted              Ctrl-C stopped a run; carries what finished and what did not (exit 130)
    ├── ChangesFailed               some changes of a run failed; carries the run's summary
    ├── DriftCheckFailed            a drift check could not read everything; carries its report
    ├── LocalServerError            dtm's local Prefect server could not be started or stopped
    ├── StateError                  the state cannot be read or written
    │   ├── PrefectUnavailableError     the Prefect server is gone or busy past dtm's retries
    │   └── StateLockedError        another run holds the state's lock; names the holder
    └── PluginError
        ├── PluginLoadError         a plugin is not installed or cannot be imported
        ├── PermanentError          a plugin call failed and retrying will not help
        │   ├── ImportNotSupportedError  `dtm import` of a tool whose plugin cannot adopt existing resources
        │   ├── RateLimitError      rate limited until a reset too far away to wait for; names the reset
        │   └── KubernetesError     the Kubernetes API refused a request; carries its Status (code, reason)
        └── TransientError          a plugin call failed and may succeed when retried
            ├── KubernetesConflictError  409 Conflict: the object changed since it was read; read it again
            └── KubernetesTimeoutError   a bounded wait (rollout, CRD established, deletion) ran out

    Exception (internal: caught inside the config loader and turned into a ConfigError with file and line)
    ├── BudgetExceeded              a config expanded past one of its limits
    └── TemplateFailure             a `[[ ]]` template could not be rendered

    ValueError (internal: raised by devstream.repourl, turned into an Issue or a pydantic error by its caller)
    └── RepoURLError                a repository's options name no repository; `field` says which key

tests/test_layout.py checks that this tree is the classes' true one and that no module defines an exception
class of its own (private control-flow exceptions, named with a leading underscore, excepted).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devstream.drift import DriftReport
    from devstream.outputs import Reference
    from devstream.summary import RunSummary

__all__ = [
    "BudgetExceeded",
    "ChangesFailed",
    "ConfigError",
    "DependencyCycleError",
    "ImportNotSupportedError",
    "describe_os_error",
    "DriftCheckFailed",
    "DtmError",
    "GraphError",
    "KubernetesConflictError",
    "KubernetesError",
    "KubernetesTimeoutError",
    "Issue",
    "LocalServerError",
    "PermanentError",
    "PluginError",
    "PluginLoadError",
    "PrefectUnavailableError",
    "RateLimitError",
    "RepoURLError",
    "RunInterrupted",
    "StateError",
    "StateLockedError",
    "TemplateFailure",
    "TransientError",
    "UnknownDependencyError",
    "UnresolvedReferenceError",
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


class RunInterrupted(DtmError):
    """Ctrl-C stopped a run: no change started after it, those in flight finished and are in the state.
    `summary` says which changes finished and which did not."""

    def __init__(self, summary: RunSummary):
        self.summary = summary
        super().__init__(f"{summary.operation} interrupted: {summary.line()}")


class UnresolvedReferenceError(DtmError):
    """A reference names an output the referenced tool does not have (or has not produced)."""

    def __init__(self, ref: Reference, reason: str):
        self.ref = ref
        super().__init__(f"{ref.path}: cannot resolve {ref}: {reason}")


class ChangesFailed(DtmError):
    """Some changes failed (and their dependents were skipped); the summary says which."""

    def __init__(self, summary: RunSummary):
        self.summary = summary
        failed = ", ".join(r.key for r in summary.of("failed"))
        skipped = ", ".join(r.key for r in summary.of("skipped"))
        text = f"{summary.operation} failed: {summary.line()}. Failed: {failed or '-'}"
        if skipped:
            text += f". Skipped (they depend on a failed change): {skipped}"
        super().__init__(text)


class DriftCheckFailed(DtmError):
    """A drift check could not read everything (or its remediation failed); the report says which."""

    def __init__(self, report: DriftReport):
        self.report = report
        from devstream.drift import DriftKind  # here: devstream.drift imports this module

        errors = ", ".join(r.key for r in report.of(DriftKind.ERROR))
        failed = ", ".join(r.key for r in report.resources if r.remediation in ("failed", "skipped"))
        parts = [f"drift check of {report.config_name} failed: {report.line()}"]
        if errors:
            parts.append(f"could not read: {errors}")
        if failed:
            parts.append(f"remediation did not succeed for: {failed}")
        super().__init__(". ".join(parts))


class LocalServerError(DtmError):
    """dtm's local Prefect server could not be started or stopped; the message says how to do without it."""


class StateError(DtmError):
    """The state cannot be read or written."""


class PrefectUnavailableError(StateError):
    """The Prefect server did not answer, or answered that it is busy (429, 502, 503), after dtm's retries."""


class StateLockedError(StateError):
    """Another run holds the state's lock."""

    def __init__(self, message: str, holder: dict[str, object] | None = None):
        self.holder = holder or {}
        super().__init__(message)


class PluginError(DtmError):
    """A plugin failed, or cannot be loaded.

    `traceback_text`: when the cause was an exception dtm did not expect (a plugin's bug), its traceback with
    secrets masked; `dtm --debug` prints it.
    """

    traceback_text: str | None = None


class PluginLoadError(PluginError):
    """A plugin named in the config is not installed or cannot be imported."""


class PermanentError(PluginError):
    """A plugin call failed in a way that retrying will not fix (bad input, conflict, denied)."""


class ImportNotSupportedError(PermanentError):
    """`dtm import` of a tool whose plugin cannot adopt an existing resource."""


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


class KubernetesError(PermanentError):
    """The Kubernetes API refused a request: `code` is the HTTP status, `reason` and `status` Kubernetes' own
    (NotFound, Invalid, Forbidden, AlreadyExists...); the message quotes the Status message."""

    def __init__(self, message: str, *, code: int = 0, reason: str = "", status: dict[str, object] | None = None):
        self.code = code
        self.reason = reason
        self.status = status or {}
        super().__init__(message)


class KubernetesConflictError(TransientError):
    """409 Conflict: the object changed since it was read (a stale resourceVersion). Transient: read it again,
    then write again, which the one retry policy does."""

    def __init__(self, message: str, *, status: dict[str, object] | None = None):
        self.status = status or {}
        super().__init__(message)


class KubernetesTimeoutError(TransientError):
    """A bounded wait on Kubernetes (a rollout, a CRD becoming established, a deletion) ran out; the message
    says what was still awaited. Transient: the change's retry looks again."""


class BudgetExceeded(Exception):
    """A config expanded past one of its limits; `message` says which and how to raise it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TemplateFailure(Exception):
    """A string could not be rendered. `word` helps find the line inside a multi-line string."""

    def __init__(self, message: str, word: str | None = None):
        super().__init__(message)
        self.message = message
        self.word = word


class RepoURLError(ValueError):
    """A repository's options (`url`, `scmType`, `owner`...) name no repository; `field` is the key to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# What a user can do about the errors the environment gives most often.
_OS_ADVICE = {
    errno.ENOSPC: "free some space on that disk, then run dtm again",
    errno.EDQUOT: "free some space within your disk quota, then run dtm again",
    errno.EFBIG: "the file grew past the size this process may write (ulimit -f); raise that limit",
    errno.EACCES: "give your user access to it (see its owner and mode with `ls -ld`), or use another path",
    errno.EPERM: "give your user access to it (see its owner and mode with `ls -ld`), or use another path",
    errno.EROFS: "the file system is read-only; use a path on a writable one",
    errno.ENOTDIR: "a part of the path is a file, not a folder; fix the path",
    errno.ELOOP: "a symbolic link on the path points back at itself; fix or remove the link",
    errno.EISDIR: "it is a folder; give a file",
    errno.EEXIST: "a file stands where a folder is needed; move it or fix the path",
}


def describe_os_error(exc: OSError, doing: str | None = None) -> str:
    """`cannot write /x/state: No space left on device (ENOSPC); free some space...`: an OSError for a user.

    `doing` says what dtm was doing ("write the state file"); the path comes from the error itself.
    """
    code = exc.errno if isinstance(exc.errno, int) else None
    cause = exc.strerror or str(exc)
    if code is not None and code in errno.errorcode:
        cause = f"{cause} ({errno.errorcode[code]})"
    paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
    subject = f"cannot {doing}" if doing else "the system refused an operation"
    where = f": {' -> '.join(paths)}" if paths else ""
    advice = _OS_ADVICE.get(code) if code is not None else None
    return f"{subject}{where}: {cause}" + (f"; {advice}" if advice else "")
