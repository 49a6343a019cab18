"""gitlab-ci's options: DevStream's pipeline options (where the CI file comes from, what renders it, the CI/CD
variables and the steps' settings that become variables) and the project the pipeline goes to."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from devstream.errors import PermanentError
from devstream.plugin.base import PluginOptions
from devstream.plugins.gitlab_ci.runner import RunnerOptions
from devstream.plugins.scm.base import RepoSpec
from devstream.plugins.scm.gitlab import project_path

CI_FILE = ".gitlab-ci.yml"
# DevStream's pipeline options, by the CI/CD variable each one sets (and the render var naming it).
IMAGE_REPO_USER = "IMAGE_REPO_USER"
IMAGE_REPO_PASSWORD = "IMAGE_REPO_PASSWORD"
SONAR_TOKEN = "SONAR_SECRET_TOKEN"
DINGTALK_TOKEN = "DINGTALK_SECURITY_TOKEN"
DINGTALK_SECRET = "DINGTALK_SECURITY_VALUE"
_DEFAULT_TEMPLATES = "https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/"
# DevStream's setDefault: the CI file when a tool gives neither configLocation nor configContents (and what
# an app's gitlab-ci entry gets as `configLocation` when it names none).
DEFAULT_CI_FILE = _DEFAULT_TEMPLATES + "main/gitlab-ci/.gitlab-ci.yml"
_VARIABLE_NAME = r"^[A-Za-z0-9_]{1,255}$"


class _Loose(BaseModel):
    """DevStream's step options: the keys dtm uses are typed; any others are accepted as they are."""

    model_config = ConfigDict(extra="allow")


class LanguageOptions(_Loose):
    """The app's language, for templates that pick test and build commands by it."""

    name: str | None = Field(default=None, description="The language, such as golang, python or java.")
    version: str | None = Field(default=None, description="The language version.")
    framework: str | None = Field(default=None, description="The framework, such as gin or flask.")


class ImageRepoOptions(_Loose):
    """Where the pipeline pushes the image it builds."""

    url: str | None = Field(default=None, description="The image registry, such as https://index.docker.io/v1/.")
    user: str | None = Field(default=None, description="The registry user; set as CI/CD variable IMAGE_REPO_USER.")
    password: SecretStr | None = Field(
        default=None, description="The registry password; set as CI/CD variable IMAGE_REPO_PASSWORD.")


class SonarQubeOptions(_Loose):
    """A SonarQube server for a scan stage."""

    name: str | None = Field(default=None, description="The SonarQube server's name.")
    url: str | None = Field(default=None, description="The SonarQube server's address.")
    token: SecretStr | None = Field(default=None, description="A SonarQube token; set as SONAR_SECRET_TOKEN.")


class DingTalkOptions(_Loose):
    """DingTalk notifications of the pipeline's result."""

    name: str | None = Field(default=None, description="The robot's name.")
    webhook: SecretStr | None = Field(
        default=None, description="The robot's webhook URL; its access_token is set as DINGTALK_SECURITY_TOKEN.")
    securityType: str | None = Field(default=None, description="KEY or SECRET: how the robot checks messages.")
    securityValue: SecretStr | None = Field(
        default=None, description="The signing secret (with SECRET); set as DINGTALK_SECURITY_VALUE.")
    atUsers: str | None = Field(default=None, description="Users to mention in the message.")


class PipelineOptions(BaseModel):
    """Where the CI file comes from, what renders it, and the CI/CD variables to set."""

    model_config = ConfigDict(extra="forbid")

    configLocation: str | None = Field(
        default=None,
        description="The CI file: a local path (from the config's folder), an http(s) URL or git::<url>//<dir>; "
        "default (with no configContents) DevStream's template for the language.")
    configContents: dict[str, str] | None = Field(
        default=None, description="The CI file inline, as a map of file name to text; or use configLocation.")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Variables for the template's [[ name ]] placeholders.")
    variables: dict[str, SecretStr] = Field(
        default_factory=dict, description="CI/CD variables to set on the project, by name; values are secrets.")
    language: LanguageOptions | None = Field(default=None, description="The app's language, for the template.")
    imageRepo: ImageRepoOptions | None = Field(
        default=None, description="The image registry; its user and password become CI/CD variables.")
    sonarqube: SonarQubeOptions | None = Field(
        default=None, description="A SonarQube server; its token becomes a CI/CD variable.")
    dingTalk: DingTalkOptions | None = Field(
        default=None, description="DingTalk notifications; the webhook token and secret become CI/CD variables.")
    test: dict[str, Any] | None = Field(default=None, description="DevStream's test step settings, for the template.")
    runner: RunnerOptions | None = Field(default=None, description="A GitLab Runner for the project, installed on "
                                         "Kubernetes with Helm (as the top-level runner).")

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        bad = [name for name in value if not re.fullmatch(_VARIABLE_NAME, name)]
        if bad:
            raise ValueError(f"CI/CD variable names may hold only letters, digits and _ (at most 255): "
                             f"{', '.join(map(repr, bad))}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PipelineOptions:
        if self.configContents and self.configLocation and self.configLocation.startswith(_DEFAULT_TEMPLATES):
            # Apps expansion fills in DevStream's template URL whenever configLocation is absent, even
            # beside configContents: the inline file is what the user wrote.
            self.configLocation = None
        if not self.configLocation and not self.configContents:
            self.configLocation = DEFAULT_CI_FILE  # as DevStream did, so its tool configs load unchanged
        if self.configLocation and self.configContents:
            raise ValueError("set exactly one of configLocation (where the CI file is) or configContents "
                             "(the file inline)")
        return self


class GitLabCIOptions(PluginOptions):
    """The GitLab project and its pipeline."""

    scm: RepoSpec = Field(description="The GitLab project (scmType gitlab) that gets the pipeline.")
    pipeline: PipelineOptions = Field(description="The CI file and the CI/CD variables.")
    runner: RunnerOptions | None = Field(
        default=None, description="A GitLab Runner for the project on Kubernetes (DevStream's runner.enable): the "
        "GitLab Runner Helm chart, registered with the project; uninstalled by delete.")

    @model_validator(mode="after")
    def _gitlab_only(self) -> GitLabCIOptions:
        if self.scm.scmType != "gitlab":
            raise ValueError(f"gitlab-ci works on GitLab projects only, and scm.scmType is {self.scm.scmType}; "
                             f"use github-actions for GitHub or ci-generic for a plain git remote")
        try:
            project_path(self.scm)
        except PermanentError as exc:
            raise ValueError(str(exc)) from None
        return self
