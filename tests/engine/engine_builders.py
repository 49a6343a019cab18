"""Builders for the engine tests."""

from __future__ import annotations

from typing import Any


def tool(name: str, instance: str, depends: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {"name": name, "instanceID": instance, "dependsOn": depends or [], "options": options}
