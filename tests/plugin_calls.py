"""Calling dtm's plugins as the engine does, for the SCM tests: the options for a repository on any SCM, the
template repo-scaffolding renders, and the context of each call after the first (`recorded`).

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devstream.plugin import PluginContext, ResourceStatus
from devstream.plugins.ci_generic import CIGenericOptions
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin

TEMPLATE = {"README.md.tpl": "# [[ AppName ]]\n", "app.py.tpl": "PORT = [[ port ]]\n"}
"""The files of the template folder `template`, which repo-scaffolding renders with the app's name and a port."""
RENDERED = {"README.md": b"# shop\n", "app.py": b"PORT = 8080\n"}
"""What `TEMPLATE` renders to for a repository named shop, with port 8080."""


def write_template(workdir: Path) -> Path:
    """`TEMPLATE` written into `workdir`/template (the folder returned), where repo-scaffolding's `sourceRepo:
    template` finds it."""
    (workdir / "template").mkdir()
    for name, text in TEMPLATE.items():
        (workdir / "template" / name).write_text(text)
    return workdir / "template"


def scaffolding_context(workdir: Path, client_factory: Callable[..., httpx.Client],
                        instance_id: str = "shop") -> PluginContext:
    """repo-scaffolding's context with no record yet (a first create), whose HTTP goes through `client_factory`;
    the template in its `workdir` (`write_template`)."""
    write_template(workdir)
    return PluginContext(name="repo-scaffolding", instance_id=instance_id, workdir=workdir,
                         client_factory=client_factory)


def scaffolding_options(destination: dict[str, Any], port: int = 8080) -> RepoScaffoldingOptions:
    """repo-scaffolding's options: the template folder rendered with `port` into the repository `destination`."""
    return RepoScaffoldingOptions.model_validate({
        "sourceRepo": "template", "destinationRepo": destination, "vars": {"port": port}})


def jenkins_options(project: dict[str, Any], *webhooks: dict[str, Any]) -> CIGenericOptions:
    """ci-generic's options: a Jenkinsfile committed to the repository `project`, and the webhooks given."""
    return CIGenericOptions.model_validate({
        "projectRepo": project,
        "ci": {"type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any }\n"},
               "webhooks": list(webhooks)}})


def recorded(ctx: PluginContext, status: ResourceStatus | None) -> PluginContext:
    """The context the engine builds for the next call of a tool whose record holds `status`: a copy of it (as
    read back from the state) as the prior."""
    return dataclasses.replace(ctx, prior=copy.deepcopy(status))


def scaffolding_lifecycle(ctx: PluginContext, options: Callable[[int], RepoScaffoldingOptions],
                          files: Callable[[], dict[str, bytes]], exists: Callable[[], bool],
                          after_each_call: Callable[[], None]) -> None:
    """repo-scaffolding over a repository's whole life, as the engine calls it, on any SCM: read (nothing there
    yet), create (`TEMPLATE` rendered with port 8080), read (the status create returned), update to port 9090,
    delete (the repository gone). `options(port)` are the tool's options, `files()` what the repository holds,
    `exists()` whether it is there; `after_each_call` runs after every call (the lifetime tests check there
    that every HTTP client is closed)."""
    plugin = RepoScaffoldingPlugin()
    assert plugin.read(options(8080), ctx) is None
    after_each_call()

    status = plugin.create(options(8080), ctx)
    assert files() == RENDERED
    after_each_call()

    assert plugin.read(options(8080), recorded(ctx, status)) == status
    after_each_call()

    status = plugin.update(options(9090), recorded(ctx, status))
    assert files()["app.py"] == b"PORT = 9090\n"
    after_each_call()

    plugin.delete(options(9090), recorded(ctx, status))
    assert not exists()
    after_each_call()
