"""The conformance suite as pytest tests: subclass `PluginConformance` and give it a `harness` fixture.

    from devstream.testing import Harness, PluginConformance

    class TestMyPlugin(PluginConformance):
        @pytest.fixture
        def harness(self, tmp_path):
            return Harness(plugin=MyPlugin(), options={...}, context=PluginContext(...))

Every check of `devstream.testing.CHECKS` becomes one test of the subclass; a check that does not apply to
the harness (say, no way to make the system fail transiently) is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstream.testing.checks import CHECKS, Check, Harness

__all__ = ["PluginConformance"]


def _test(check: Check) -> Callable[[Any, Harness], None]:
    def test(self: Any, harness: Harness) -> None:
        reason = check.run(harness)
        if reason is not None:
            import pytest  # only when a check is skipped: the suite is importable without pytest

            pytest.skip(reason)

    test.__name__ = f"test_{check.name}"
    test.__doc__ = check.description
    return test


class PluginConformance:
    """Base class of a plugin's conformance tests: one test per check; the subclass gives a `harness`
    fixture that returns a fresh `Harness` (a fresh test double) for every test."""


for _check in CHECKS:
    setattr(PluginConformance, f"test_{_check.name}", _test(_check))
