"""jenkins-pipeline for a GitLab project, as in DevStream's GitLab + Jenkins + Harbor use case (without Harbor,
which needs Kubernetes): the job triggered by the GitLab plugin's trigger, whose secret token the project hook
at Jenkins' `/project/<job>` carries, against the GitLab and Jenkins stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitlab_standin import GitLabStandIn
from hosts import Hosts
from jenkins_standin import JenkinsStandIn
from plugin_calls import recorded

from devstream.plugin.base import PluginContext
from devstream.plugins.jenkins_pipeline import JenkinsPipelineOptions, JenkinsPipelinePlugin

TOKEN = "glpat-standin-0123456789"
PASSWORD = "jenkins-gitlab-token-93e0"
PLUGIN = JenkinsPipelinePlugin()


@pytest.fixture
def sites() -> Iterator[tuple[GitLabStandIn, JenkinsStandIn]]:
    gitlab = GitLabStandIn("http://gitlab.example.com:30080", token=TOKEN, username="root")
    gitlab.add_project("root/myapp", files={"README.md": b"# myapp\n"})
    jenkins = JenkinsStandIn(url="http://jenkins.example.com", password=PASSWORD,
                             plugins={"workflow-job": "1", "workflow-cps": "1", "git": "1", "credentials": "1"})
    yield gitlab, jenkins
    assert not jenkins.problems(), "\n".join(jenkins.problems())


def test_a_gitlab_project_gets_its_job_jenkinsfile_and_hook(sites: tuple[GitLabStandIn, JenkinsStandIn],
                                                            tmp_path: Path) -> None:
    gitlab, jenkins = sites
    ctx = PluginContext(name="jenkins-pipeline", instance_id="myapp", workdir=tmp_path, client_factory=Hosts(
        {gitlab.host: gitlab, jenkins.url.host: jenkins.handler}).client_factory())
    options = JenkinsPipelineOptions.model_validate({
        "jenkins": {"url": "http://jenkins.example.com", "user": "admin", "password": PASSWORD,
                    "enableRestart": True},
        "scm": {"url": "http://gitlab.example.com:30080/root/myapp.git", "branch": "main", "token": TOKEN},
        "pipeline": {"configContents": {"Jenkinsfile": "pipeline { agent any } // [[ AppName ]]\n"}}})

    status = PLUGIN.create(options, ctx)

    assert "gitlab-plugin" in jenkins.plugins  # installed: it was missing
    job = jenkins.job_text("myapp")
    assert "GitLabPushTrigger" in job and "http://gitlab.example.com:30080/root/myapp.git" in job
    hook = gitlab.hook("root/myapp", "http://jenkins.example.com/project/myapp")
    assert hook is not None and hook["push_events"] and hook["merge_requests_events"]
    assert hook["token"] and hook["token"] not in job  # Jenkins keeps the trigger's token encrypted
    assert gitlab.file("root/myapp", "Jenkinsfile") == b"pipeline { agent any } // myapp\n"
    assert status["outputs"]["jobURL"] == "http://jenkins.example.com/job/myapp/"
    assert PLUGIN.read(options, recorded(ctx, status)) == status

    PLUGIN.delete(options, recorded(ctx, status))
    assert jenkins.items == {} and gitlab.hook("root/myapp", "http://jenkins.example.com/project/myapp") is None
    assert gitlab.file("root/myapp", "Jenkinsfile") is None
