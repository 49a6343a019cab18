"""Shared helpers for the config tests: YAML files in a temp folder, and two tiny plugins.

The plugins are defined here (not taken from the built-in ones) so that these tests only depend on the
config loader and the plugin SDK.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from options_only import OptionsOnlyPlugin
from pydantic import BaseModel, ConfigDict

from devstream.config import Config, load_config
from devstream.errors import ConfigError, Issue
from devstream.plugin.registry import PluginRegistry


class GreeterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    times: int = 1
    greeting: str = "hello"


class GreeterPlugin(OptionsOnlyPlugin):
    """Writes a greeting; says in advance that it returns the outputs `url` and `id`."""

    name = "greeter"
    Options = GreeterOptions

    def output_keys(self, options: GreeterOptions) -> set[str] | None:
        return {"url", "id"}


class AnythingOptions(BaseModel):
    model_config = ConfigDict(extra="allow")


class AnythingPlugin(OptionsOnlyPlugin):
    """Takes any options; cannot tell its outputs in advance."""

    name = "anything"
    Options = AnythingOptions


@pytest.fixture
def registry() -> PluginRegistry:
    return PluginRegistry({"greeter": GreeterPlugin, "anything": AnythingPlugin}, use_entry_points=False)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write("a/b.yaml", text): the text, dedented, in tmp_path/a/b.yaml. Line 1 is the text's first line."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(registry: PluginRegistry) -> Callable[..., Config]:
    """load_config with the test plugins and an empty environment unless one is given."""

    def _load(path: Path, environ: dict[str, str] | None = None, **kwargs: Any) -> Config:
        return load_config(path, registry=registry, environ=environ or {}, **kwargs)

    return _load



@pytest.fixture
def problems(load: Callable[..., Config]) -> Callable[..., list[Issue]]:
    """problems(path, ...): the issues of the ConfigError that loading `path` raises."""

    def _problems(path: Path, environ: dict[str, str] | None = None, **kwargs: Any) -> list[Issue]:
        with pytest.raises(ConfigError) as error:
            load(path, environ, **kwargs)
        return error.value.issues

    return _problems


@pytest.fixture
def problem(problems: Callable[..., list[Issue]]) -> Callable[..., Issue]:
    """problem(path, ...): the one issue loading `path` reports (fails if there are more or fewer)."""

    def _problem(path: Path, environ: dict[str, str] | None = None, **kwargs: Any) -> Issue:
        issues = problems(path, environ, **kwargs)
        assert len(issues) == 1, [str(i) for i in issues]
        return issues[0]

    return _problem
