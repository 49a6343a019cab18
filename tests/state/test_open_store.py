"""open_store: from `config.state` to a store, with the backends this version cannot serve refused clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstream.config.models import Config, StateConfig
from devstream.errors import StateError
from devstream.state import LocalStateStore, open_store


def config(workdir: Path, backend: str = "local", **options: Any) -> Config:
    return Config(
        path=workdir / "config.yaml",
        workdir=workdir,
        name="demo",
        state=StateConfig(backend=backend, options=options),
        vars={},
        tools=[],
    )


def test_local_defaults_to_devstream_state_beside_the_config(tmp_path: Path) -> None:
    store = open_store(config(tmp_path))
    assert isinstance(store, LocalStateStore)
    assert store.path == tmp_path / "devstream.state"
    assert store.description == f"local file {tmp_path / 'devstream.state'}"


def test_a_relative_state_file_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    store = open_store(config(tmp_path, stateFile="state/prod.state", name="ignored"))
    assert isinstance(store, LocalStateStore)
    assert store.path == tmp_path / "state" / "prod.state"


def test_an_absolute_state_file_is_kept_as_is(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared" / "team.state"
    store = open_store(config(tmp_path / "project", stateFile=str(elsewhere)))
    assert isinstance(store, LocalStateStore)
    assert store.path == elsewhere


def test_an_unknown_local_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="unknown option.*statefile"):
        open_store(config(tmp_path, statefile="typo.state"))
