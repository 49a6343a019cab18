"""The github-actions plugin: workflow files committed to a GitHub repository, and its Actions secrets.

The workflows come from `pipeline.configLocation` (a local file or folder, a URL, or a git source) or
inline from `pipeline.configContents`, are rendered with `[[ ]]` variables, and are committed to
`.github/workflows/` in one commit. The repository's Actions secrets are set from `pipeline.secrets` and
from the credentials of the pipeline's steps, under the names DevStream used:

| option                                   | secret                                 |
|------------------------------------------|----------------------------------------|
| `imageRepo.user`, `imageRepo.password`   | `IMAGE_REPO_USER`, `IMAGE_REPO_PASSWORD` |
| `dingTalk.webhook` (its access token)    | `DINGTALK_SECURITY_TOKEN`              |
| `dingTalk.securityValue` (type SECRET)   | `DINGTALK_SECURITY_VALUE`              |
| `sonarqube.token`                        | `SONAR_SECRET_TOKEN`                   |

The status holds each workflow's blob SHA as GitHub has it, which of the secrets exist, and the repository
and branch they are in, so a workflow edited or removed on GitHub, or a secret removed there, is drift that
the next apply puts back. A secret's value cannot be read back from GitHub: a value changed there is not
seen.

dtm removes only what it made, known from the status it recorded (`ctx.prior`): an update deletes, in its
one commit, the workflow files of that status that the options no longer produce, and removes the secrets
of that status that are no longer wanted. Delete removes those files and secrets together with the ones
the current options give, in one commit (unlike DevStream, which left the secrets); a repository already
gone is success. A workflow file or secret added by hand is never touched. The recorded status is used
only in the repository and branch it names: when `scm` moves the tool elsewhere, what it made in the old
place stays there (a warning says so).

`dtm import KEY owner/name` adopts the workflows and secrets the options name in an existing repository; the
status is marked `adopted` (unless --owned), and then neither an update nor delete removes a file or secret:
dtm did not make them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from devstream.errors import PermanentError, PluginError
from devstream.plugin.apps import AppInfo, ci_pipeline_options
from devstream.plugin.base import Plugin, PluginContext, PluginOptions, ResourceStatus
from devstream.plugins.scm.base import RepoSpec, git_blob_sha, github_repository
from devstream.plugins.scm.cifiles import load_ci_files, render
from devstream.plugins.scm.github import GitHubClient
from devstream.plugins.scm.prior import Place, as_recorded, prior_is_here
from devstream.repourl import web_root

__all__ = [
    "DingTalk",
    "GitHubActionsOptions",
    "GitHubActionsPlugin",
    "ImageRepo",
    "Language",
    "Pipeline",
    "PipelineTest",
    "SonarQube",
]

WORKFLOWS = ".github/workflows"
# The workflow DevStream's github-actions used when the pipeline named none.
DEFAULT_CONFIG_LOCATION = ("https://raw.githubusercontent.com/devstream-io/dtm-pipeline-templates/main/github-actions/"
                           "workflows/main.yml")
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Language(_Strict):
    """The application's language, as an app's `spec` gives it."""

    name: str | None = Field(default=None, description="The language, such as python or golang.")
    version: str | None = Field(default=None, description="The language's version.")
    framework: str | None = Field(default=None, description="The framework, such as django or gin.")


class ImageRepo(_Strict):
    """Where the pipeline pushes the image it builds."""

    url: str | None = Field(default=None, description="The image registry's address (Docker Hub when unset).")
    user: str | None = Field(default=None, description="The registry user; set as the secret IMAGE_REPO_USER.")
    password: SecretStr | None = Field(
        default=None, description="The registry password or token; set as the secret IMAGE_REPO_PASSWORD.")
    initalTag: str | None = Field(default=None, description="The first image tag (DevStream's spelling); unused here.")


class PipelineTest(BaseModel):
    """DevStream's test step; its keys are passed to the templates as they are."""

    model_config = ConfigDict(extra="allow")

    enable: bool | None = Field(default=None, description="Whether the pipeline runs the tests.")
    command: str | list[str] | None = Field(default=None, description="The test command(s).")
    containerName: str | None = Field(default=None, description="The container the tests run in.")


class DingTalk(_Strict):
    """DingTalk notifications of the pipeline's results."""

    name: str | None = Field(default=None, description="The robot's name.")
    webhook: SecretStr = Field(description="The robot's webhook URL; its access token becomes the secret "
                                           "DINGTALK_SECURITY_TOKEN.")
    securityType: Literal["KEY", "SECRET"] | None = Field(default=None, description="How messages are secured.")
    securityValue: SecretStr | None = Field(
        default=None, description="The key or signing secret; with type SECRET, the secret DINGTALK_SECURITY_VALUE.")
    atUsers: str | list[str] | None = Field(default=None, description="Who is mentioned in the messages.")

    @field_validator("webhook")
    @classmethod
    def _has_token(cls, value: SecretStr) -> SecretStr:
        if "=" not in value.get_secret_value():
            raise ValueError("dingTalk.webhook must end with access_token=<token>")
        return value


class SonarQube(_Strict):
    """A SonarQube scan in the pipeline."""

    name: str | None = Field(default=None, description="The SonarQube server's name.")
    url: str | None = Field(default=None, description="The SonarQube server's address.")
    token: SecretStr | None = Field(default=None, description="A SonarQube token; set as the secret "
                                                              "SONAR_SECRET_TOKEN.")


class Pipeline(_Strict):
    """The workflows, their variables and the repository secrets they use."""

    configLocation: str | None = Field(
        default=None, description="Where the workflow files are: a local file or folder (relative to the "
                                  "config's folder), an http(s) URL, or git::<url>[//<folder>][?ref=<ref>].")
    configContents: dict[str, str] | None = Field(
        default=None, description="The workflow files inline: file name -> text; used instead of configLocation.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for the [[ ]] templates in the files.")
    language: Language | None = Field(default=None, description="The application's language and framework.")
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Repository Actions secrets to set: name -> value.")
    imageRepo: ImageRepo | None = Field(default=None, description="The image registry the pipeline pushes to.")
    test: PipelineTest | None = Field(default=None, description="DevStream's test step settings.")
    dingTalk: DingTalk | None = Field(default=None, description="DingTalk notification settings.")
    sonarqube: SonarQube | None = Field(default=None, description="SonarQube scan settings.")

    @model_validator(mode="after")
    def _check(self) -> Pipeline:
        if not self.configLocation and not self.configContents:
            self.configLocation = DEFAULT_CONFIG_LOCATION  # DevStream's default, as its github-actions took it
        for name in self.configContents or {}:
            _check_file_name(name)
        for name in self.secrets:
            _check_secret_name(name)
        derived = {n.upper() for n in _derived_secrets(self)}
        clash = sorted(n for n in self.secrets if n.upper() in derived)
        if clash:
            raise ValueError(f"secrets {', '.join(clash)} are also set from imageRepo, dingTalk or sonarqube; "
                             f"give each secret once")
        return self


class GitHubActionsOptions(PluginOptions):
    """The repository and its pipeline."""

    scm: RepoSpec = Field(description="The GitHub repository the workflows go to (scmType github).")
    pipeline: Pipeline = Field(description="The workflow files, their variables and the secrets they use.")

    @field_validator("scm")
    @classmethod
    def _github(cls, scm: RepoSpec) -> RepoSpec:
        return github_repository(scm, "github-actions works with GitHub repositories only (scmType github), "
                                      "not {kind}; use gitlab-ci for GitLab, or ci-generic")


def _check_file_name(name: str) -> None:
    clean = posixpath.normpath(name)
    if not name or name.startswith("/") or clean.startswith("..") or clean == ".":
        raise ValueError(f"workflow file name {name!r} must be a relative path inside {WORKFLOWS}")


def _check_secret_name(name: str) -> None:
    if not _SECRET_NAME.fullmatch(name) or name.upper().startswith("GITHUB_"):
        raise ValueError(f"secret name {name!r} is not allowed: use letters, digits and underscores, not starting "
                         f"with a digit or GITHUB_")


def _derived_secrets(pipeline: Pipeline) -> dict[str, str]:
    """The secrets DevStream set from the steps' credentials."""
    out: dict[str, str] = {}
    if pipeline.imageRepo is not None:
        if pipeline.imageRepo.user:
            out["IMAGE_REPO_USER"] = pipeline.imageRepo.user
        if pipeline.imageRepo.password is not None:
            out["IMAGE_REPO_PASSWORD"] = pipeline.imageRepo.password.get_secret_value()
    if pipeline.dingTalk is not None:
        out["DINGTALK_SECURITY_TOKEN"] = pipeline.dingTalk.webhook.get_secret_value().rsplit("=", 1)[-1]
        if pipeline.dingTalk.securityType == "SECRET" and pipeline.dingTalk.securityValue is not None:
            out["DINGTALK_SECURITY_VALUE"] = pipeline.dingTalk.securityValue.get_secret_value()
    if pipeline.sonarqube is not None and pipeline.sonarqube.token is not None:
        out["SONAR_SECRET_TOKEN"] = pipeline.sonarqube.token.get_secret_value()
    return out


def secrets_of(options: GitHubActionsOptions) -> dict[str, str]:
    """Every secret the tool sets: upper-case name (as GitHub keeps it) -> value."""
    found = {name.upper(): value.get_secret_value() for name, value in options.pipeline.secrets.items()}
    found.update(_derived_secrets(options.pipeline))
    return dict(sorted(found.items()))


def template_vars(options: GitHubActionsOptions) -> dict[str, Any]:
    """What the workflow templates see: the repository, the steps' settings (no secrets), then `vars`."""
    scm, pipeline = options.scm, options.pipeline
    found: dict[str, Any] = {
        "AppName": scm.name,
        "Repo": {"Name": scm.name, "Owner": scm.namespace, "Org": scm.org or "", "Branch": scm.default_branch,
                 "URL": scm.url or f"{web_root('github', scm.baseURL, scm.apiURL)}/{scm.full_name}"},
    }
    for key in ("language", "test", "imageRepo", "dingTalk", "sonarqube"):
        step = getattr(pipeline, key)
        if step is not None:
            found[key] = step.model_dump(exclude_none=True, exclude={"password", "webhook", "securityValue",
                                                                     "token"})
    return {**found, **pipeline.vars}


class GitHubActionsPlugin(Plugin[GitHubActionsOptions]):
    """Workflow files in `.github/workflows` of a GitHub repository, and its Actions secrets."""

    name: ClassVar[str] = "github-actions"
    Options: ClassVar[type[GitHubActionsOptions]] = GitHubActionsOptions
    description: ClassVar[str] = "GitHub Actions workflows committed to a repository, and its Actions secrets."
    import_id: ClassVar[str] = "the GitHub repository as owner/name (the workflows and secrets the options name)"

    @classmethod
    def options_for_app(cls, options: dict[str, Any], app: AppInfo) -> dict[str, Any]:
        return ci_pipeline_options(options, app, DEFAULT_CONFIG_LOCATION)

    def create(self, options: GitHubActionsOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, prior=None)

    def update(self, options: GitHubActionsOptions, ctx: PluginContext) -> ResourceStatus:
        return _still_adopted(self._put(options, ctx, prior=ctx.prior), ctx.prior)

    def import_resource(self, resource_id: str, options: GitHubActionsOptions, ctx: PluginContext
                        ) -> ResourceStatus | None:
        if resource_id.strip().strip("/").lower() != options.scm.full_name.lower():
            raise PermanentError(f"{resource_id} is not the repository {ctx.key} describes ({options.scm.full_name});"
                                 f" import that one, or change scm in the config")
        live = self.read(options, ctx)
        if live is None:
            return None
        # As create would have made them: the next read shows a workflow or secret that differs as drift.
        files: dict[str, str | None] = {p: git_blob_sha(data) for p, data in self._rendered(options, ctx).items()}
        status = _status(options, str(live["branch"]), files, list(secrets_of(options)))
        return status if ctx.owned else {**status, "adopted": True}

    def read(self, options: GitHubActionsOptions, ctx: PluginContext) -> ResourceStatus | None:
        paths = self._paths(options, ctx)
        wanted = secrets_of(options)
        with GitHubClient(options.scm, ctx) as client:
            info = client.describe_repo()
            if info is None:
                return None
            branch = options.scm.branch or info.default_branch
            there = client.list_files(WORKFLOWS, branch)
            existing = {name.upper() for name in client.list_secrets()} if wanted else set()
        files = {path: there.get(path) for path in paths}
        secrets = [n for n in wanted if n in existing]
        if not any(files.values()) and not secrets:
            return None  # none of the workflows and secrets is there: never created, or deleted
        status = _status(options, branch, files, secrets)
        return _still_adopted(as_recorded(status, ctx.prior, ("repository", "branch")), ctx.prior)  # older: no drift

    def delete(self, options: GitHubActionsOptions, ctx: PluginContext) -> None:
        if _still_adopted({"repository": options.scm.full_name}, ctx.prior).get("adopted"):
            ctx.logger.warning("%s: the workflows and secrets in %s were adopted by dtm import, not made by dtm, so "
                               "they are left in place", ctx.key, options.scm.full_name)
            return
        with GitHubClient(options.scm, ctx) as client:
            info = client.describe_repo()
            if info is None:
                return  # the repository, and everything in it, is gone already
            branch = options.scm.branch or info.default_branch
            made = _Made.of(ctx.prior, options, branch, ctx)
            try:
                paths = set(self._paths(options, ctx))
            except PluginError as exc:
                if not made.files:
                    raise
                # What dtm wrote is known from its record: the files the options would give cannot add to it.
                ctx.logger.warning("%s: cannot read the workflow files (%s); removing those dtm recorded",
                                   ctx.key, exc)
                paths = set()
            client.push_files({}, f"dtm {ctx.key}: remove GitHub Actions workflows", branch,
                              delete=sorted(paths | made.files))
            for name in sorted(set(secrets_of(options)) | made.secrets):
                client.delete_secret(name)

    def output_keys(self, options: GitHubActionsOptions) -> set[str] | None:
        return {"workflows"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return {"github"}

    # -- files -----------------------------------------------------------------------------------------
    @staticmethod
    def _sources(options: GitHubActionsOptions, ctx: PluginContext) -> dict[str, str]:
        pipeline = options.pipeline
        if pipeline.configContents:  # an app's default configLocation may sit beside it: the files win
            sources = load_ci_files(ctx, config_contents=pipeline.configContents)
        else:
            sources = load_ci_files(ctx, config_location=pipeline.configLocation)
        if not sources:
            raise PermanentError(f"{ctx.key}: configLocation {pipeline.configLocation} holds no files")
        for name in sources:
            try:
                _check_file_name(name)
            except ValueError as exc:
                raise PermanentError(f"{ctx.key}: {exc}") from None
        return sources

    def _paths(self, options: GitHubActionsOptions, ctx: PluginContext) -> list[str]:
        return sorted(_workflow_path(name) for name in self._sources(options, ctx))

    def _put(self, options: GitHubActionsOptions, ctx: PluginContext, prior: ResourceStatus | None
             ) -> ResourceStatus:
        """Commit the workflows and set the secrets; with the prior status, also remove what it made that the
        options no longer give (in the same commit, for files)."""
        files = self._rendered(options, ctx)
        secrets = secrets_of(options)
        with GitHubClient(options.scm, ctx) as client:
            info = client.describe_repo()
            if info is None:
                raise PermanentError(f"repository {options.scm.full_name} does not exist on GitHub; create it "
                                     f"first (with repo-scaffolding, or by hand)")
            branch = options.scm.branch or info.default_branch
            made = _Made.of(prior, options, branch, ctx)
            dropped_files, dropped_secrets = sorted(made.files - set(files)), sorted(made.secrets - set(secrets))
            client.push_files(files, f"dtm {ctx.key}: GitHub Actions workflows", branch, delete=dropped_files)
            for name, value in secrets.items():
                client.put_secret(name, value)
            for name in dropped_secrets:
                client.delete_secret(name)
            if dropped_files or dropped_secrets:
                ctx.logger.info("%s: removed what the options no longer give: %s", ctx.key,
                                ", ".join(dropped_files + dropped_secrets))
        return _status(options, branch, {path: git_blob_sha(data) for path, data in files.items()}, list(secrets))

    def _rendered(self, options: GitHubActionsOptions, ctx: PluginContext) -> dict[str, bytes]:
        variables = template_vars(options)
        return {_workflow_path(name): render(text, variables, f"{ctx.key}: {name}").encode("utf-8")
                for name, text in sorted(self._sources(options, ctx).items())}


def _workflow_path(name: str) -> str:
    return f"{WORKFLOWS}/{posixpath.normpath(name)}"


@dataclass(frozen=True)
class _Made:
    """The workflow files and secrets that dtm's recorded status says it made, in this repository and branch."""

    files: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()

    @classmethod
    def of(cls, prior: ResourceStatus | None, options: GitHubActionsOptions, branch: str,
           ctx: PluginContext) -> _Made:
        if not prior or prior.get("adopted"):  # adopted by dtm import: dtm made none of it
            return cls()
        # A record without a repository predates this field: it cannot say where its files are.
        recorded = Place(str(prior["repository"]), prior.get("branch")) if "repository" in prior else None
        if not prior_is_here(ctx, recorded, Place(options.scm.full_name, branch), "the workflows and secrets"):
            return cls()
        # Only paths in the workflows folder: a record edited by hand must not send a delete elsewhere.
        files = {p for p in map(str, prior.get("workflows") or {})
                 if p.startswith(WORKFLOWS + "/") and posixpath.normpath(p) == p}
        secrets = {str(n).upper() for n in prior.get("secrets") or []}
        return cls(frozenset(files), frozenset(secrets))


def _still_adopted(status: ResourceStatus, prior: ResourceStatus | None) -> ResourceStatus:
    """The status, marked adopted while the recorded one was and names the same repository."""
    if prior and prior.get("adopted") and str(prior.get("repository", "")).lower() == \
            str(status.get("repository", "")).lower():
        return {**status, "adopted": True}
    return status


def _status(options: GitHubActionsOptions, branch: str, workflows: dict[str, str | None],
            secrets: list[str]) -> ResourceStatus:
    return {"repository": options.scm.full_name, "branch": branch,
            "workflows": dict(sorted(workflows.items())), "secrets": sorted(secrets),
            "outputs": {"workflows": sorted(workflows)}}
