"""Find plugins through the `devstream.plugins` entry point group.

Built-in plugins register the same way as third-party ones (see pyproject.toml). Each entry point is
loaded on its own: one broken plugin is reported, it does not hide the others.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from devstream.errors import PluginLoadError
from devstream.plugin.base import Plugin

__all__ = ["ENTRY_POINT_GROUP", "PluginRegistry", "check_plugin_class", "default_registry", "use_plugin_dir"]

ENTRY_POINT_GROUP = "devstream.plugins"


class PluginRegistry:
    """Plugin classes by name; loads entry points lazily and caches the instances."""

    def __init__(self, plugins: dict[str, type[Plugin[Any]]] | None = None, *, use_entry_points: bool = True):
        self._classes: dict[str, type[Plugin[Any]]] = dict(plugins or {})
        for name, cls in self._classes.items():
            check_plugin_class(cls, name, getattr(cls, "__qualname__", repr(cls)))
        self._entry_points: dict[str, EntryPoint] = {}
        self._use_entry_points = use_entry_points
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._entry_points.setdefault(ep.name, ep)
        self._instances: dict[str, Plugin[Any]] = {}
        self.load_errors: dict[str, str] = {}

    def rescan(self) -> None:
        """Find entry points installed since this registry was made (e.g. a plugin folder added to sys.path)."""
        if not self._use_entry_points:
            return
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            self._entry_points.setdefault(ep.name, ep)

    def register(self, cls: type[Plugin[Any]], name: str | None = None) -> None:
        check_plugin_class(cls, name or cls.name, f"{cls.__module__}:{cls.__qualname__}")
        self._classes[name or cls.name] = cls
        self._instances.pop(name or cls.name, None)

    def names(self) -> list[str]:
        return sorted(set(self._classes) | set(self._entry_points))

    def __contains__(self, name: object) -> bool:
        return name in self._classes or name in self._entry_points

    def plugin_class(self, name: str) -> type[Plugin[Any]]:
        if name in self._classes:
            return self._classes[name]
        ep = self._entry_points.get(name)
        if ep is None:
            installed = ", ".join(self.names()) or "none"
            raise PluginLoadError(
                f"unknown plugin '{name}'; installed plugins: {installed}. "
                f"Check the spelling, or install the package that provides it and run `dtm list plugins`"
            )
        try:
            cls: type[Plugin[Any]] = ep.load()
        except Exception as exc:  # any import failure of a third-party package
            self.load_errors[name] = f"{type(exc).__name__}: {exc}"
            raise PluginLoadError(f"plugin '{name}' ({ep.value}) failed to load: {exc}") from exc
        try:
            check_plugin_class(cls, name, ep.value)
        except PluginLoadError as exc:
            self.load_errors[name] = str(exc)
            raise
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> Plugin[Any]:
        if name not in self._instances:
            self._instances[name] = self.plugin_class(name)()
        return self._instances[name]

    def source(self, name: str) -> str:
        """Where a plugin comes from: the entry point's module path."""
        if name in self._entry_points:
            ep = self._entry_points[name]
            dist = getattr(ep, "dist", None)
            return f"{ep.value} ({dist.name} {dist.version})" if dist else ep.value
        cls = self._classes.get(name)
        return f"{cls.__module__}:{cls.__qualname__}" if cls else "?"


def check_plugin_class(cls: object, name: str, where: str) -> None:
    """Refuse what cannot work as a plugin, when it is loaded rather than when a change first calls it."""
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginLoadError(f"plugin '{name}' ({where}) is not a devstream.plugin.Plugin subclass")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise PluginLoadError(
            f"plugin '{name}' ({where}) does not implement {', '.join(missing)}: every plugin implements create, "
            f"read, update and delete (see devstream.plugin.Plugin)")
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise PluginLoadError(f"plugin '{name}' ({where}): Options must be a pydantic model (subclass "
                              f"devstream.plugin.PluginOptions), not {options!r}")


_default: PluginRegistry | None = None


def use_plugin_dir(path: str | Path) -> Path:
    """Put a plugin folder (`dtm init -d`) on sys.path and let the registry find the plugins installed there."""
    folder = Path(path).expanduser().resolve()
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
        importlib.invalidate_caches()
        if _default is not None:
            _default.rescan()
    return folder


def default_registry() -> PluginRegistry:
    """The process-wide registry built from the installed entry points."""
    global _default
    if _default is None:
        _default = PluginRegistry()
    return _default
