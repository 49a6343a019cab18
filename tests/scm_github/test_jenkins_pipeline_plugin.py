"""The jenkins-pipeline plugin against the Jenkins and GitHub stand-ins: plugins checked and installed, the clone
credential, the folder and the Pipeline job, the Jenkinsfile committed and the webhook that triggers the job.

Every request to GitHub is checked against GitHub's OpenAPI description (see conftest); every request to Jenkins
against the operations of Jenkins' remote access API that the stand-in serves (`jenkins_standin.OPERATIONS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN
from hosts import Hosts
from jenkins_standin import JenkinsStandIn
from plugin_calls import recorded
from pydantic import ValidationError

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugins.jenkins_pipeline import JenkinsPipelineOptions, JenkinsPipelinePlugin
from devstream.plugins.scm.base import git_blob_sha

PASSWORD = "jenkins-api-token-88f1"
JENKINSFILE = ("pipeline {\n  agent any\n"
               "  stages { stage('build') { steps { echo '[[ AppName ]] on [[ Repo.Branch ]]' } } }\n}\n")
HOOK = "http://jenkins.example.com:8080/github-webhook/"
PLUGIN = JenkinsPipelinePlugin()


@pytest.fixture
def jenkins() -> Iterator[JenkinsStandIn]:
    standin = JenkinsStandIn(password=PASSWORD)
    yield standin
    assert not standin.problems(), "requests Jenkins' API does not serve:\n" + "\n".join(standin.problems())


@pytest.fixture
def hosts(standin: GitHubStandIn, jenkins: JenkinsStandIn) -> Hosts:
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    return Hosts({"api.github.com": standin.handler, jenkins.url.host: jenkins.handler})


@pytest.fixture
def ctx(hosts: Hosts, tmp_path: Path) -> PluginContext:
    (tmp_path / "Jenkinsfile").write_text(JENKINSFILE)
    return PluginContext(name="jenkins-pipeline", instance_id="shop", workdir=tmp_path,
                         client_factory=hosts.client_factory())


def options(job: str = "jobs/test-job", **pipeline: object) -> JenkinsPipelineOptions:
    return JenkinsPipelineOptions.model_validate({
        "jenkins": {"url": "http://jenkins.example.com:8080", "user": "admin", "password": PASSWORD},
        "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN},
        "pipeline": {"jobName": job, "configLocation": "Jenkinsfile", **pipeline}})


def test_create_puts_the_job_its_jenkinsfile_credential_and_webhook(
        ctx: PluginContext, standin: GitHubStandIn, jenkins: JenkinsStandIn) -> None:
    status = PLUGIN.create(options(), ctx)

    assert jenkins.items["jobs"].kind == "folder" and jenkins.items["jobs/test-job"].kind == "job"
    job = jenkins.job_text("jobs/test-job")
    assert "https://github.com/octo/shop.git" in job and "*/main" in job and "GitHubPushTrigger" in job
    assert "dtm-github-octo-shop" in job and "dtm-github-octo-shop" in jenkins.credentials
    assert TOKEN not in jenkins.credentials["dtm-github-octo-shop"].decode()  # Jenkins keeps it encrypted
    rendered = JENKINSFILE.replace("[[ AppName ]]", "shop").replace("[[ Repo.Branch ]]", "main").encode()
    assert standin.files("octo/shop")["Jenkinsfile"] == rendered
    (hook,) = standin.repo("octo/shop").hooks.values()
    assert hook.config["url"] == HOOK and sorted(hook.events) == ["pull_request", "push"] and hook.config["secret"]
    assert status["jenkinsfile"]["sha"] == git_blob_sha(rendered)
    assert status["outputs"] == {"jobName": "jobs/test-job",
                                 "jobURL": "http://jenkins.example.com:8080/job/jobs/job/test-job/"}
    assert status["job"]["created"] and status["job"]["foldersCreated"] == ["jobs"]
    assert PASSWORD not in str(status) and TOKEN not in str(status)

    assert PLUGIN.read(options(), recorded(ctx, status)) == status
    assert PLUGIN.create(options(), recorded(ctx, status))["job"]["configHash"] == status["job"]["configHash"]


def test_a_job_edited_in_jenkins_a_changed_jenkinsfile_or_a_removed_webhook_is_drift_that_update_mends(
        ctx: PluginContext, standin: GitHubStandIn, jenkins: JenkinsStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    jenkins.items["jobs/test-job"].builds = [1, 2, 3]

    jenkins.items["jobs/test-job"].config = jenkins.items["jobs/test-job"].config.replace(b"*/main", b"*/dev")
    standin.commit_files("octo/shop", {"Jenkinsfile": b"pipeline {}\n"}, "edited by hand")
    standin.repo("octo/shop").hooks.clear()
    seen = PLUGIN.read(options(), recorded(ctx, status))
    assert seen is not None
    assert seen["job"]["configHash"] != status["job"]["configHash"]
    assert seen["jenkinsfile"]["sha"] == git_blob_sha(b"pipeline {}\n")
    assert seen["webhook"]["asWanted"] is False

    assert PLUGIN.update(options(), recorded(ctx, status)) == status
    assert jenkins.items["jobs/test-job"].builds == [1, 2, 3]  # rewritten in place: the builds are kept
    assert len(standin.repo("octo/shop").hooks) == 1

    del jenkins.items["jobs/test-job"]
    assert PLUGIN.read(options(), recorded(ctx, status)) is None  # gone: the next apply makes it again


def test_delete_removes_only_what_dtm_created(ctx: PluginContext, standin: GitHubStandIn,
                                              jenkins: JenkinsStandIn) -> None:
    status = PLUGIN.create(options(), ctx)
    PLUGIN.delete(options(), recorded(ctx, status))
    assert jenkins.items == {} and jenkins.credentials == {}
    assert "Jenkinsfile" not in standin.files("octo/shop") and standin.repo("octo/shop").hooks == {}
    PLUGIN.delete(options(), recorded(ctx, status))  # twice is harmless

    # A job, a folder holding another job, a Jenkinsfile and a hook that were there before stay.
    PLUGIN.create(options("other/kept"), ctx)
    standin.commit_files("octo/shop", {"Jenkinsfile": b"pipeline { agent none }\n"}, "theirs")
    status = PLUGIN.create(options("other/kept"), ctx)
    assert not (status["job"]["created"] or status["jenkinsfile"]["created"] or status["webhook"]["created"])
    PLUGIN.delete(options("other/kept"), recorded(ctx, status))
    assert "other/kept" in jenkins.items and "Jenkinsfile" in standin.files("octo/shop")


def test_missing_plugins_are_installed_or_named(ctx: PluginContext, jenkins: JenkinsStandIn) -> None:
    del jenkins.plugins["github"]
    with pytest.raises(PermanentError, match="lacks the plugins github and jenkins.offline is set"):
        PLUGIN.create(JenkinsPipelineOptions.model_validate(
            {**options().model_dump(mode="json", exclude_none=True),
             "jenkins": {"url": "http://jenkins.example.com:8080", "password": PASSWORD, "offline": True},
             "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN}}), ctx)
    jenkins.plugins_need_restart = True
    restarting = JenkinsPipelineOptions.model_validate(
        {**options().model_dump(mode="json", exclude_none=True),
         "jenkins": {"url": "http://jenkins.example.com:8080", "password": PASSWORD, "enableRestart": True},
         "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN}})
    with pytest.raises(TransientError, match="restarting to load the plugins github"):
        PLUGIN.create(restarting, ctx)
    assert jenkins.restarts == 1 and "github" in jenkins.plugins
    assert PLUGIN.create(restarting, ctx)["plugins"]["github"] is True


def test_the_crumb_is_fetched_again_when_jenkins_no_longer_takes_it(
        ctx: PluginContext, jenkins: JenkinsStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    from devstream.plugins.jenkins.client import JenkinsClient

    real_create = JenkinsClient.create_item

    def create_after_a_restart(client: JenkinsClient, path: str, config: bytes) -> None:
        jenkins.forget_crumbs()  # the crumb the client holds is now refused once
        real_create(client, path, config)

    monkeypatch.setattr(JenkinsClient, "create_item", create_after_a_restart)
    PLUGIN.create(options("solo"), ctx)
    assert "solo" in jenkins.items
    refused = [r for r in jenkins.requests if r.response is not None and r.response.status_code == 403]
    assert refused and all("crumb" in r.response.text for r in refused if r.response is not None)


def test_refused_credentials_and_the_image_repository_are_clear_errors(ctx: PluginContext) -> None:
    wrong = JenkinsPipelineOptions.model_validate({
        **options().model_dump(mode="json", exclude_none=True),
        "jenkins": {"url": "http://jenkins.example.com:8080", "password": "not-the-password"},
        "scm": {"scmType": "github", "owner": "octo", "name": "shop", "token": TOKEN}})
    with pytest.raises(PermanentError, match="Jenkins refused the user and password") as caught:
        PLUGIN.create(wrong, ctx)
    assert "not-the-password" not in str(caught.value)
    with pytest.raises(PermanentError, match="imageRepo is not available yet.*Kubernetes"):
        PLUGIN.create(options(imageRepo={"url": "http://harbor.example.com", "user": "admin"}), ctx)


def test_devstreams_sample_validates_once_owner_or_org_is_chosen() -> None:
    # DevStream's `show config` sample lists both `owner` and `org` as placeholders; a user keeps one (DevStream,
    # like dtm, refuses both at once).
    sample = yaml.safe_load("""
    jenkins:
      url: http://jenkins.example.com:8080
      user: admin
      namespace: jenkins
      enableRestart: false
      password: JENKINS_PASSWORD
      offline: false
    scm:
      branch: YOUR_REPO_BRANCH
      token: YOUR_REPO_SCM_TOKEN
      url: YOUR_REPO_URL
      owner: YOUR_REPO_OWNER
      org: YOUR_REPO_ORG
      name: YOUR_REPO_NAME
      scmType: github
    pipeline:
      jobName: test-job
      configLocation: https://raw.githubusercontent.com/devstream-io/devstream/main/staging/dtm-jenkins-pipeline-example/general/Jenkinsfile
      language: {framework: null, name: LANGUAGE}
      imageRepo: {url: http://harbor.example.com:80, user: admin, password: YOUR_IMAGE_REPO_PASSWORD}
      dingTalk:
        name: YOUR_DINGTALK_ROBOT_NAME
        webhook: https://oapi.dingtalk.com/robot/send?access_token=changemeByConfig
        securityType: SECRET
        securityValue: YOUR_DINGTALK_SECRET_VALUE
      sonarqube: {url: http://sonar.example.com, token: YOUR_SONAR_TOKEN, name: sonar_test}
    """)
    with pytest.raises(ValidationError, match="not both"):
        JenkinsPipelineOptions.model_validate(sample)
    del sample["scm"]["org"]
    parsed = JenkinsPipelineOptions.model_validate(sample)
    assert parsed.job_path == "test-job" and parsed.server.url == "http://jenkins.example.com:8080"
    with pytest.raises(ValidationError, match="job name"):
        JenkinsPipelineOptions.model_validate({**sample, "pipeline": {"jobName": "a//b"}})
    with pytest.raises(ValidationError, match="differ: give one"):
        JenkinsPipelineOptions.model_validate({**sample, "jobName": "other"})
    with pytest.raises(ValidationError, match="GitHub or GitLab"):
        JenkinsPipelineOptions.model_validate({**sample, "scm": {"scmType": "git", "url": "/tmp/x"}})


def test_its_task_runs_are_tagged_with_jenkins_and_the_repositorys_system() -> None:
    assert PLUGIN.systems({"scm": {"scmType": "gitlab", "owner": "g", "name": "n"}}) == {"jenkins", "gitlab"}



def test_a_gitlab_repository_gets_the_gitlab_plugins_trigger_and_hook() -> None:
    from devstream.plugins.jenkins_pipeline.plugin import _hook_url, _secret_token, required_plugins

    gitlab = JenkinsPipelineOptions.model_validate({
        "jenkins": {"url": "jenkins.example.com", "password": PASSWORD},
        "scm": {"url": "http://gitlab.example.com:30080/root/myapp.git", "token": "glpat-x"},
        "pipeline": {"jobName": "myapp"}})
    assert gitlab.scm.scmType == "gitlab" and gitlab.server.url == "http://jenkins.example.com"
    assert _hook_url(gitlab) == "http://jenkins.example.com/project/myapp"
    assert "gitlab-plugin" in required_plugins(gitlab) and "github" not in required_plugins(gitlab)
    # the webhook's secret is stable from run to run, and depends on the Jenkins credentials
    assert _secret_token(gitlab) == _secret_token(gitlab.model_copy())
    other = gitlab.model_copy(update={"jenkins": gitlab.server.model_copy(update={"password": None})})
    assert _secret_token(other) != _secret_token(gitlab)


def test_the_jenkinsfile_template_is_rendered_in_the_sandbox(ctx: PluginContext, jenkins: JenkinsStandIn) -> None:
    """A Jenkinsfile fetched from a URL or a repository is untrusted: it cannot reach Python's internals."""
    evil = {"Jenkinsfile": "[[ AppName.__class__.__mro__[1].__subclasses__() ]]"}
    with pytest.raises(PermanentError, match="Jenkinsfile"):
        PLUGIN.create(options(configLocation=None, configContents=evil), ctx)
    assert jenkins.items == {}  # nothing was made in Jenkins
