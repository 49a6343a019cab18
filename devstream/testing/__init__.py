"""The conformance suite every dtm plugin passes, built-in or third-party.

A plugin's tests give a `Harness`: the plugin, options for a resource, and a context whose calls reach a
test double of the plugin's system (a stand-in API, a temporary folder, a local git remote). The suite
checks that create -> read returns what create returned; read after delete is None; update to the same
options changes nothing; read of what never existed is None; every option has a description; secret
options are SecretStr and never appear in a status or an error; transient and permanent failures are
raised as `TransientError` and `PermanentError`; the Options model's JSON Schema is valid.

With pytest, subclass `PluginConformance` and define a `harness` fixture; without it, `run_checks`
returns the result of each check (`dtm develop validate-plugin` uses it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devstream.testing.checks import CHECKS, Check, FailureKind, Harness
from devstream.testing.doubles import failing_http_context, http_failures
from devstream.testing.suite import PluginConformance

__all__ = ["CHECKS", "Check", "CheckResult", "FailureKind", "Harness", "PluginConformance", "failing_http_context",
           "http_failures", "run_checks"]


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: "passed", "failed" or "skipped", with the reason for the last two."""

    check: Check
    outcome: str
    detail: str = ""


def run_checks(make_harness: Callable[[], Harness], *, system: bool = True) -> list[CheckResult]:
    """Run every check, each on a fresh harness from `make_harness()`; only the class checks when `system`
    is False (no test double)."""
    results = []
    for check in CHECKS:
        if check.needs_system and not system:
            results.append(CheckResult(check, "skipped", "needs a test double of the plugin's system"))
            continue
        try:
            reason = check.run(make_harness())
        except AssertionError as exc:
            results.append(CheckResult(check, "failed", str(exc)))
        except Exception as exc:  # a plugin bug is a failed check, not a crash of the suite
            results.append(CheckResult(check, "failed", f"{type(exc).__name__}: {exc}"))
        else:
            results.append(CheckResult(check, "skipped" if reason else "passed", reason or ""))
    return results
