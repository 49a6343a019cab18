"""No secret of a config reaches anything dtm or Prefect keeps: the state file, the run's logs, its artifacts,
the flow and task runs' parameters and names, or what the CLI prints, even when GitHub's error messages quote
them back.

One app with a token, an Actions secret and a registry password, and, on an older repository, a Jenkins
webhook with its secret, a Trello board (its key and token), a Jira integration (its token) and a Jenkins job
(the Jenkins password) are applied twice against the GitHub stand-in (Trello's, Jira's and Jenkins' beside it):
the first apply fails on a server error whose message repeats the token and the secret (dtm must scrub them
from what it reports), the second succeeds. Then everything the session's Prefect server holds since the test
began is read back through its REST API and searched for the secrets' values.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from jenkins_standin import JenkinsStandIn
from jira_standin import JiraStandIn
from trello_standin import API as TRELLO_API
from trello_standin import TrelloStandIn

from devstream.cli import run
from devstream.executor import ClientFactory

pytestmark = pytest.mark.usefixtures("prefect_server")

DEPLOY_KEY = "deploy-key-7f3a9c-never-shown"
PASSWORD = "registry-password-41b7-never-shown"
HOOK_SECRET = "hook-secret-c02d-never-shown"
TRELLO_KEY = "trello-key-9e4b-never-shown"
TRELLO_TOKEN = "trello-token-3a8f-never-shown"
JIRA_TOKEN = "jira-token-c7d2-never-shown"
JENKINS_PASSWORD = "jenkins-password-5b1a-never-shown"
SECRETS = (TOKEN, DEPLOY_KEY, PASSWORD, HOOK_SECRET, TRELLO_KEY, TRELLO_TOKEN, JIRA_TOKEN, JENKINS_PASSWORD)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in (("GH_TOKEN_FOR_DTM", TOKEN), ("DEPLOY_KEY", DEPLOY_KEY), ("REGISTRY_PASSWORD", PASSWORD),
                        ("HOOK_SECRET", HOOK_SECRET), ("TRELLO_KEY", TRELLO_KEY), ("TRELLO_TOKEN", TRELLO_TOKEN),
                        ("JIRA_TOKEN", JIRA_TOKEN), ("JENKINS_PASSWORD_FOR_DTM", JENKINS_PASSWORD)):
        monkeypatch.setenv(name, value)
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "README.md.tpl").write_text("# [[ AppName ]]\n")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ci.yml").write_text("name: [[ AppName ]]\non: [push]\n")
    repo = {"scmType": "github", "owner": "octo", "token": '[[ env "GH_TOKEN_FOR_DTM" ]]'}
    path = tmp_path / "dtm.yaml"
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "apps": [{"name": "shop", "spec": {"language": "python", "framework": "flask"}, "repo": repo,
                  "repoTemplate": {"url": "./template"}, "ci": [{"type": "template", "templateName": "gh"}]}],
        "pipelineTemplates": [{"name": "gh", "type": "github-actions", "options": {
            "configLocation": "workflows", "secrets": {"DEPLOY_KEY": '[[ env "DEPLOY_KEY" ]]'},
            "imageRepo": {"user": "octo", "password": '[[ env "REGISTRY_PASSWORD" ]]'}}}],
        "tools": [{"name": "ci-generic", "instanceID": "jenkins",  # (an app's tools run after every tool)
                   "options": {"projectRepo": {**repo, "name": "legacy"}, "ci": {
                       "type": "jenkins", "configContents": {"Jenkinsfile": "pipeline { agent any }\n"},
                       "webhooks": [{"url": "https://jenkins.example.com/github-webhook/",
                                     "secret": '[[ env "HOOK_SECRET" ]]'}]}}},
                  {"name": "trello", "instanceID": "board", "options": {
                      "scm": {**repo, "name": "legacy"},
                      "board": {"apiKey": '[[ env "TRELLO_KEY" ]]', "token": '[[ env "TRELLO_TOKEN" ]]'}}},
                  {"name": "jira", "instanceID": "issues", "options": {
                      "scm": {**repo, "name": "legacy"},
                      "jira": {"baseURL": "https://octo.atlassian.net", "userEmail": "dev@example.com",
                               "projectKey": "HEAP", "token": '[[ env "JIRA_TOKEN" ]]'}}},
                  {"name": "jenkins-pipeline", "instanceID": "legacy", "options": {
                      "jenkins": {"url": "http://jenkins.example.com:8080",
                                  "password": '[[ env "JENKINS_PASSWORD_FOR_DTM" ]]'},
                      "scm": {**repo, "name": "legacy"},
                      "pipeline": {"configContents": {"Jenkinsfile": "pipeline { agent any }\n"}}}}],
    }, sort_keys=False))
    return path


def everything_prefect_kept_since(started: datetime) -> str:
    """The logs, artifacts, flow runs and task runs the server recorded since `started`, as one JSON text."""
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the run's logs are sent in batches: send what is still queued
    since = {"after_": started.isoformat()}
    found: dict[str, list[Any]] = {}
    with httpx.Client(base_url=os.environ["PREFECT_API_URL"], timeout=30) as api:
        for kind, body in (("logs", {"logs": {"timestamp": since}, "sort": "TIMESTAMP_ASC"}),
                           ("artifacts", {}),
                           ("flow_runs", {"flow_runs": {"start_time": since}}),
                           ("task_runs", {"task_runs": {"start_time": since}})):
            found[kind] = []
            while True:
                page = api.post(f"/{kind}/filter", json={**body, "limit": 200, "offset": len(found[kind])})
                page.raise_for_status()
                found[kind] += page.json()
                if len(page.json()) < 200:
                    break
    assert found["logs"] and found["flow_runs"] and found["task_runs"], "the search must have something to search"
    return json.dumps(found)


@pytest.fixture
def engine_clients(standin: GitHubStandIn) -> ClientFactory:
    """The engine's client factory: GitHub's stand-in, and Trello's, Jira's and Jenkins' beside it, behind one
    transport."""
    trello = TrelloStandIn(key=TRELLO_KEY, token=TRELLO_TOKEN)
    jira = JiraStandIn(token=JIRA_TOKEN)
    jira.add_project("HEAP")
    jenkins = JenkinsStandIn(password=JENKINS_PASSWORD)
    return Hosts({standin.api.host: standin.handler, TRELLO_API.host: trello.handler, jira.host: jira.handler,
                  jenkins.url.host: jenkins.handler}).client_factory()


def test_no_secret_reaches_state_logs_artifacts_or_run_records(
        standin: GitHubStandIn, engine_clients: ClientFactory, config: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    started = datetime.now(UTC)
    standin.add_repo("octo/legacy", files={"README.md": b"# legacy\n"})
    # GitHub fails setting the Actions secret, and its message quotes the token and the secret back.
    standin.inject("PUT", r"/actions/secrets/DEPLOY_KEY$", 500, times=50,
                         message=f"could not store {DEPLOY_KEY} for token {TOKEN}")

    assert run.apply(config_path=config, yes=True, retry_delay=0, client_factory=engine_clients) == 1
    # still failing: state and retries again
    assert run.apply(config_path=config, yes=True, retry_delay=0, client_factory=engine_clients) == 1
    standin.injected.clear()
    assert run.apply(config_path=config, yes=True, retry_delay=0, client_factory=engine_clients) == 0
    assert standin.secret_value("octo/shop", "DEPLOY_KEY") == DEPLOY_KEY  # the secrets did get through
    assert standin.secret_value("octo/legacy", "TRELLO_TOKEN") == TRELLO_TOKEN
    assert standin.secret_value("octo/legacy", "JIRA_API_TOKEN") == JIRA_TOKEN
    assert "Jenkinsfile" in standin.files("octo/legacy")

    kept = {
        "state file": (config.parent / "devstream.state").read_text(),
        "what the CLI printed": "".join(capsys.readouterr()),
        "what Prefect kept": everything_prefect_kept_since(started),
    }
    assert "could not store *** for token ***" in kept["what Prefect kept"]  # the error is there, scrubbed
    for where, text in kept.items():
        for secret in SECRETS:
            assert secret not in text, f"a secret ({secret[:6]}...) is in clear in {where}"
