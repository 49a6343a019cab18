"""A tool's options as each step needs them: validated for a plugin call, or as state keeps them.

The planner, the state view and the executor all turn a tool's options into one of these forms; this is
the one place that knows how (the plugin's `Options` model, secrets fingerprinted by their field types).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from devstream.config.models import ToolSpec
from devstream.errors import PermanentError
from devstream.outputs import find_references
from devstream.plugin.base import Plugin
from devstream.plugin.registry import PluginRegistry
from devstream.secrets import redact, redact_by_schema

__all__ = ["ToolOptions", "implicit_deps"]


def implicit_deps(tool: ToolSpec) -> list[str]:
    """The tools whose outputs `tool`'s options reference."""
    return [r.tool_key for r in find_references(tool.options)]


class ToolOptions:
    """Options of the registry's plugins: validated, stored (secrets as fingerprints), and the systems they call."""

    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry

    def plugin(self, name: str) -> Plugin:
        return self.registry.get(name)

    def model(self, name: str, options: Mapping[str, Any], key: str) -> BaseModel:
        try:
            return self.plugin(name).Options.model_validate(dict(options))
        except ValidationError as exc:
            # Only reachable when a resolved output does not fit the option (load time checked the rest).
            errors = "; ".join(f"options.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise PermanentError(f"{key}: options are not valid after resolving outputs: {errors}") from None

    def stored_form(self, name: str, resolved: dict[str, Any]) -> dict[str, Any]:
        """Options as state keeps them: references resolved, secrets fingerprinted."""
        options_model = self.plugin(name).Options
        try:
            model = options_model.model_validate(resolved)
        except ValidationError:
            # An unresolved reference does not validate yet: hide secrets by the model's field types.
            return redact_by_schema(resolved, options_model)
        return redact(resolved, model)

    def systems(self, name: str, options: Mapping[str, Any]) -> frozenset[str]:
        """The external systems a plugin calls for these options (see Plugin.systems); none when it cannot say."""
        try:
            return frozenset(self.plugin(name).systems(options))
        except Exception:  # a tag is a convenience: never worth failing a run over
            return frozenset()
