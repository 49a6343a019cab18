"""Fixtures of the GitLab tests: a stand-in GitLab and a plugin context whose HTTP goes to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitlab_standin import GitLabStandIn

from devstream.plugin.base import PluginContext


@pytest.fixture
def gitlab() -> GitLabStandIn:
    """A GitLab at gitlab.com with user alice and group acme."""
    standin = GitLabStandIn()
    standin.add_namespace("acme")
    return standin


@pytest.fixture
def ctx(gitlab: GitLabStandIn, tmp_path: Path) -> PluginContext:
    return PluginContext(name="gitlab-ci", instance_id="web", workdir=tmp_path, client_factory=gitlab.client_factory)


@pytest.fixture
def project(gitlab: GitLabStandIn) -> str:
    """acme/web with one file on master."""
    gitlab.add_project("acme/web", {"main.go": b"package main\n"}, branch="master")
    return "acme/web"
