"""A plugin base for the config tests, which only load configs.

(A module of its own, not conftest.py, so that a test can import it by name.)
"""

from __future__ import annotations

from typing import Any

from devstream.plugin import Plugin


class OptionsOnlyPlugin(Plugin[Any]):
    """The config tests only load configs: these plugins' calls return the options as the status, and nothing
    exists outside dtm."""

    def create(self, options: Any, ctx: Any) -> dict[str, Any]:
        return options.model_dump()

    def read(self, options: Any, ctx: Any) -> dict[str, Any] | None:
        return ctx.prior

    def update(self, options: Any, ctx: Any) -> dict[str, Any]:
        return options.model_dump()

    def delete(self, options: Any, ctx: Any) -> None:
        return None
