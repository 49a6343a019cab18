"""The jira plugin against the Jira and GitHub stand-ins: the project checked through Jira's REST API, the Jira
token and the repository's token in its Actions secrets, and the issue-builder workflow committed.

Every request to GitHub is checked against GitHub's OpenAPI description (see conftest); every request to Jira
against the operations of Jira's reference that the Jira stand-in serves (`jira_standin.OPERATIONS`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from jira_standin import JiraStandIn
from plugin_calls import recorded
from pydantic import ValidationError

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.jira import JiraGithubIntegPlugin, JiraOptions, JiraPlugin

JIRA_TOKEN = "jira-plugin-token-61c0"
WORKFLOW = ".github/workflows/jiraIssueBuilder.yml"
PLUGIN = JiraPlugin()


@pytest.fixture
def jira() -> Iterator[JiraStandIn]:
    standin = JiraStandIn(token=JIRA_TOKEN)
    standin.add_project("HEAP", "Heap")
    yield standin
    assert not standin.problems(), "requests Jira's reference does not allow:\n" + "\n".join(standin.problems())


@pytest.fixture
def hosts(standin: GitHubStandIn, jira: JiraStandIn) -> Hosts:
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    return Hosts({"api.github.com": standin.handler, jira.host: jira.handler})


@pytest.fixture
def ctx(hosts: Hosts, tmp_path: Path) -> PluginContext:
    return PluginContext(name="jira", instance_id="shop", workdir=tmp_path, client_factory=hosts.client_factory())


def options(**jira: object) -> JiraOptions:
    return JiraOptions.model_validate({
        "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN},
        "jira": {"baseURL": "https://octo.atlassian.net/", "userEmail": "dev@example.com", "projectKey": "HEAP",
                 "token": JIRA_TOKEN, **jira}})


def test_create_checks_the_project_sets_the_secrets_and_commits_the_workflow(
        ctx: PluginContext, standin: GitHubStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    assert status["project"] == {"key": "HEAP", "id": "10000", "name": "Heap"}
    assert status["outputs"]["projectURL"] == "https://octo.atlassian.net/browse/HEAP"
    assert standin.secret_value("octo/shop", "JIRA_API_TOKEN") == JIRA_TOKEN
    assert standin.secret_value("octo/shop", "GH_TOKEN") == TOKEN
    workflow = yaml.safe_load(standin.files("octo/shop")[WORKFLOW])
    assert workflow["env"]["JIRA_BASE_URL"] == "https://octo.atlassian.net"
    assert workflow["env"]["JIRA_USER_EMAIL"] == "dev@example.com"
    assert workflow["jobs"]["issue"]["steps"][1]["with"]["project"] == "HEAP"
    assert JIRA_TOKEN not in str(status)

    assert PLUGIN.read(options(), recorded(ctx, status)) == status
    standin.commit_files("octo/shop", {WORKFLOW: b"on: push\n"}, "edited by hand")
    assert PLUGIN.read(options(), recorded(ctx, status)) != status  # drift
    assert PLUGIN.update(options(), recorded(ctx, status)) == status

    PLUGIN.delete(options(), recorded(ctx, status))
    assert WORKFLOW not in standin.files("octo/shop") and standin.repo("octo/shop").secrets == {}


def test_values_that_yaml_would_misread_stay_strings(ctx: PluginContext, standin: GitHubStandIn,
                                                     jira: JiraStandIn) -> None:
    jira.email = 'a"b: c#d@example.com'
    PLUGIN.create(options(userEmail='a"b: c#d@example.com'), ctx)
    workflow = yaml.safe_load(standin.files("octo/shop")[WORKFLOW])
    assert workflow["env"]["JIRA_USER_EMAIL"] == 'a"b: c#d@example.com'


def test_a_missing_project_or_a_refused_token_fails_before_anything_is_written(
        ctx: PluginContext, standin: GitHubStandIn) -> None:
    with pytest.raises(PermanentError, match="has no project NOPE that dev@example.com can see"):
        PLUGIN.create(options(projectKey="NOPE"), ctx)
    with pytest.raises(PermanentError, match="Jira refused the email and API token") as caught:
        PLUGIN.create(options(token="wrong-token-value"), ctx)
    assert "wrong-token-value" not in str(caught.value)
    assert standin.repo("octo/shop").secrets == {} and WORKFLOW not in standin.files("octo/shop")


def test_a_project_gone_later_is_drift(ctx: PluginContext, jira: JiraStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    del jira.projects["HEAP"]
    seen = PLUGIN.read(options(), recorded(ctx, status))
    assert seen is not None and seen["project"]["id"] is None
    with pytest.raises(PermanentError, match="create it in Jira"):
        PLUGIN.update(options(), recorded(ctx, status))


def test_rate_limits_are_waited_out(ctx: PluginContext, hosts: Hosts, jira: JiraStandIn) -> None:
    jira.inject("GET", r"/project/", 429, headers={"Retry-After": "4"})
    PLUGIN.create(options(), ctx)
    assert hosts.sleeps == [4.0]


def test_the_standin_refuses_what_jiras_reference_does_not_allow(jira: JiraStandIn, hosts: Hosts) -> None:
    auth = httpx.BasicAuth("dev@example.com", JIRA_TOKEN)
    with httpx.Client(transport=httpx.MockTransport(hosts.handle), base_url=jira.url, auth=auth) as client:
        assert client.get("/rest/api/3/project/HEAP", params={"fields": "id"}).status_code == 400
        assert client.get("/rest/api/2/projects/HEAP").status_code == 404
    assert len(jira.problems()) == 2
    jira.requests.clear()


def test_devstreams_sample_validates_and_what_is_refused() -> None:
    # DevStream's sample lists both `owner` and `org` as placeholders; both at once is refused (as DevStream
    # refused it), and a user keeps one.
    sample = yaml.safe_load("""
    scm:
      branch: YOUR_REPO_BRANCH
      token: YOUR_REPO_SCM_TOKEN
      url: YOUR_REPO_URL
      owner: YOUR_REPO_OWNER
      org: YOUR_REPO_ORG
      name: YOUR_REPO_NAME
      scmType: github
    jira:
      token: JIRA_TOKEN
      baseURL: https://JIRA_ID.atlassian.net
      userEmail: JIRA_USER_EMAIL
      projectKey: JIRA_PROJECT_KEY
    """)
    with pytest.raises(ValidationError, match="not both"):
        JiraOptions.model_validate(sample)
    del sample["scm"]["org"]
    assert JiraOptions.model_validate(sample).jira.projectKey == "JIRA_PROJECT_KEY"
    with pytest.raises(ValidationError, match="jira.baseURL"):
        JiraOptions.model_validate({**sample, "jira": {**sample["jira"], "baseURL": "example.atlassian.net"}})
    with pytest.raises(ValidationError, match="projectKey"):
        JiraOptions.model_validate({**sample, "jira": {**sample["jira"], "projectKey": "heap"}})


def test_the_older_name_works_and_says_it_is_deprecated(ctx: PluginContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        JiraGithubIntegPlugin().create(options(), ctx)
    assert "jira-github-integ is deprecated" in caplog.text
