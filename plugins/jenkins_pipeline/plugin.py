"""The jenkins-pipeline plugin: a Jenkins Pipeline job for a GitHub or GitLab repository, as DevStream made it.

What apply puts in place, each through its own system's API:

- the Jenkins plugins the job needs (Pipeline, git, credentials, github or gitlab-plugin, cloudbees-folder for a
  job in a folder, sonar and dingding-notifications for those steps), checked and, unless `jenkins.offline`,
  installed (Jenkins restarted safely when `jenkins.enableRestart` allows and a plugin needs it);
- a username/password credential holding the repository's token, with which Jenkins clones it;
- the folders of `jobName` (`jobs/test-job`) and the Pipeline job, whose Jenkinsfile comes from the repository
  (Pipeline from SCM), triggered by the repository's webhook;
- the Jenkinsfile, from `pipeline.configLocation` rendered with `[[ ]]` variables in the sandboxed template
  environment, committed to the repository's root through the SCM layer;
- the repository webhook (Jenkins' `/github-webhook/`, or the GitLab plugin's `/project/<job>`), through the SCM
  layer, with a secret derived from the Jenkins credentials and the job (stable from run to run, never stored).

The status holds the SHA-256 of the job's config.xml as Jenkins returns it, the Jenkinsfile's blob SHA, whether
the webhook is as wanted, whether the credential and plugins are there: a job edited in Jenkins' UI, a changed
Jenkinsfile, a removed webhook or credential is drift, which the next apply mends (the job is rewritten in place,
keeping its builds). Delete removes only what dtm created, as its record says: the job, the folders it made (when
empty), the credential, the Jenkinsfile and the webhook; a job, file or hook that was there before is left.

DevStream put the image registry's credentials into a Kubernetes secret for the pipeline's pods; dtm has no
Kubernetes layer yet, so `pipeline.imageRepo` is refused at apply with an error saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SecretStr

from devstream.errors import PermanentError, TransientError
from devstream.plugin.apps import AppInfo, ci_pipeline_options
from devstream.plugin.base import Plugin, PluginContext, ResourceStatus
from devstream.plugin.http import safe_url
from devstream.plugins.jenkins.client import PASSWORD_ENV, JenkinsClient, job_url_path
from devstream.plugins.jenkins.config import PipelineJob, folder_config, password_credential
from devstream.plugins.jenkins_pipeline.options import DEFAULT_JENKINSFILE, JenkinsPipelineOptions
from devstream.plugins.scm.base import RepoSpec, Webhook, api_systems, git_blob_sha
from devstream.plugins.scm.cifiles import load_ci_files, render
from devstream.plugins.scm.factory import scm_client

__all__ = ["JenkinsPipelinePlugin"]

JENKINSFILE = "Jenkinsfile"
_EVENTS = ["pull_request", "push"]
_TOKEN_ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
# the names DevStream's Jenkinsfile templates read (its StepGlobalVars)
_STEP_VARS = {"ImageRepoSecret": "IMAGE_REPO_SECRET", "ImageRepoDockerSecret": "image-repo-auth",
              "DingTalkSecretKey": "DINGTALK_SECURITY_VALUE", "DingTalkSecretToken": "DINGTALK_SECURITY_TOKEN",
              "SonarqubeSecretKey": "SONAR_SECRET_TOKEN"}


def required_plugins(options: JenkinsPipelineOptions) -> list[str]:
    """The Jenkins plugins the job needs, by short name."""
    needed = {"workflow-job", "workflow-cps", "git", "credentials",
              "github" if options.scm.scmType == "github" else "gitlab-plugin"}
    if "/" in options.job_path:
        needed.add("cloudbees-folder")
    if options.pipeline.sonarqube is not None:
        needed.add("sonar")
    if options.pipeline.dingTalk is not None:
        needed.add("dingding-notifications")
    return sorted(needed)


class JenkinsPipelinePlugin(Plugin[JenkinsPipelineOptions]):
    """A Jenkins Pipeline job whose Jenkinsfile is committed to the repository, triggered by its webhook."""

    name: ClassVar[str] = "jenkins-pipeline"
    Options: ClassVar[type[JenkinsPipelineOptions]] = JenkinsPipelineOptions
    description: ClassVar[str] = ("A Jenkins Pipeline job for a GitHub or GitLab repository: plugins, credential, "
                                  "job, Jenkinsfile and the webhook that triggers it.")

    @classmethod
    def options_for_app(cls, options: dict[str, Any], app: AppInfo) -> dict[str, Any]:
        return ci_pipeline_options(options, app, DEFAULT_JENKINSFILE, lifted="jenkins")

    def create(self, options: JenkinsPipelineOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, None)

    def update(self, options: JenkinsPipelineOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, ctx.prior)

    def output_keys(self, options: JenkinsPipelineOptions) -> set[str] | None:
        return {"jobName", "jobURL"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return {"jenkins"} | api_systems(options.get("scm"))

    # -- read ------------------------------------------------------------------------------------------------
    def read(self, options: JenkinsPipelineOptions, ctx: PluginContext) -> ResourceStatus | None:
        prior = ctx.prior or {}
        path = options.job_path
        with self._jenkins(options, ctx) as jenkins:
            config = jenkins.job_config(path)
            if config is None:
                return None  # the job is gone: the next apply makes it again
            present = jenkins.plugins()
            has_credential = jenkins.has_credential(_credential_id(options))
        with scm_client(options.scm, ctx) as scm:
            info = scm.describe_repo()
            if info is None:
                return None
            branch = options.pipeline.branch or options.scm.branch or info.default_branch
            found = scm.get_file(JENKINSFILE, branch)
            hook = next((h for h in scm.list_webhooks() if h.url == _hook_url(options)), None)
        wanted = Webhook(url=_hook_url(options), events=_EVENTS, secret=SecretStr(_secret_token(options)))
        return _status(options, ctx, config=config, branch=branch, plugins=present, credential=has_credential,
                       jenkinsfile=found.sha if found else None, hook_ok=hook is not None and hook.matches(wanted),
                       made=_Made.of(prior))

    # -- create and update -----------------------------------------------------------------------------------
    def _put(self, options: JenkinsPipelineOptions, ctx: PluginContext, prior: ResourceStatus | None
             ) -> ResourceStatus:
        if options.pipeline.imageRepo is not None:
            raise PermanentError(
                f"{ctx.key}: pipeline.imageRepo is not available yet: DevStream put the image registry's "
                f"credentials into the Kubernetes secret image-repo-auth (namespace {options.server.namespace}) for "
                f"the pipeline's pods, and dtm has no Kubernetes layer to do that yet. Create that secret by hand "
                f"(kubectl create secret docker-registry image-repo-auth ...) and leave imageRepo out of the options")
        made = _Made.of(prior)
        jenkinsfile = self._jenkinsfile(options, ctx)
        path = options.job_path
        with self._jenkins(options, ctx) as jenkins:
            present = self._plugins(options, ctx, jenkins)
            credential = _credential_id(options)
            scm_user, scm_token = _scm_credentials(options.scm)
            created = jenkins.put_credential(credential, password_credential(
                credential, f"dtm {ctx.key}: clones {options.scm.full_name}", scm_user, scm_token), [scm_token])
            made.credential = made.credential or created
            with scm_client(options.scm, ctx) as scm:
                info = scm.describe_repo()
                if info is None:
                    raise PermanentError(f"{ctx.key}: repository {options.scm.full_name} does not exist; create it "
                                         f"first (with repo-scaffolding, or by hand)")
                branch = options.pipeline.branch or options.scm.branch or info.default_branch
                job = PipelineJob(description=f"Managed by dtm ({ctx.key}): {options.scm.full_name}",
                                  clone_url=info.clone_url, branch=branch, credential_id=credential,
                                  scm=options.scm.scmType, secret_token=_secret_token(options))  # type: ignore[arg-type]
                made.folders += self._folders(jenkins, path, ctx)
                if jenkins.job_config(path) is None:
                    jenkins.create_item(path, job.config())
                    made.job = True
                else:
                    jenkins.update_item(path, job.config())  # in place: the job keeps its builds
                config = jenkins.job_config(path)
                if config is None:
                    raise TransientError(f"{ctx.key}: Jenkins does not show job {path} it has just written")
                if scm.get_file(JENKINSFILE, branch) is None:
                    made.jenkinsfile = True
                scm.push_files({JENKINSFILE: jenkinsfile}, f"dtm {ctx.key}: Jenkinsfile", branch)
                hooks = {h.url for h in scm.list_webhooks()}
                made.webhook = made.webhook or _hook_url(options) not in hooks
                scm.put_webhook(Webhook(url=_hook_url(options), events=_EVENTS,
                                        secret=SecretStr(_secret_token(options))))
        return _status(options, ctx, config=config, branch=branch, plugins=present, credential=True,
                       jenkinsfile=git_blob_sha(jenkinsfile), hook_ok=True, made=made)

    @staticmethod
    def _jenkins(options: JenkinsPipelineOptions, ctx: PluginContext) -> JenkinsClient:
        password = options.server.password.get_secret_value() if options.server.password is not None else None
        return JenkinsClient(ctx, options.server.url, options.server.user, password)

    @staticmethod
    def _plugins(options: JenkinsPipelineOptions, ctx: PluginContext, jenkins: JenkinsClient) -> dict[str, str]:
        """The installed plugins, once every plugin the job needs is among them."""
        present = jenkins.plugins()
        missing = [name for name in required_plugins(options) if name not in present]
        if not missing:
            return present
        if options.server.offline:
            raise PermanentError(f"{ctx.key}: Jenkins lacks the plugins {', '.join(missing)} and jenkins.offline is "
                                 f"set, so dtm does not install them: install them by hand (Manage Jenkins > "
                                 f"Plugins), or unset offline")
        ctx.logger.info("%s: installing Jenkins plugins %s", ctx.key, ", ".join(missing))
        jenkins.install_plugins(missing)
        present = jenkins.plugins()
        still = [name for name in missing if name not in present]
        if not still:
            return present
        if options.server.enableRestart:
            jenkins.safe_restart()
            raise TransientError(f"{ctx.key}: Jenkins is restarting to load the plugins {', '.join(still)}; the "
                                 f"next try goes on")
        raise TransientError(f"{ctx.key}: Jenkins is installing the plugins {', '.join(still)}; if they need a "
                             f"restart, set jenkins.enableRestart or restart Jenkins, then apply again")

    @staticmethod
    def _folders(jenkins: JenkinsClient, path: str, ctx: PluginContext) -> list[str]:
        """Make the job's missing folders, outermost first; the ones made."""
        made: list[str] = []
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if jenkins.children(folder) is None:
                jenkins.create_item(folder, folder_config(f"Made by dtm ({ctx.key})"))
                made.append(folder)
        return made

    @staticmethod
    def _jenkinsfile(options: JenkinsPipelineOptions, ctx: PluginContext) -> bytes:
        pipeline = options.pipeline
        if pipeline.configContents:
            sources = load_ci_files(ctx, config_contents=pipeline.configContents)
        else:
            sources = load_ci_files(ctx, config_location=pipeline.configLocation or DEFAULT_JENKINSFILE)
        text = sources.get(JENKINSFILE) or (next(iter(sources.values())) if len(sources) == 1 else None)
        if text is None:
            raise PermanentError(f"{ctx.key}: configLocation {pipeline.configLocation} holds no file named "
                                 f"Jenkinsfile")
        return render(text, _template_vars(options), f"{ctx.key}: Jenkinsfile").encode("utf-8")

    # -- delete ----------------------------------------------------------------------------------------------
    def delete(self, options: JenkinsPipelineOptions, ctx: PluginContext) -> None:
        made = _Made.of(ctx.prior)
        with scm_client(options.scm, ctx) as scm:
            if scm.describe_repo() is not None:
                if made.webhook:
                    scm.delete_webhook(_hook_url(options))
                if made.jenkinsfile and made.branch:
                    scm.push_files({}, f"dtm {ctx.key}: remove the Jenkinsfile", made.branch, delete=[JENKINSFILE])
        with self._jenkins(options, ctx) as jenkins:
            path = str((ctx.prior or {}).get("job", {}).get("path") or options.job_path)
            if made.job:
                jenkins.delete_item(path)
            else:
                ctx.logger.info("%s: job %s was there before dtm: left in place", ctx.key, path)
            for folder in reversed(made.folders):
                if jenkins.children(folder) == []:
                    jenkins.delete_item(folder)
            if made.credential:
                jenkins.delete_credential(_credential_id(options))


class _Made:
    """What dtm's record says it created (so that delete removes only that)."""

    def __init__(self, prior: ResourceStatus | None) -> None:
        prior = prior or {}
        self.job = bool((prior.get("job") or {}).get("created"))
        self.folders: list[str] = [str(f) for f in (prior.get("job") or {}).get("foldersCreated") or []]
        self.credential = bool((prior.get("credential") or {}).get("created"))
        self.jenkinsfile = bool((prior.get("jenkinsfile") or {}).get("created"))
        self.branch: str | None = (prior.get("jenkinsfile") or {}).get("branch")
        self.webhook = bool((prior.get("webhook") or {}).get("created"))

    @classmethod
    def of(cls, prior: ResourceStatus | None) -> _Made:
        return cls(prior)


def _credential_id(options: JenkinsPipelineOptions) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"dtm-{options.scm.scmType}-{options.scm.full_name}").lower()


def _scm_credentials(spec: RepoSpec) -> tuple[str, str]:
    env = _TOKEN_ENV[spec.scmType]
    token = spec.token.get_secret_value() if spec.token is not None else os.environ.get(env, "")
    if not token:
        raise PermanentError(f"no token for {spec.full_name}, which Jenkins needs to clone it: set scm.token or {env}")
    return ("oauth2" if spec.scmType == "gitlab" else spec.namespace), token


def _hook_url(options: JenkinsPipelineOptions) -> str:
    base = options.server.url
    if options.scm.scmType == "github":
        return f"{base}/github-webhook/"
    return f"{base}/project/{options.job_path}"


def _secret_token(options: JenkinsPipelineOptions) -> str:
    """The webhook's secret: derived from the Jenkins credentials and the job, so it is the same on every run
    and never needs storing."""
    key = (options.server.password.get_secret_value() if options.server.password is not None
           else os.environ.get(PASSWORD_ENV, ""))
    message = f"dtm-webhook:{options.server.url}:{options.job_path}:{options.scm.full_name}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:40]


def _template_vars(options: JenkinsPipelineOptions) -> dict[str, Any]:
    scm, pipeline = options.scm, options.pipeline
    found: dict[str, Any] = {
        "AppName": scm.name, "JobName": options.job_path, "CredentialID": _credential_id(options),
        "StepGlobalVars": _credential_id(options),
        "Repo": {"Name": scm.name, "Owner": scm.namespace, "Org": scm.org or "", "Branch": scm.default_branch},
        **_STEP_VARS,
    }
    for key in ("language", "test", "dingTalk", "sonarqube"):
        step = getattr(pipeline, key)
        if step is not None:
            found[key] = step.model_dump(exclude_none=True, exclude={"webhook", "securityValue", "token"})
    return {**found, **pipeline.vars}


def _status(options: JenkinsPipelineOptions, ctx: PluginContext, *, config: bytes, branch: str,
            plugins: Mapping[str, str], credential: bool, jenkinsfile: str | None, hook_ok: bool, made: _Made
            ) -> ResourceStatus:
    url = f"{safe_url(options.server.url).rstrip('/')}{job_url_path(options.job_path)}/"
    return {
        "job": {"path": options.job_path, "url": url, "configHash": hashlib.sha256(config).hexdigest(),
                "created": made.job, "foldersCreated": list(made.folders)},
        "plugins": {name: name in plugins for name in required_plugins(options)},
        "credential": {"id": _credential_id(options), "present": credential, "created": made.credential},
        "jenkinsfile": {"repository": options.scm.full_name, "branch": branch, "path": JENKINSFILE,
                        "sha": jenkinsfile, "created": made.jenkinsfile},
        "webhook": {"url": safe_url(_hook_url(options)), "events": _EVENTS, "asWanted": hook_ok,
                    "created": made.webhook},
        "outputs": {"jobName": options.job_path, "jobURL": url},
    }
