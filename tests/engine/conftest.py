"""Engine fixtures: the probe plugin registered, configs written to a temp folder, the CLI's functions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from probe import CALLS, READS, ProbePlugin

from devstream.cli import render
from devstream.plugin.registry import default_registry


@pytest.fixture(autouse=True)
def probe() -> list:
    default_registry().register(ProbePlugin)
    CALLS.clear()
    READS.clear()
    ProbePlugin.exists.clear()
    from devstream.plugins.noop import NoopPlugin

    NoopPlugin.reset_counters()
    return CALLS


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.console, "width", 200)


WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write a config of these tools (dicts) and return its path; call again to edit it."""

    def write(tools: list[dict[str, Any]], **extra: Any) -> Path:
        path = tmp_path / "dtm.yaml"
        doc = {"config": {"state": {"backend": "local"}}, **extra, "tools": tools}
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return write

