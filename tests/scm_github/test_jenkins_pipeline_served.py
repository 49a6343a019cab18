"""The installed `dtm` command, in a process of its own, applies, plans, checks for drift and destroys a
jenkins-pipeline and a jira tool against the Jenkins, Jira and GitHub stand-ins served over real HTTP on
127.0.0.1 (GitHub as a GitHub Enterprise at `apiURL`): the Jenkins client's crumb, session cookie and basic auth,
and Jira's basic auth, go over the wire."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from github_openapi import OpenAPIChecker
from github_standin import GitHubStandIn
from github_testkit import TOKEN, make_standin
from http_standin import served
from jenkins_standin import JenkinsStandIn
from jira_standin import JiraStandIn

pytestmark = pytest.mark.usefixtures("prefect_server")

PASSWORD = "jenkins-served-token-71aa"
JIRA_TOKEN = "jira-served-token-0d3c"
DTM = shutil.which("dtm", path=str(Path(sys.executable).parent)) or "dtm"


@pytest.fixture
def systems(openapi: OpenAPIChecker) -> Iterator[tuple[GitHubStandIn, JenkinsStandIn, JiraStandIn]]:
    routes: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
    with (served(lambda r: routes["github"](r)) as github_url, served(lambda r: routes["jenkins"](r)) as jenkins_url,
          served(lambda r: routes["jira"](r)) as jira_url):
        github = make_standin(openapi, api=f"{github_url}/api/v3")
        jenkins = JenkinsStandIn(url=jenkins_url, password=PASSWORD)
        jira = JiraStandIn(host=jira_url.removeprefix("http://"), scheme="http", token=JIRA_TOKEN)
        jira.add_project("HEAP")
        routes.update(github=github.handler, jenkins=jenkins.handler, jira=jira.handler)
        github.add_repo("octo/shop", files={"README.md": b"# shop\n"})
        yield github, jenkins, jira
        assert not jenkins.problems() and not jira.problems(), jenkins.problems() + jira.problems()


def dtm(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_TOKEN_FOR_DTM": TOKEN, "JENKINS_PASSWORD_FOR_DTM": PASSWORD,
           "JIRA_TOKEN_FOR_DTM": JIRA_TOKEN}
    return subprocess.run([DTM, *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_installed_dtm_against_served_standins(
        systems: tuple[GitHubStandIn, JenkinsStandIn, JiraStandIn], tmp_path: Path) -> None:
    github, jenkins, jira = systems
    scm = {"scmType": "github", "owner": "octo", "name": "shop", "apiURL": str(github.api),
           "token": '[[ env "GITHUB_TOKEN_FOR_DTM" ]]'}
    (tmp_path / "Jenkinsfile").write_text("pipeline { agent any }\n")
    config = tmp_path / "dtm.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [{
        "name": "jenkins-pipeline", "instanceID": "default", "options": {
            "jenkins": {"url": str(jenkins.url), "user": "admin", "password": '[[ env "JENKINS_PASSWORD_FOR_DTM" ]]'},
            "scm": scm, "pipeline": {"jobName": "jobs/test-job", "configLocation": "Jenkinsfile"}}},
        # after the job: two tools committing to one branch at once would make one retry, after Prefect's delay
        {"name": "jira", "instanceID": "default", "dependsOn": ["jenkins-pipeline.default"], "options": {
            "scm": scm, "jira": {"baseURL": jira.url, "userEmail": jira.email, "projectKey": "HEAP",
                                 "token": '[[ env "JIRA_TOKEN_FOR_DTM" ]]'}}}]}, sort_keys=False))

    applied = dtm("apply", "-f", str(config), "-y")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert jenkins.items["jobs/test-job"].kind == "job" and "Jenkinsfile" in github.files("octo/shop")
    assert any(r.path == "/crumbIssuer/api/json" for r in jenkins.requests)
    assert github.secret_value("octo/shop", "JIRA_API_TOKEN") == JIRA_TOKEN
    assert PASSWORD not in applied.stdout + applied.stderr and JIRA_TOKEN not in applied.stdout + applied.stderr

    planned = dtm("plan", "-f", str(config), "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    jenkins.items["jobs/test-job"].config += b"<!-- edited in the UI -->"
    assert dtm("drift", "-f", str(config)).returncode == 2

    destroyed = dtm("destroy", "-f", str(config), "-y")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert jenkins.items == {} and github.repo("octo/shop").hooks == {} and github.repo("octo/shop").secrets == {}
