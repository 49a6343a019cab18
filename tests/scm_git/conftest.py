"""Fixtures for the git SCM tests: a pinned git identity, file:// remotes only, no user git config."""

from __future__ import annotations

from pathlib import Path

import pytest
from scm_git_helpers import ScratchWatch, write_tree

from devstream.plugin import PluginContext


@pytest.fixture(autouse=True)
def _git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every git call sees the same identity, may use file:// only, and reads no config of the developer's."""
    monkeypatch.setenv("GIT_AUTHOR_NAME", "dtm tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@dtm.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "dtm tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@dtm.invalid")
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))


@pytest.fixture
def ctx(tmp_path: Path) -> PluginContext:
    """A plugin context whose config folder is the test's temporary folder."""
    return PluginContext(name="repo-scaffolding", instance_id="web", workdir=tmp_path)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A scaffolding template folder, as DevStream's templates are laid out."""
    return write_tree(tmp_path / "template", {
        "README.md": "# plain readme, [[ not rendered ]]\n",
        "main.go.tpl": "package main // [[ AppName ]] by [[ Repo.Owner ]]\n",
        "cmd/_app_name_/config.yaml.tpl": "name: [[ .Repo.Name ]]\nport: [[ port ]]\n",
        "tpl/notes.txt": "rendered because the path has tpl: [[ AppName ]]\n",
        "static/logo.bin": b"\x89PNG\x00\xff[[ untouched ]]",
        ".github/dependabot.yml": "version: 2  # ${{ not jinja }}\n",
    })


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ScratchWatch:
    """The git clients made during the test, and their scratch folders (made under `tmp_path/tmp`)."""
    return ScratchWatch(monkeypatch, tmp_path / "tmp")
