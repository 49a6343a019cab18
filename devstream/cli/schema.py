"""`dtm schema`: the JSON Schema of a config, for editors and CI checks."""

from __future__ import annotations

import json
from pathlib import Path

from devstream.config.schema import config_schema, plugin_options_schema
from devstream.plugin.registry import default_registry

__all__ = ["schema"]


def schema(*, plugin: str | None = None, output: Path | None = None) -> int:
    """Print (or write to `output`) the config's JSON Schema, or one plugin's options schema."""
    if plugin is None:
        document = config_schema()
    else:
        document = plugin_options_schema(default_registry().plugin_class(plugin).Options)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
    return 0
