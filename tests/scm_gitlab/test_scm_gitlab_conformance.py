"""The conformance suite (devstream.testing) run against the plugins that work on GitLab: gitlab-ci,
repo-scaffolding and ci-generic, each on a fresh GitLab stand-in. GitLab's failures are its answers: 503
(transient) and 403 (permanent) to every request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitlab_standin import GitLabStandIn
from plugin_calls import write_template

from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericPlugin
from devstream.plugins.gitlab_ci import GitLabCIPlugin
from devstream.plugins.repo_scaffolding import RepoScaffoldingPlugin
from devstream.testing import Harness, PluginConformance, http_failures

TOKEN = "glpat-standin-0123456789"
SCM = {"scmType": "gitlab", "org": "acme", "name": "web", "branch": "main", "token": TOKEN}


def snapshot(gitlab: GitLabStandIn) -> dict[str, Any]:
    return {path: {"branches": {b: (c.sha, c.files) for b, c in p.branches.items()}, "commits": p.commits,
                   "variables": p.variables, "hooks": p.hooks, "deleted": p.marked_for_deletion}
            for path, p in gitlab.projects.items()}


def harness(plugin: Any, options: dict[str, Any], name: str, gitlab: GitLabStandIn, tmp_path: Path,
            import_id: str | None = None) -> Harness:
    ctx = PluginContext(name=name, instance_id="web", workdir=tmp_path, client_factory=gitlab.client_factory)
    return Harness(plugin=plugin, options=options, context=ctx, import_id=import_id,
                   snapshot=lambda: snapshot(gitlab),
                   failures=http_failures(options, ctx))


class TestGitLabCIConformance(PluginConformance):
    @pytest.fixture
    def harness(self, gitlab: GitLabStandIn, tmp_path: Path) -> Harness:
        gitlab.add_project("acme/web", {"main.go": b"package main\n"})
        options = {"scm": SCM, "pipeline": {
            "configContents": {".gitlab-ci.yml": "test:\n  script: [make test]  # [[ AppName ]]\n"},
            "imageRepo": {"url": "registry.example.com", "user": "robot", "password": "Registry-Pass-123"},
            "variables": {"DEPLOY_TOKEN": "deploy-token-abcdef"}}}
        return harness(GitLabCIPlugin(), options, "gitlab-ci", gitlab, tmp_path, import_id="acme/web")


class TestRepoScaffoldingOnGitLabConformance(PluginConformance):
    @pytest.fixture
    def harness(self, gitlab: GitLabStandIn, tmp_path: Path) -> Harness:
        write_template(tmp_path)
        options = {"sourceRepo": "template", "destinationRepo": SCM, "vars": {"port": 8080}}
        return harness(RepoScaffoldingPlugin(), options, "repo-scaffolding", gitlab, tmp_path, import_id="acme/web")


class TestCIGenericOnGitLabConformance(PluginConformance):
    @pytest.fixture
    def harness(self, gitlab: GitLabStandIn, tmp_path: Path) -> Harness:
        gitlab.add_project("acme/web", {"main.go": b"package main\n"})
        options = {"projectRepo": SCM, "ci": {
            "type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any }\n"},
            "webhooks": [{"url": "https://jenkins.example.com/project/web", "events": ["push"],
                          "secret": "whsec-conformance"}]}}
        return harness(CIGenericPlugin(), options, "ci-generic", gitlab, tmp_path)
