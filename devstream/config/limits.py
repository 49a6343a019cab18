"""How much a config may hold, so that a small file cannot make dtm run for minutes or exhaust memory.

A YAML alias (`*a`) repeats what its anchor holds: nine lines of aliases of aliases expand to a billion
values (the "billion laughs"). dtm counts what a config expands to, aliases included, as it builds it, and
stops at the first limit passed, naming the limit and how to raise it. Each limit is an environment
variable (a positive integer); the defaults are far above any real toolchain (a 5,000-tool config is about
1 MB and 40,000 values).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devstream.errors import BudgetExceeded

__all__ = ["Budget", "Limit", "Limits", "MAX_DEPTH", "non_finite"]

MAX_DEPTH = 100
"""How deeply maps and lists may nest in a config (deeper data would exhaust Python's stack later on)."""


@dataclass(frozen=True)
class Limit:
    """One bound: its environment variable, its value, and the unit it counts in."""

    variable: str
    value: int
    unit: str

    def exceeded(self, what: str) -> str:
        """The message for `what` passing this limit: which limit, and how to raise it."""
        return (f"{what} exceeds the limit of {self.value:,} {self.unit} ({self.variable}); make the config "
                f"smaller, or raise the limit if this is intended: export {self.variable}=<a larger number>")


_DEFAULTS = {
    "DTM_MAX_CONFIG_BYTES": (16 * 1024 * 1024, "bytes"),
    "DTM_MAX_CONFIG_VALUES": (1_000_000, "values"),
    "DTM_MAX_VALUE_BYTES": (1024 * 1024, "bytes"),
}


class Limits:
    """The limits in force, read from the environment (os.environ unless given)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.errors: list[str] = []
        found = {}
        for name, (default, unit) in _DEFAULTS.items():
            raw = env.get(name, "").strip()
            value = default
            if raw:
                try:
                    value = int(raw.replace("_", ""))
                except ValueError:
                    value = 0
                if value <= 0:
                    self.errors.append(f"{name}={raw!r} is not a positive whole number; set it to one (the "
                                       f"default is {default:,}) or unset it")
                    value = default
            found[name] = Limit(name, value, unit)
        self.config_bytes = found["DTM_MAX_CONFIG_BYTES"]
        """The config's files together, and all the text they expand to through aliases."""
        self.config_values = found["DTM_MAX_CONFIG_VALUES"]
        """Maps, lists and scalars, counting what an alias repeats each time it is used."""
        self.value_bytes = found["DTM_MAX_VALUE_BYTES"]
        """One string, as written or as rendered."""


class Budget:
    """What a config's documents expand to together; `reserve` raises when a limit would be passed."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.values = 0
        self.text = 0

    def reserve(self, values: int, text: int) -> None:
        """Count a document of `values` maps, lists and scalars holding `text` characters (aliases expanded)."""
        self.values += values
        self.text += text
        if self.values > self.limits.config_values.value:
            raise BudgetExceeded(self.limits.config_values.exceeded(
                f"the config, with its aliases (*name) expanded, holds {self.values:,} values, which"))
        if self.text > self.limits.config_bytes.value:
            raise BudgetExceeded(self.limits.config_bytes.exceeded(
                f"the config, with its aliases (*name) expanded, holds {self.text:,} characters of text, which"))


def non_finite(value: Any) -> bool:
    """Whether `value` holds a NaN or an infinity anywhere (JSON has neither)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(non_finite(v) for v in value)
    return False
