"""The conformance suite (devstream.testing) run against trello, jira and jenkins-pipeline, each on its stand-in
beside GitHub's: create then read agree, an update to the same options changes nothing in either system, read
after delete is None, no secret shows, and failures of the system are TransientError or PermanentError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from jenkins_standin import JenkinsStandIn
from jira_standin import JiraStandIn
from trello_standin import API as TRELLO_API
from trello_standin import TrelloStandIn

from devstream.plugin import PluginContext
from devstream.plugins.jenkins_pipeline import JenkinsPipelinePlugin
from devstream.plugins.jira import JiraPlugin
from devstream.plugins.trello import TrelloPlugin
from devstream.testing import Harness, PluginConformance

SCM = {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN}


def github_snapshot(standin: GitHubStandIn) -> dict[str, Any]:
    repo = standin.repo("octo/shop")
    return {"files": standin.files("octo/shop"), "commits": len(standin.history("octo/shop")),
            "secrets": {name: standin.secret_value("octo/shop", name) for name in repo.secrets},
            "hooks": {h.id: (h.config.get("url"), sorted(h.events)) for h in repo.hooks.values()}}


def context(standin: GitHubStandIn, tmp_path: Path, name: str, **hosts: Any) -> tuple[Hosts, PluginContext]:
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    routes = Hosts({"api.github.com": standin.handler, **hosts})
    return routes, PluginContext(name=name, instance_id="conformance", workdir=tmp_path,
                                 client_factory=routes.client_factory())


class TestTrelloConformance(PluginConformance):
    @pytest.fixture
    def harness(self, standin: GitHubStandIn, tmp_path: Path) -> Harness:
        trello = TrelloStandIn(key="conformance-key", token="conformance-token")
        _, ctx = context(standin, tmp_path, "trello", **{TRELLO_API.host: trello.handler})
        options = {"scm": SCM, "board": {"apiKey": "conformance-key", "token": "conformance-token",
                                         "labels": [{"name": "bug", "color": "red"}]}}

        def snapshot() -> Any:
            boards = {b.id: (b.name, b.desc, b.closed, [dict(x) for x in b.lists], [dict(x) for x in b.labels])
                      for b in trello.boards.values()}
            return {"boards": boards, "github": github_snapshot(standin)}

        def failing(status: int) -> tuple[dict[str, Any], PluginContext]:
            trello.inject("GET", "", status, times=50)
            return options, ctx

        return Harness(plugin=TrelloPlugin(), options=options, context=ctx, snapshot=snapshot, failures={
            "transient": lambda: failing(503),
            "permanent": lambda: ({**options, "board": {**options["board"], "token": "wrong-token"}}, ctx)})


class TestJiraConformance(PluginConformance):
    @pytest.fixture
    def harness(self, standin: GitHubStandIn, tmp_path: Path) -> Harness:
        jira = JiraStandIn(token="conformance-jira-token")
        jira.add_project("HEAP")
        _, ctx = context(standin, tmp_path, "jira", **{jira.host: jira.handler})
        options = {"scm": SCM, "jira": {"baseURL": jira.url, "userEmail": jira.email, "projectKey": "HEAP",
                                        "token": "conformance-jira-token"}}

        def failing() -> tuple[dict[str, Any], PluginContext]:
            jira.inject("GET", "", 503, times=50)
            return options, ctx

        return Harness(plugin=JiraPlugin(), options=options, context=ctx,
                       snapshot=lambda: github_snapshot(standin), failures={
            "transient": failing,
            "permanent": lambda: ({**options, "jira": {**options["jira"], "projectKey": "NOPE"}}, ctx)})


class TestJenkinsPipelineConformance(PluginConformance):
    @pytest.fixture
    def harness(self, standin: GitHubStandIn, tmp_path: Path) -> Harness:
        jenkins = JenkinsStandIn(password="conformance-jenkins-password")
        _, ctx = context(standin, tmp_path, "jenkins-pipeline", **{jenkins.url.host: jenkins.handler})
        options = {"jenkins": {"url": str(jenkins.url), "password": "conformance-jenkins-password"}, "scm": SCM,
                   "pipeline": {"jobName": "jobs/test-job",
                                "configContents": {"Jenkinsfile": "pipeline { agent any }\n"}}}

        def snapshot() -> Any:
            return {"items": {p: i.config for p, i in jenkins.items.items()}, "credentials": dict(jenkins.credentials),
                    "plugins": dict(jenkins.plugins), "github": github_snapshot(standin)}

        def failing() -> tuple[dict[str, Any], PluginContext]:
            jenkins.inject("GET", "", 503, times=50)
            return options, ctx

        return Harness(plugin=JenkinsPipelinePlugin(), options=options, context=ctx, snapshot=snapshot, failures={
            "transient": failing,
            "permanent": lambda: ({**options, "jenkins": {**options["jenkins"], "password": "wrong"}}, ctx)})
