"""Every config a test loads successfully must validate against `dtm schema`'s JSON Schema, as an editor
reads it (the YAML of each file, before dtm renders it).

tests/conftest.py watches `load_config` for the whole run (`watch_loaded_configs`): the files of each load
that succeeds are checked after the test, which fails naming the file and the schema's complaint. Configs
that use plugins the tests define for themselves (not installed) are not checked: the schema knows only
installed plugins.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml


@functools.cache
def validator() -> Any:
    from jsonschema import Draft202012Validator

    from devstream.config.schema import config_schema

    return Draft202012Validator(config_schema())


@functools.cache
def installed() -> frozenset[str]:
    from devstream.plugin.registry import default_registry

    return frozenset(default_registry().names())


def problems(path: Path) -> list[str]:
    """What the schema finds wrong in one config file (its YAML documents as an editor reads them)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, yaml.YAMLError):
        return []  # gone already, or YAML only dtm's reader accepts: nothing an editor could check either
    found = []
    for doc in documents:
        tools = doc.get("tools") if isinstance(doc, dict) else None
        names = {t.get("name") for t in tools or [] if isinstance(t, dict)}
        if not names <= installed():
            continue
        for error in validator().iter_errors(doc):
            where = "/".join(map(str, error.absolute_path)) or "(top)"
            found.append(f"{path}: {where}: {error.message[:300]}")
    return found


@pytest.fixture(autouse=True)
def watch_loaded_configs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from devstream.config import loader

    loaded: list[Path] = []
    pending: list[list[Path]] = []
    real_read_parts, real_config = loader.read_parts, loader.Config

    def read_parts(files: list[Path], *args: Any, **kwargs: Any) -> Any:
        pending.append(list(files))
        return real_read_parts(files, *args, **kwargs)

    def config(*args: Any, **kwargs: Any) -> Any:
        if pending:  # built at the end of a load that succeeded
            loaded.extend(pending.pop())
        return real_config(*args, **kwargs)

    monkeypatch.setattr(loader, "read_parts", read_parts)
    monkeypatch.setattr(loader, "Config", config)
    yield
    found = [p for path in dict.fromkeys(loaded) for p in problems(path)]
    assert not found, "configs the test loaded fail `dtm schema`:\n" + "\n".join(found)
