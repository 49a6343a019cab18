"""The built-in `ci-generic` plugin."""

from __future__ import annotations

from devstream.plugins.ci_generic.plugin import CIConfig, CIGenericOptions, CIGenericPlugin

__all__ = ["CIConfig", "CIGenericOptions", "CIGenericPlugin"]
