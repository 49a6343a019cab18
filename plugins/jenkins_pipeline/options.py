"""The jenkins-pipeline plugin's options: DevStream's, which its configs keep (`jenkins`, `scm`, `pipeline`, and
`jobName` at the top or, as DevStream's sample wrote it, under `pipeline`)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from devstream.plugin.base import PluginOptions
from devstream.plugins.github_actions.plugin import DingTalk, ImageRepo, Language, PipelineTest, SonarQube
from devstream.plugins.scm.base import RepoSpec

__all__ = ["DEFAULT_JENKINSFILE", "JenkinsOptions", "JenkinsPipelineOptions", "PipelineOptions"]

DEFAULT_JENKINSFILE = ("https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/jenkins-pipeline/"
                       "general/Jenkinsfile")
_JOB_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JenkinsOptions(_Strict):
    """The Jenkins the job goes to, and the user dtm acts as."""

    url: str = Field(description="Jenkins' address, such as http://jenkins.example.com:8080 (http:// is assumed "
                                 "when no scheme is given).")
    user: str = Field(default="admin", description="The Jenkins user dtm acts as.")
    password: SecretStr | None = Field(
        default=None, description="The user's API token (better) or password; default: the JENKINS_PASSWORD "
                                  "environment variable.")
    namespace: str = Field(default="jenkins", description="The Kubernetes namespace Jenkins runs in (for the image "
                                                          "repository's secret, which dtm cannot make yet).")
    enableRestart: bool = Field(default=False, description="Restart Jenkins (safely, after running builds) when "
                                                           "plugins it installed need it.")
    offline: bool = Field(default=False, description="Jenkins cannot reach its update center: missing plugins are "
                                                     "an error naming them instead of being installed.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = "http://" + value
        if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", value):
            raise ValueError("jenkins.url must be Jenkins' address, like http://jenkins.example.com:8080, without "
                             "user, query or fragment")
        return value


class JenkinsImageRepo(ImageRepo):
    owner: str | None = Field(default=None, description="Unused (DevStream's docs wrote it).")


class PipelineOptions(_Strict):
    """The job and its Jenkinsfile."""

    jobName: str | None = Field(default=None, description="The job: <name> or <folder>/<name>, such as jobs/"
                                                           "test-job (default: the repository's name).")
    configLocation: str | None = Field(
        default=None, description="Where the Jenkinsfile is: a local file (relative to the config's folder), an "
                                  "http(s) URL, or git::<url>[//<folder>][?ref=<ref>] (default: DevStream's "
                                  "general Jenkinsfile template).")
    configContents: dict[str, str] | None = Field(
        default=None, description="The Jenkinsfile inline, as {Jenkinsfile: <text>}; used instead of configLocation.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for the [[ ]] template.")
    branch: str | None = Field(default=None, description="The branch the job builds (default: scm.branch, else the "
                                                         "repository's default branch).")
    language: Language | None = Field(default=None, description="The application's language and framework.")
    imageRepo: JenkinsImageRepo | None = Field(
        default=None, description="The image registry the pipeline pushes to. DevStream put its credentials in a "
                                  "Kubernetes secret, which dtm cannot do yet: setting it is an error at apply.")
    test: PipelineTest | None = Field(default=None, description="DevStream's test step settings.")
    dingTalk: DingTalk | None = Field(default=None, description="DingTalk notifications (needs the "
                                                                "dingding-notifications plugin).")
    sonarqube: SonarQube | None = Field(default=None, description="A SonarQube scan (needs the sonar plugin).")
    jenkins: JenkinsOptions | None = Field(
        default=None, description="What an app's pipelineTemplate gives; the top-level `jenkins` wins.")

    @model_validator(mode="after")
    def _check(self) -> PipelineOptions:
        if self.configContents is not None and set(self.configContents) != {"Jenkinsfile"}:
            raise ValueError("pipeline.configContents holds the one file Jenkinsfile: {Jenkinsfile: <text>}")
        return self


class JenkinsPipelineOptions(PluginOptions):
    """The Jenkins, the repository, and the pipeline."""

    jenkins: JenkinsOptions | None = Field(default=None, description="The Jenkins (required here or in pipeline).")
    scm: RepoSpec = Field(description="The repository (GitHub or GitLab) the Jenkinsfile and webhook go to.")
    pipeline: PipelineOptions = Field(default_factory=PipelineOptions,
                                      description="The job, its Jenkinsfile and the steps the Jenkinsfile uses.")
    jobName: str | None = Field(default=None, description="The job, as DevStream's options had it (or "
                                                          "pipeline.jobName).")

    @field_validator("scm")
    @classmethod
    def _scm(cls, scm: RepoSpec) -> RepoSpec:
        if scm.scmType not in ("github", "gitlab"):
            raise ValueError("jenkins-pipeline works with GitHub or GitLab repositories (scmType github or gitlab): "
                             "the job is triggered by the repository's webhook")
        if not scm.name or not scm.namespace:
            raise ValueError("the repository needs `name` and `owner` (a user) or `org` (an organisation or group)")
        return scm

    @model_validator(mode="after")
    def _check(self) -> JenkinsPipelineOptions:
        if self.jenkins is None and self.pipeline.jenkins is None:
            raise ValueError("jenkins is required: its url, user and password")
        if self.jobName and self.pipeline.jobName and self.jobName != self.pipeline.jobName:
            raise ValueError(f"jobName {self.jobName!r} and pipeline.jobName {self.pipeline.jobName!r} differ: give "
                             f"one")
        parts = self.job_path.split("/")
        if not all(_JOB_PART.fullmatch(p) and p not in (".", "..") for p in parts):
            raise ValueError(f"job name {self.job_path!r}: use <name> or <folder>/<name>, each made of letters, "
                             f"digits, '.', '_', '-' and spaces")
        return self

    @property
    def server(self) -> JenkinsOptions:
        found = self.jenkins or self.pipeline.jenkins
        assert found is not None  # checked above
        return found

    @property
    def job_path(self) -> str:
        return (self.jobName or self.pipeline.jobName or self.scm.name or "").strip("/")
