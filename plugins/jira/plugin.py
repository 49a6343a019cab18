"""The jira plugin: a GitHub repository's issues mirrored into an existing Jira project.

As DevStream's jira plugin did, it puts the Jira API token (JIRA_API_TOKEN) and the repository's token (GH_TOKEN,
with which the workflow renames each issue after its Jira key) into the repository's Actions secrets, and commits
`.github/workflows/jiraIssueBuilder.yml`, which creates, transitions and comments Jira issues as GitHub issues
change. Unlike DevStream, it first checks through Jira's REST API that the project exists and that the email and
token can see it, so a wrong key or token fails at apply, not in the first workflow run; a project gone later is
drift (its id is in the status), and the next apply says so.

The files and secrets go through github-actions: drift on the workflow's blob SHA and the secrets' presence, and
delete removes only what dtm put. `jira-github-integ`, DevStream's older name, logs a deprecation note.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from devstream.errors import PermanentError
from devstream.plugin.base import Plugin, PluginContext, PluginOptions, ResourceStatus
from devstream.plugins.github_actions.embedded import GitHubWorkflows
from devstream.plugins.jira.client import JiraClient, Project
from devstream.plugins.scm.base import RepoSpec, github_repository
from devstream.plugins.scm.github import TOKEN_ENV as GITHUB_TOKEN_ENV

__all__ = ["JiraGithubIntegPlugin", "JiraInfo", "JiraOptions", "JiraPlugin"]
_ON_GITHUB = "the issue-builder workflow runs on GitHub Actions: scmType must be github, not {kind}"

WORKFLOW = "jiraIssueBuilder.yml"
_KEY = re.compile(r"[A-Z][A-Z0-9_]*")


class JiraInfo(BaseModel):
    """The Jira site, project and user."""

    model_config = ConfigDict(extra="forbid")

    baseURL: str = Field(description="The Jira site, such as https://example.atlassian.net.")
    userEmail: str = Field(description="The email address of the Jira account the token belongs to.")
    projectKey: str = Field(description="The existing project's key, such as HEAP (as in .../projects/HEAP/...).")
    token: SecretStr | None = Field(
        default=None, description="An API token of that account (not its password); default: the JIRA_API_TOKEN "
                                  "environment variable. Set as the secret JIRA_API_TOKEN.")

    @field_validator("baseURL")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", value.strip()):
            raise ValueError("jira.baseURL must be the site's address, like https://example.atlassian.net")
        return value.strip().rstrip("/")

    @field_validator("projectKey")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.fullmatch(value):
            raise ValueError("jira.projectKey is a project key: capital letters, digits or _, starting with a "
                             "letter, like HEAP")
        return value


class JiraOptions(PluginOptions):
    """The GitHub repository whose issues go to Jira, and the Jira project."""

    scm: RepoSpec = Field(description="The GitHub repository (scmType github) the secrets and workflow go to.")
    jira: JiraInfo = Field(description="The Jira site, project and credentials.")

    @field_validator("scm")
    @classmethod
    def _github(cls, scm: RepoSpec) -> RepoSpec:
        return github_repository(scm, _ON_GITHUB)


def _workflow() -> str:
    return resources.files("devstream.plugins.jira").joinpath("issuebuilder.yml").read_text()


class JiraPlugin(Plugin[JiraOptions]):
    """The workflow and secrets that mirror a GitHub repository's issues into a Jira project."""

    name: ClassVar[str] = "jira"
    Options: ClassVar[type[JiraOptions]] = JiraOptions
    description: ClassVar[str] = ("A GitHub repository's issues mirrored into an existing Jira project: the "
                                  "project checked, the Jira token in the repository's secrets, the workflow.")

    def create(self, options: JiraOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, None)

    def update(self, options: JiraOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, (ctx.prior or {}).get("github"))

    def read(self, options: JiraOptions, ctx: PluginContext) -> ResourceStatus | None:
        self._note(ctx)
        project = self._project(options, ctx)
        github = _workflows(options).read(ctx, (ctx.prior or {}).get("github"))
        if github is None:
            return None
        if ctx.prior is None and not any((github.get("workflows") or {}).values()):
            return None  # no record and no workflow: nothing of this tool is there
        return _status(options, project, github)

    def delete(self, options: JiraOptions, ctx: PluginContext) -> None:
        self._note(ctx)
        _workflows(options).delete(ctx, (ctx.prior or {}).get("github"))

    def output_keys(self, options: JiraOptions) -> set[str] | None:
        return {"projectKey", "projectId", "projectURL"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return {"jira", "github"}

    def _note(self, ctx: PluginContext) -> None:
        """Nothing to say under the plugin's own name (the alias says it is deprecated)."""

    @staticmethod
    def _project(options: JiraOptions, ctx: PluginContext) -> Project | None:
        jira = options.jira
        token = jira.token.get_secret_value() if jira.token is not None else None
        with JiraClient(ctx, jira.baseURL, jira.userEmail, token) as client:
            return client.project(jira.projectKey)

    def _put(self, options: JiraOptions, ctx: PluginContext, prior: ResourceStatus | None) -> ResourceStatus:
        self._note(ctx)
        project = self._project(options, ctx)
        if project is None:
            raise PermanentError(f"{ctx.key}: Jira {options.jira.baseURL} has no project {options.jira.projectKey} "
                                 f"that {options.jira.userEmail} can see; create it in Jira (this plugin does not), "
                                 f"or fix jira.projectKey")
        workflows = _workflows(options)
        missing = sorted({"GH_TOKEN", "JIRA_API_TOKEN"} - set(workflows.secrets))
        if missing:
            raise PermanentError(f"{ctx.key}: no value for the secret(s) {', '.join(missing)}: set scm.token and "
                                 f"jira.token, or {GITHUB_TOKEN_ENV} and JIRA_API_TOKEN")
        return _status(options, project, workflows.put(ctx, prior))


class JiraGithubIntegPlugin(JiraPlugin):
    """DevStream's older name of the jira plugin."""

    name: ClassVar[str] = "jira-github-integ"
    description: ClassVar[str] = "Deprecated: DevStream's older name of the jira plugin; use jira."

    def _note(self, ctx: PluginContext) -> None:
        ctx.logger.warning("%s: the plugin name jira-github-integ is deprecated; name the tool jira (same options)",
                           ctx.key)


def _workflows(options: JiraOptions) -> GitHubWorkflows:
    jira = options.jira
    scm_token = options.scm.token.get_secret_value() if options.scm.token is not None else os.environ.get(
        GITHUB_TOKEN_ENV, "")
    jira_token = jira.token.get_secret_value() if jira.token is not None else os.environ.get("JIRA_API_TOKEN", "")
    secrets = {"GH_TOKEN": scm_token, "JIRA_API_TOKEN": jira_token}
    # each value as a JSON string, which YAML reads as the same string whatever it holds
    variables = {"jira": {key: json.dumps(value) for key, value in (
        ("baseURL", jira.baseURL), ("userEmail", jira.userEmail), ("projectKey", jira.projectKey))}}
    # a tool deleted after it left the config may have no credentials to set: its secrets are only removed
    return GitHubWorkflows(options.scm, {WORKFLOW: _workflow()},
                           {name: value for name, value in secrets.items() if value}, variables)


def _status(options: JiraOptions, project: Project | None, github: ResourceStatus) -> ResourceStatus:
    jira = options.jira
    return {
        "project": {"key": jira.projectKey, "id": project.id if project else None,
                    "name": project.name if project else None},
        "github": github,
        "outputs": {"projectKey": jira.projectKey, "projectId": project.id if project else None,
                    "projectURL": f"{jira.baseURL}/browse/{jira.projectKey}"},
    }
