"""The gitlab-ci plugin: a project's `.gitlab-ci.yml`, rendered from a template, and its CI/CD variables.

The CI file comes from `pipeline.configLocation` (a local path, an http(s) URL or a git source) or
`pipeline.configContents`, is rendered with DevStream's `[[ ]]` vars, and is committed (one commit) as
`.gitlab-ci.yml` on the repository's branch. CI/CD variables are set from `pipeline.variables` and from
DevStream's step options (`imageRepo`, `sonarqube`, `dingTalk`). Each variable carries a description that
names this tool, so a variable dropped from the config is removed on the next update, and delete removes
every variable this tool set, also those the current options no longer give; variables set by hand under
other names are left alone. Whatever the source file is called, it is committed as `.gitlab-ci.yml`, so a
change of source leaves no file behind.

The status holds the place: the GitLab (`gitlab`, its web address), the project (`project`, its path with
namespace, as the options name it) and the branch; then the blob SHA of the file in the project, the blob
SHA the config renders now, and the names of our variables that exist: a hand edit of the file, a changed
template and a deleted variable all show as drift. The project itself is not this plugin's: it must exist
(repo-scaffolding makes one).

dtm acts only on the place the options name. When `scm` moves the tool to another project, branch or
GitLab, update and delete compare it with the place of the status dtm recorded (`ctx.prior`) and, if it is
another, leave the old place as it is (the token may not reach it) and log a warning that names it and
what is left there: the file, and the variables when the project changed (on a branch change they stay in
use). Remove those by hand, or delete the tool before moving it. A status recorded before dtm kept the
place names none: a read leaves the place out too, so it is not drift, and the next update records it.

`dtm import KEY group/name` adopts the CI file and the options' variables of an existing project; the status
is marked `adopted` (unless --owned), and delete then leaves the file and variables where they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from devstream.errors import PermanentError, PluginError
from devstream.plugin.apps import AppInfo, ci_pipeline_options
from devstream.plugin.base import Plugin, PluginContext, ResourceStatus
from devstream.plugin.http import safe_url
from devstream.plugins.gitlab_ci.options import (
    CI_FILE,
    DEFAULT_CI_FILE,
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    IMAGE_REPO_PASSWORD,
    IMAGE_REPO_USER,
    SONAR_TOKEN,
    DingTalkOptions,
    GitLabCIOptions,
    ImageRepoOptions,
    LanguageOptions,
    PipelineOptions,
    SonarQubeOptions,
)
from devstream.plugins.gitlab_ci.runner import RunnerOptions, delete_runner, ensure_runner, read_runner
from devstream.plugins.scm.base import git_blob_sha
from devstream.plugins.scm.cifiles import load_ci_files, render
from devstream.plugins.scm.gitlab import GitLabClient, api_url, project_path
from devstream.plugins.scm.prior import Place, as_recorded, prior_is_here
from devstream.repourl import GITLAB_API_SUFFIX

__all__ = [
    "CI_FILE",
    "DingTalkOptions",
    "GitLabCIOptions",
    "GitLabCIPlugin",
    "ImageRepoOptions",
    "LanguageOptions",
    "PipelineOptions",
    "RunnerOptions",
    "SonarQubeOptions",
]

# The status fields that say where the file and variables are (absent from records made before dtm kept them).
_PLACE_FIELDS = ("gitlab", "project", "branch")


class GitLabCIPlugin(Plugin[GitLabCIOptions]):
    """Commits `.gitlab-ci.yml` and sets CI/CD variables; read reports what the project holds now."""

    name: ClassVar[str] = "gitlab-ci"
    Options: ClassVar[type[GitLabCIOptions]] = GitLabCIOptions
    description: ClassVar[str] = "A GitLab project's .gitlab-ci.yml (rendered from a template) and CI/CD variables."
    import_id: ClassVar[str] = "the GitLab project's path, group/name (its .gitlab-ci.yml and the options' variables)"

    @classmethod
    def options_for_app(cls, options: dict[str, Any], app: AppInfo) -> dict[str, Any]:
        return ci_pipeline_options(options, app, DEFAULT_CI_FILE, lifted="runner")

    def create(self, options: GitLabCIOptions, ctx: PluginContext) -> ResourceStatus:
        return self._put(options, ctx, prior=None)

    def read(self, options: GitLabCIOptions, ctx: PluginContext) -> ResourceStatus | None:
        wanted = _variables(options)
        with GitLabClient(options.scm, ctx) as gitlab:
            if gitlab.describe_repo() is None:
                return None
            branch = gitlab.branch()
            live = gitlab.blob_id(CI_FILE, branch)
            present = set(gitlab.list_secrets()) if wanted else set()
        files = {CI_FILE: live} if live else {}
        variables = sorted(set(wanted) & present)
        if not files and not variables:
            return None  # neither the CI file nor a variable is there: never created, or deleted
        try:
            rendered = git_blob_sha(_rendered(options, ctx))
        except PluginError as exc:
            # The template cannot be had right now (a URL down?): judge by the project alone. In sync, the
            # live blob is what was rendered, so this reports no template change rather than a false one.
            ctx.logger.warning("%s: cannot render the CI file to compare (%s); comparing the project only",
                               ctx.key, exc)
            rendered = live or ""
        status = _status(options, branch, files, {CI_FILE: rendered}, variables)
        runner = _runner(options)
        if runner is not None:
            with GitLabClient(options.scm, ctx) as gitlab:
                status["runner"] = read_runner(runner, gitlab, _gitlab(options), project_path(options.scm), ctx,
                                               (ctx.prior or {}).get("runner"))
        return _still_adopted(as_recorded(status, ctx.prior, _PLACE_FIELDS), ctx.prior)

    def update(self, options: GitLabCIOptions, ctx: PluginContext) -> ResourceStatus:
        return _still_adopted(self._put(options, ctx, prior=ctx.prior), ctx.prior)

    def import_resource(self, resource_id: str, options: GitLabCIOptions, ctx: PluginContext
                        ) -> ResourceStatus | None:
        path = project_path(options.scm)
        if resource_id.strip().strip("/").lower() != path.lower():
            raise PermanentError(f"{resource_id} is not the GitLab project {ctx.key} describes ({path}); import that "
                                 f"one, or change scm in the config")
        live = self.read(options, ctx)
        if live is None:
            return None
        # As create would have made them: the next read shows a CI file or variable that differs as drift.
        sha = git_blob_sha(_rendered(options, ctx))
        status = {**live, "files": {CI_FILE: sha}, "rendered": {CI_FILE: sha},
                  "variables": sorted(_variables(options))}
        return status if ctx.owned else {**status, "adopted": True}

    def delete(self, options: GitLabCIOptions, ctx: PluginContext) -> None:
        if (ctx.prior or {}).get("adopted"):
            ctx.logger.warning("%s: %s and the CI/CD variables in %s were adopted by dtm import, not made by dtm, so "
                               "they are left in place", ctx.key, CI_FILE, project_path(options.scm))
            return
        _remove_runner(options, ctx)
        marker = _marker(ctx)
        with GitLabClient(options.scm, ctx) as gitlab:
            if gitlab.describe_repo() is None:
                return  # the project is gone, and the file and variables with it
            branch = gitlab.branch()
            # Only the place the options name: the warning says what stays in the one the record names.
            _warn_if_moved(options, branch, ctx.prior, ctx)
            gitlab.push_files({}, f"ci: remove {CI_FILE} (dtm {ctx.key})", branch, delete=[CI_FILE])
            ours = set(_variables(options)) | {v["key"] for v in gitlab.list_variables()
                                               if v.get("description") == marker}
            for name in sorted(ours):
                gitlab.delete_secret(name)

    def output_keys(self, options: GitLabCIOptions) -> set[str] | None:
        return {"ciFile"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        runners = [options.get("runner"), (options.get("pipeline") or {}).get("runner")]
        enabled = any(isinstance(r, Mapping) and r.get("enable") for r in runners)
        return {"gitlab", "kubernetes"} if enabled else {"gitlab"}

    def _put(self, options: GitLabCIOptions, ctx: PluginContext, prior: ResourceStatus | None) -> ResourceStatus:
        """Commit the file and set the variables, removing ours that the options dropped. A prior status of
        another place is only warned about: what it names there is left alone."""
        content = _rendered(options, ctx)
        wanted = _variables(options)
        marker = _marker(ctx)
        with GitLabClient(options.scm, ctx) as gitlab:
            branch = gitlab.branch()
            _warn_if_moved(options, branch, prior, ctx)
            gitlab.push_files({CI_FILE: content}, f"ci: {CI_FILE} by dtm ({ctx.key})", branch)
            for name, value in wanted.items():
                gitlab.put_secret(name, value, description=marker)
            stale = [v["key"] for v in gitlab.list_variables()
                     if v.get("description") == marker and v["key"] not in wanted
                     and v.get("environment_scope", "*") == "*"]
            for name in stale:
                gitlab.delete_secret(name)
                ctx.logger.info("gitlab %s: removed CI/CD variable %s (no longer in the config)", gitlab.path, name)
            runner = _runner(options)
            recorded = (ctx.prior or {}).get("runner")
            ran = (ensure_runner(runner, gitlab, _gitlab(options), project_path(options.scm), ctx, recorded)
                   if runner is not None else None)
        if runner is None:
            _remove_runner(options, ctx)
        sha = git_blob_sha(content)
        status = _status(options, branch, {CI_FILE: sha}, {CI_FILE: sha}, sorted(wanted))
        if runner is not None:
            status["runner"] = ran
        return status


def _still_adopted(status: ResourceStatus, prior: ResourceStatus | None) -> ResourceStatus:
    """The status, marked adopted while the recorded one was and names the same project."""
    same = prior and (prior.get("gitlab"), str(prior.get("project", "")).lower()) == \
        (status.get("gitlab"), str(status.get("project", "")).lower())
    return {**status, "adopted": True} if same and prior and prior.get("adopted") else status


def _status(options: GitLabCIOptions, branch: str, files: dict[str, str], rendered: dict[str, str],
            variables: list[str]) -> ResourceStatus:
    return {"gitlab": _gitlab(options), "project": project_path(options.scm), "branch": branch,
            "files": files, "rendered": rendered, "variables": variables, "outputs": {"ciFile": CI_FILE}}


def _gitlab(options: GitLabCIOptions) -> str:
    """The GitLab's web address, such as https://gitlab.com: the same project path elsewhere is another place."""
    return safe_url(api_url(options.scm).removesuffix(GITLAB_API_SUFFIX))


def _warn_if_moved(options: GitLabCIOptions, branch: str, prior: ResourceStatus | None, ctx: PluginContext) -> None:
    """A warning when the recorded status is of another place than the options name: what it names stays there.

    Nothing else here depends on the record: the file has one name, and our variables carry the marker.
    """
    if not prior:
        return
    here = Place(f"{_gitlab(options)}/{project_path(options.scm)}", branch)
    # A record without a project predates the field: it cannot say where the file and variables are.
    recorded = Place(f"{prior.get('gitlab')}/{prior['project']}", prior.get("branch")) if "project" in prior else None
    left = f"the file {CI_FILE}"
    variables = [str(name) for name in prior.get("variables") or []]
    if variables and recorded is not None and not recorded.same_repository(here):
        # Variables are the project's: on a branch change, the new branch's pipelines use them too.
        left += f" and the CI/CD variables {', '.join(variables)}"
    prior_is_here(ctx, recorded, here, left)


def _marker(ctx: PluginContext) -> str:
    """The description our variables carry: it tells them from variables set by hand or by another tool."""
    return f"Managed by dtm ({ctx.key})."


def _runner(options: GitLabCIOptions) -> RunnerOptions | None:
    """The runner the options enable (top-level `runner`, else the pipeline's), or None."""
    return next((r for r in (options.runner, options.pipeline.runner) if r is not None and r.enable), None)


def _remove_runner(options: GitLabCIOptions, ctx: PluginContext) -> None:
    """Uninstall the runner dtm recorded installing (the tool goes, or its options no longer enable it)."""
    recorded = (ctx.prior or {}).get("runner")
    if not isinstance(recorded, Mapping) or not recorded.get("release"):
        return
    where = next((r for r in (options.runner, options.pipeline.runner) if r is not None), None)
    with GitLabClient(options.scm, ctx) as gitlab:
        delete_runner(where, gitlab, recorded, ctx)


def _pick_ci_file(files: dict[str, str]) -> tuple[str, str]:
    """(name, text) of the file to commit: the only one, else the one named .gitlab-ci.yml."""
    if len(files) == 1:
        return next(iter(files.items()))
    named = sorted((name for name in files if name.rpartition("/")[2] == CI_FILE), key=lambda n: (n.count("/"), n))
    if not named:
        raise PermanentError(f"pipeline: {len(files)} files given ({', '.join(sorted(files)[:5])}...) and none is "
                             f"named {CI_FILE}; point configLocation at the one file to use")
    return named[0], files[named[0]]


def _render_vars(options: GitLabCIOptions) -> dict[str, Any]:
    """What a template may use: DevStream's names (AppName, the step options without their secrets, the
    names of the CI/CD variables the steps set), then the pipeline's `vars`, which win."""
    pipeline = options.pipeline
    steps = pipeline.model_dump(mode="json", exclude_none=True,
                                exclude={"vars", "variables", "configContents", "runner"})
    for step in ("imageRepo", "sonarqube", "dingTalk"):
        for key in ("password", "token", "webhook", "securityValue"):
            steps.get(step, {}).pop(key, None)
    name = project_path(options.scm).rpartition("/")[2]
    return {
        **steps,
        "AppName": name,
        "RepoType": "gitlab",
        "ImageRepoUser": IMAGE_REPO_USER,
        "ImageRepoSecret": IMAGE_REPO_PASSWORD,
        "SonarqubeSecretKey": SONAR_TOKEN,
        "DingTalkSecretToken": DINGTALK_TOKEN,
        "DingTalkSecretKey": DINGTALK_SECRET,
        **pipeline.vars,
    }


def _rendered(options: GitLabCIOptions, ctx: PluginContext) -> bytes:
    pipeline = options.pipeline
    files = load_ci_files(ctx, config_location=pipeline.configLocation, config_contents=pipeline.configContents)
    name, text = _pick_ci_file(files)
    return render(text, _render_vars(options), f"{ctx.key}: {name}").encode("utf-8")


def _variables(options: GitLabCIOptions) -> dict[str, str]:
    """Every CI/CD variable this tool sets, by name. `pipeline.variables` wins over the step options."""
    pipeline = options.pipeline
    found: dict[str, str] = {}
    image = pipeline.imageRepo
    if image is not None:
        if image.user:
            found[IMAGE_REPO_USER] = image.user
        if image.password is not None:
            found[IMAGE_REPO_PASSWORD] = image.password.get_secret_value()
    if pipeline.sonarqube is not None and pipeline.sonarqube.token is not None:
        found[SONAR_TOKEN] = pipeline.sonarqube.token.get_secret_value()
    ding = pipeline.dingTalk
    if ding is not None and ding.webhook is not None:
        token = _webhook_token(ding.webhook.get_secret_value())
        if token:
            found[DINGTALK_TOKEN] = token
        if (ding.securityType or "").upper() == "SECRET" and ding.securityValue is not None:
            found[DINGTALK_SECRET] = ding.securityValue.get_secret_value()
    found.update({name: value.get_secret_value() for name, value in pipeline.variables.items()})
    return found


def _webhook_token(webhook: str) -> str:
    """The access token of a DingTalk robot webhook (`...robot/send?access_token=<token>`)."""
    tokens = parse_qs(urlsplit(webhook).query).get("access_token")
    return tokens[-1] if tokens else webhook.rpartition("=")[2] if "=" in webhook else ""
