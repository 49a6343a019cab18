"""The built-in `devlake-config` plugin."""

from __future__ import annotations

from devstream.plugins.devlake_config.plugin import DevLakeConfigOptions, DevLakeConfigPlugin

__all__ = ["DevLakeConfigOptions", "DevLakeConfigPlugin"]
