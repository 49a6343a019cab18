"""The conformance suite (devstream.testing) run against repo-scaffolding and ci-generic on plain git, with real
bare repositories in the test's folder as the system.

A permanent failure is a server that refuses pushes (a pre-receive hook); a transient one is a git server
that does not answer (http on a loopback port nobody listens on: connection refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scm_git_helpers import bare_repo, git, reject_pushes, remote_files, write_tree

from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericPlugin
from devstream.plugins.repo_scaffolding import RepoScaffoldingPlugin
from devstream.testing import Harness, PluginConformance

TOKEN = "git-token-conformance"
NOBODY = "http://127.0.0.1:9/nobody/web.git"  # the discard port: refused at once


def snapshot(folder: Path) -> dict[str, Any]:
    """Every bare repository under `folder`: its branches' files and commit counts."""
    out: dict[str, Any] = {}
    for head in sorted(folder.rglob("HEAD")):
        bare = head.parent
        if (bare / "objects").is_dir() and not (bare / ".git").exists():
            branches = git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=bare).split()
            out[str(bare)] = {b: (remote_files(bare, b), git("rev-list", "--count", b, cwd=bare)) for b in branches}
    return out


@pytest.fixture(autouse=True)
def _http_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:http")  # for the unanswered http server


def scm(url: str) -> dict[str, Any]:
    return {"scmType": "git", "url": url, "owner": "acme", "name": "web", "branch": "main", "token": TOKEN}


class TestRepoScaffoldingOnGitConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        write_tree(tmp_path / "template", {"README.md.tpl": "# [[ AppName ]]\n", "app.py": "print()\n"})
        reject_pushes(bare_repo(tmp_path / "closed.git"))
        options = {"sourceRepo": "template", "destinationRepo": scm("repos/web.git"), "vars": {}}
        ctx = PluginContext(name="repo-scaffolding", instance_id="web", workdir=tmp_path)
        return Harness(plugin=RepoScaffoldingPlugin(), options=options, context=ctx, import_id="repos/web.git",
                       snapshot=lambda: snapshot(tmp_path), failures={
                           "permanent": lambda: ({**options, "destinationRepo": scm("closed.git")}, ctx),
                           "transient": lambda: ({**options, "destinationRepo": scm(NOBODY)}, ctx)})


class TestCIGenericOnGitConformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        bare_repo(tmp_path / "web.git", files={"app.py": "print()\n"})
        reject_pushes(bare_repo(tmp_path / "closed.git", files={"app.py": "print()\n"}))
        ci = {"type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any } // [[ AppName ]]\n"}}
        options = {"projectRepo": scm("web.git"), "ci": ci}
        ctx = PluginContext(name="ci-generic", instance_id="web", workdir=tmp_path)
        return Harness(plugin=CIGenericPlugin(), options=options, context=ctx,
                       snapshot=lambda: snapshot(tmp_path), failures={
                           "permanent": lambda: ({**options, "projectRepo": scm("closed.git")}, ctx),
                           "transient": lambda: ({**options, "projectRepo": scm(NOBODY)}, ctx)})
