"""The conformance suite (devstream.testing) run against the plugins that work on GitHub: github-actions,
repo-scaffolding and ci-generic, each on a fresh GitHub stand-in (its requests checked against GitHub's
OpenAPI description, as in every test of this folder).

The stand-in's snapshot holds every repository's files, commit count, secrets (decrypted) and hooks, so "an
update to the same options changes nothing" means no new commit, no secret set to another value, no hook
touched. GitHub's failures are its answers: 503 (transient) and 403 (permanent) to every request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN, client_factory
from plugin_calls import write_template

from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericPlugin
from devstream.plugins.github_actions import GitHubActionsPlugin
from devstream.plugins.repo_scaffolding import RepoScaffoldingPlugin
from devstream.testing import Harness, PluginConformance, http_failures

SCM = {"scmType": "github", "owner": "octo", "name": "web", "branch": "main", "token": TOKEN}


def snapshot(standin: GitHubStandIn) -> dict[str, Any]:
    return {repo.full_name: {"files": standin.files(repo.full_name) if not repo.empty else {},
                             "commits": len(standin.history(repo.full_name)) if not repo.empty else 0,
                             "secrets": {n: standin.secret_value(repo.full_name, n) for n in repo.secrets},
                             "hooks": {i: (h.events, h.active, h.config) for i, h in repo.hooks.items()}}
            for repo in standin.repos.values()}


def harness(plugin: Any, options: dict[str, Any], name: str, standin: GitHubStandIn, tmp_path: Path,
            import_id: str | None = None) -> Harness:
    ctx = PluginContext(name=name, instance_id="web", workdir=tmp_path, client_factory=client_factory(standin))
    return Harness(plugin=plugin, options=options, context=ctx, import_id=import_id,
                   snapshot=lambda: snapshot(standin),
                   failures=http_failures(options, ctx))


class TestGitHubActionsConformance(PluginConformance):
    @pytest.fixture
    def harness(self, standin: GitHubStandIn, tmp_path: Path) -> Harness:
        standin.add_repo("octo/web", files={"README.md": b"# web\n"})
        options = {"scm": SCM, "pipeline": {
            "configContents": {"ci.yml": "name: [[ AppName ]]\non: [push]\njobs: {}\n"},
            "imageRepo": {"user": "octo", "password": "dckr_pat_conformance"},
            "dingTalk": {"webhook": "https://oapi.dingtalk.com/robot/send?access_token=ding-conformance",
                         "securityType": "SECRET", "securityValue": "SEC-conformance"},
            "sonarqube": {"url": "https://sonar.example.com", "token": "sonar-conformance"},
            "secrets": {"DEPLOY_KEY": "deploy-conformance"}}}
        return harness(GitHubActionsPlugin(), options, "github-actions", standin, tmp_path, import_id="octo/web")


class TestRepoScaffoldingOnGitHubConformance(PluginConformance):
    @pytest.fixture
    def harness(self, standin: GitHubStandIn, tmp_path: Path) -> Harness:
        write_template(tmp_path)
        options = {"sourceRepo": "template", "destinationRepo": SCM, "vars": {"port": 8080}}
        return harness(RepoScaffoldingPlugin(), options, "repo-scaffolding", standin, tmp_path, import_id="octo/web")


class TestCIGenericOnGitHubConformance(PluginConformance):
    @pytest.fixture
    def harness(self, standin: GitHubStandIn, tmp_path: Path) -> Harness:
        standin.add_repo("octo/web", files={"README.md": b"# web\n"})
        options = {"projectRepo": SCM, "ci": {
            "type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any }\n"},
            "webhooks": [{"url": "https://jenkins.example.com/github-webhook/", "events": ["push"],
                          "secret": "whsec-conformance"}]}}
        return harness(CIGenericPlugin(), options, "ci-generic", standin, tmp_path)
