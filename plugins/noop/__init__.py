"""The built-in `noop` plugin."""

from __future__ import annotations

from devstream.plugins.noop.plugin import NoopOptions, NoopPlugin

__all__ = ["NoopOptions", "NoopPlugin"]
