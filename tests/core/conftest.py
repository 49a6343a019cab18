"""Core fixtures: a Config built in memory from tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstream.config.models import Config, StateConfig, ToolSpec


@pytest.fixture
def config(tmp_path: Path):
    def build(*tools: ToolSpec) -> Config:
        return Config(path=Path("x.yaml"), workdir=tmp_path, name="x", state=StateConfig(), vars={},
                      tools=list(tools))
    return build
