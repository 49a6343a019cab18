"""The ci-generic plugin: CI files rendered and pushed to a repository, on any SCM.

The files come from `ci.configLocation` (a local file or folder, an http(s) URL, or `git::<url>//<dir>`) or
inline from `ci.configContents`, and are rendered with jinja2 `[[ ]]` (variables `AppName`, `Repo.Name`,
`Repo.Owner`, then `ci.vars`, which win). Where they land depends on `ci.type`, as in DevStream:

- `github`: every `.yml`/`.yaml` file goes to `.github/workflows/<its file name>`;
- `gitlab`: the file named `.gitlab-ci.yml` (or the only file) goes to `.gitlab-ci.yml`;
- `jenkins`: the file named `Jenkinsfile` (or the only file) goes to `Jenkinsfile`;
- `generic`: every file goes to its own relative path.

All files are written in one commit. The status maps each path to its git blob SHA on the server, so a hand
edit shows as drift. dtm removes only the files it wrote, known from the status it recorded (`ctx.prior`):
an update also deletes, in the same commit, the files of that status that the options no longer produce;
delete removes those and the ones the current options give, in one commit (a repository already gone is
fine). A file added by hand is never touched. The recorded status is used only for the repository and
branch it names (its `repoURL` and `branch` outputs): files written to another place are left there.
The repository is `projectRepo` (what apps generate) or `scm` (DevStream's name for it).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devstream.errors import PermanentError, PluginError
from devstream.plugin import Plugin, PluginContext, ResourceStatus
from devstream.plugin.base import PluginOptions
from devstream.plugins.scm.base import RepoSpec, git_blob_sha
from devstream.plugins.scm.cifiles import load_ci_files, render
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.git import strip_userinfo

__all__ = ["CIConfig", "CIGenericOptions", "CIGenericPlugin", "ci_targets"]

CIType = Literal["github", "gitlab", "jenkins", "generic"]
_SINGLE_FILE = {"gitlab": ".gitlab-ci.yml", "jenkins": "Jenkinsfile"}


class CIConfig(BaseModel):
    """Which CI system, where its files come from, and their variables."""

    model_config = ConfigDict(extra="forbid")

    type: CIType = Field(
        description="github (.github/workflows/), gitlab (.gitlab-ci.yml), jenkins (Jenkinsfile) or generic "
                    "(every file at its own path).",
    )
    configLocation: str | None = Field(
        default=None,
        description="A local file or folder (relative to the config's folder), an http(s) URL, or "
                    "git::<url>//<folder>?ref=<branch>.",
    )
    configContents: dict[str, str] | None = Field(
        default=None, description="The files inline: file name -> content; instead of configLocation.",
    )
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for the files' [[ ]] templates.")

    @model_validator(mode="after")
    def _one_source(self) -> CIConfig:
        if bool(self.configLocation) == bool(self.configContents):
            raise ValueError("give exactly one of configLocation and configContents")
        return self


class CIGenericOptions(PluginOptions):
    """The CI files and the repository they go to."""

    ci: CIConfig = Field(description="The CI system and its files.")
    projectRepo: RepoSpec | None = Field(default=None, description="The repository the CI files are pushed to.")
    scm: RepoSpec | None = Field(default=None, description="DevStream's name for projectRepo; give one of the two.")

    @model_validator(mode="after")
    def _one_repo(self) -> CIGenericOptions:
        if (self.projectRepo is None) == (self.scm is None):
            raise ValueError("give the repository as projectRepo (or scm, as DevStream named it), once")
        return self

    @property
    def repo(self) -> RepoSpec:
        repo = self.projectRepo or self.scm
        assert repo is not None
        return repo


class CIGenericPlugin(Plugin[CIGenericOptions]):
    """Pushes rendered CI files to a repository in one commit and reads their blob SHAs back."""

    name: ClassVar[str] = "ci-generic"
    Options: ClassVar[type[CIGenericOptions]] = CIGenericOptions
    description: ClassVar[str] = "CI files (GitHub Actions, GitLab CI, Jenkinsfile or any) pushed to a repository."

    def create(self, options: CIGenericOptions, ctx: PluginContext) -> ResourceStatus:
        return self._push(options, ctx, "Add", prior=None)

    def update(self, options: CIGenericOptions, ctx: PluginContext) -> ResourceStatus:
        return self._push(options, ctx, "Update", prior=ctx.prior)

    def read(self, options: CIGenericOptions, ctx: PluginContext) -> ResourceStatus | None:
        repo = options.repo
        client = scm_client(repo, ctx)
        info = client.describe_repo()
        if info is None:
            return None
        branch = repo.branch or info.default_branch
        paths = ci_targets(options.ci.type, _sources(options, ctx))
        on_server = client.list_files("", branch)
        return _status({p: on_server.get(p) for p in paths}, strip_userinfo(info.html_url), branch)

    def delete(self, options: CIGenericOptions, ctx: PluginContext) -> None:
        repo = options.repo
        client = scm_client(repo, ctx)
        info = client.describe_repo()
        if info is None:
            return  # the repository, and its files with it, are gone already
        branch = repo.branch or info.default_branch
        written = _written(ctx.prior, strip_userinfo(info.html_url), branch, ctx)
        try:
            paths = set(ci_targets(options.ci.type, _sources(options, ctx)))
        except PluginError as exc:
            if not written:
                raise
            # What dtm wrote is known from its record: the files the options would give cannot add to it.
            ctx.logger.warning("%s: cannot read the CI files (%s); removing those dtm recorded", ctx.key, exc)
            paths = set()
        on_server = client.list_files("", branch)
        gone = sorted(p for p in paths | written if p in on_server)
        if gone:
            client.push_files({}, f"Remove CI files\n\nRemoved by dtm ({ctx.key}).", branch, delete=gone)

    def output_keys(self, options: CIGenericOptions) -> set[str] | None:
        return {"repoURL", "branch", "paths"}

    def _push(self, options: CIGenericOptions, ctx: PluginContext, verb: str, prior: ResourceStatus | None
              ) -> ResourceStatus:
        """Write the CI files; with the prior status, also delete the files it wrote that the options no longer
        produce, in the same commit."""
        repo = options.repo
        name = repo.name or ""
        variables: dict[str, Any] = {"AppName": name, "Repo": {"Name": name, "Owner": repo.namespace}}
        variables.update(options.ci.vars)
        targets = ci_targets(options.ci.type, _sources(options, ctx))
        files = {path: render(text, variables, f"ci file {source}").encode("utf-8")
                 for path, (source, text) in targets.items()}
        client = scm_client(repo, ctx)
        info = client.describe_repo()
        if info is None:
            raise PermanentError(f"repository {_where(repo)} does not exist; create it first (repo-scaffolding "
                                 f"does, for an app with a repoTemplate)")
        branch = repo.branch or info.default_branch
        repo_url = strip_userinfo(info.html_url)
        dropped = sorted(_written(prior, repo_url, branch, ctx) - set(files))
        commit = client.push_files(files, f"{verb} CI files\n\nWritten by dtm ({ctx.key}).", branch, delete=dropped)
        ctx.logger.info("%s: %d CI file(s) at %s on %s%s", ctx.key, len(files), commit[:12], branch,
                        f"; removed {', '.join(dropped)}" if dropped else "")
        return _status({p: git_blob_sha(data) for p, data in files.items()}, repo_url, branch)


def _written(prior: ResourceStatus | None, repo_url: str, branch: str, ctx: PluginContext) -> set[str]:
    """The files dtm's recorded status says it wrote, when that status is of this repository and branch."""
    if not prior:
        return set()
    outputs = prior.get("outputs") or {}
    if (outputs.get("repoURL"), outputs.get("branch")) != (repo_url, branch):
        ctx.logger.warning("%s: the CI files dtm wrote to %s (branch %s) are left there: the tool now writes to "
                           "%s (branch %s)", ctx.key, outputs.get("repoURL"), outputs.get("branch"), repo_url, branch)
        return set()
    # Only paths inside the repository: a record edited by hand must not send a delete elsewhere.
    return {p for p in map(str, prior.get("files") or {}) if _inside(p)}


def _inside(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(parts) and parts[0] != "/" and ".." not in parts and ".git" not in parts


def _where(repo: RepoSpec) -> str:
    return strip_userinfo(repo.url) if repo.url else repo.full_name


def _sources(options: CIGenericOptions, ctx: PluginContext) -> dict[str, str]:
    return load_ci_files(ctx, config_location=options.ci.configLocation, config_contents=options.ci.configContents)


def ci_targets(kind: str, files: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Repository path -> (source name, unrendered text) of the CI files, by CI type (module docstring)."""
    if not files:
        raise PermanentError("no CI files found at the configLocation")
    out: dict[str, tuple[str, str]] = {}
    if kind == "github":
        chosen = {n: t for n, t in files.items() if len(files) == 1 or n.endswith((".yml", ".yaml"))}
        for name, text in chosen.items():
            out[f".github/workflows/{PurePosixPath(name).name}"] = (name, text)
        if len(out) < len(chosen):
            raise PermanentError(f"two CI files have the same file name: {', '.join(sorted(chosen))}")
    elif kind in _SINGLE_FILE:
        wanted = _SINGLE_FILE[kind]
        chosen = files if len(files) == 1 else {n: t for n, t in files.items() if PurePosixPath(n).name == wanted}
        if len(chosen) != 1:
            raise PermanentError(f"ci type {kind} takes one file, named {wanted}; found "
                                 f"{', '.join(sorted(chosen)) if chosen else 'none among ' + ', '.join(sorted(files))}")
        [(name, text)] = chosen.items()
        out[wanted] = (name, text)
    else:
        for name, text in files.items():
            if not _inside(name):
                raise PermanentError(f"CI file {name!r} is not a path inside the repository")
            out[PurePosixPath(name).as_posix()] = (name, text)
    if not out:
        raise PermanentError(f"no {kind} CI files (.yml or .yaml) among: {', '.join(sorted(files))}")
    return dict(sorted(out.items()))


def _status(files: dict[str, str | None], repo_url: str, branch: str) -> ResourceStatus:
    return {"files": dict(sorted(files.items())),
            "outputs": {"repoURL": repo_url, "branch": branch, "paths": sorted(files)}}
