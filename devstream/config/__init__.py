"""The config: load a YAML file or a folder of them into a validated `Config`.

    from devstream.config import load_config
    config = load_config("config.yaml")

`load_config` and `expand_apps` are imported on first use, so that importing the models (as graph.py and
the state package do) stays cheap and free of import cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devstream.config.models import BACKENDS, Config, Location, StateConfig, ToolSpec

if TYPE_CHECKING:
    from devstream.config.apps import expand_apps
    from devstream.config.loader import load_config

__all__ = ["BACKENDS", "Config", "Location", "StateConfig", "ToolSpec", "expand_apps", "load_config"]


def __getattr__(name: str) -> Any:
    if name == "load_config":
        from devstream.config.loader import load_config

        return load_config
    if name == "expand_apps":
        from devstream.config.apps import expand_apps

        return expand_apps
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
