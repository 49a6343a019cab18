"""The built-in `file` plugin."""

from __future__ import annotations

from devstream.plugins.file.plugin import FileOptions, FilePlugin

__all__ = ["FileOptions", "FilePlugin"]
