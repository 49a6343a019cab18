"""The Helm chart argocdapp pushes into the app's repository when `source.path` holds no files (DevStream's
"automatically create Helm configuration").

DevStream downloaded its chart from github.com/devstream-io/dtm-pipeline-templates at every apply; dtm ships
its own (this package's `chart/` folder: a Deployment and a Service of the app's image), so nothing is fetched.
The chart's files are `[[ ]]` templates rendered in the sandbox with DevStream's names (`App.Name`,
`ImageRepo.URL`, `ImageRepo.User`, `ImageRepo.InitalTag`) and `Image` (the image's repository, such as
registry.example.com/team/app: the registry's address without its scheme, then the user and the app's name);
Helm's own `{{ }}` pass through.

The files go into the repository through `plugins/scm/` (GitHub, GitLab or plain git) in ONE commit on
`source.repoBranch` (else the repository's default branch). A path that holds any file is left alone, as
DevStream left it: the chart is the team's from then on (their CI bumps `image.tag` in values.yaml), so the
files are never compared for drift. What dtm pushed is recorded (each file's blob SHA); a delete removes the
files that are still as dtm wrote them and leaves any the team changed.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.argocdapp.options import ArgocdAppOptions
from devstream.plugins.scm.base import RepoSpec, git_blob_sha, under
from devstream.plugins.scm.cifiles import render
from devstream.plugins.scm.factory import scm_client

__all__ = ["chart_files", "chart_repo", "push_chart", "remove_chart"]


def chart_repo(options: ArgocdAppOptions) -> RepoSpec:
    """The repository the chart lives in, as the SCM layer takes it."""
    source = options.source
    fields: dict[str, Any] = {"url": source.repoURL, "branch": source.repoBranch, "token": source.token,
                              "scmType": source.scmType, "apiURL": source.apiURL}
    try:
        return RepoSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValueError as exc:
        raise PermanentError(f"source.repoURL {source.repoURL!r} names no repository dtm can push the chart to: "
                             f"{exc}") from None


def _image(options: ArgocdAppOptions) -> str:
    assert options.imageRepo is not None
    registry = (options.imageRepo.url or "").split("://", 1)[-1].strip("/")
    return "/".join(p for p in (registry, options.imageRepo.user, options.app.name) if p)


def chart_files(options: ArgocdAppOptions, where: str) -> dict[str, bytes]:
    """Repository path -> content of the chart dtm pushes (rendered, under `source.path`)."""
    if options.imageRepo is None:
        raise PermanentError(f"{where}: source.path {options.source.path!r} holds no chart in {options.source.repoURL}"
                             f", and dtm can push one only with `imageRepo` (the image it deploys: `user`, and "
                             f"`url` unless Docker Hub); set imageRepo, or push a chart there first")
    image_repo = options.imageRepo
    variables = {
        "App": {"Name": options.app.name, "Namespace": options.app.namespace},
        "ImageRepo": {"URL": image_repo.url or "", "User": image_repo.user, "InitalTag": image_repo.initalTag},
        "Image": _image(options),
    }
    files: dict[str, bytes] = {}
    root = resources.files("devstream.plugins.argocdapp") / "chart"
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                stack.append((entry, f"{name}/"))
            elif not name.endswith(".pyc"):
                text = render(entry.read_text(encoding="utf-8"), variables, f"{where}: chart/{name}")
                files[f"{options.source.path}/{name}"] = text.encode("utf-8")
    return dict(sorted(files.items()))


def push_chart(options: ArgocdAppOptions, ctx: PluginContext) -> dict[str, Any] | None:
    """Push the chart when `source.path` holds no file; return the record of what was pushed (repository,
    branch, files with their blob SHAs), or None when the path already held files."""
    spec = chart_repo(options)
    with scm_client(spec, ctx) as client:
        info = client.describe_repo()
        if info is None:
            raise PermanentError(f"{ctx.key}: the chart's repository {spec.url} does not exist; create it first "
                                 f"(an app's repo, repo-scaffolding, or by hand)")
        branch = options.source.repoBranch or info.default_branch
        if client.list_files(options.source.path, branch):
            ctx.logger.info("%s: %s already holds files; the chart is left as it is", ctx.key, options.source.path)
            return None
        files = chart_files(options, ctx.key)
        client.push_files(files, f"dtm {ctx.key}: Helm chart for Argo CD in {options.source.path}", branch)
    ctx.logger.info("%s: pushed the Helm chart to %s (%s, branch %s)", ctx.key, options.source.path, spec.full_name,
                    branch)
    return {"repository": spec.full_name, "branch": branch, "path": options.source.path,
            "files": {path: git_blob_sha(data) for path, data in files.items()}}


def remove_chart(record: Any, options: ArgocdAppOptions, ctx: PluginContext) -> None:
    """Remove the chart files dtm pushed (`record`, from the recorded status) that are still as dtm wrote them;
    files the team changed, and files in another repository or folder than the options name now, stay."""
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return
    spec = chart_repo(options)
    path = str(record.get("path") or "")
    if str(record.get("repository", "")).lower() != spec.full_name.lower() or path != options.source.path:
        ctx.logger.warning("%s: the chart dtm pushed to %s in %s is left there (the options name another place now)",
                           ctx.key, path, record.get("repository"))
        return
    with scm_client(spec, ctx) as client:
        if client.describe_repo() is None:
            return  # the repository, and the chart in it, is gone already
        branch = str(record.get("branch") or options.source.repoBranch or "")
        there = client.list_files(path, branch or None)
        mine = sorted(p for p, sha in record["files"].items()
                      if under(str(p), path) and there.get(str(p)) == sha)
        kept = sorted(p for p in record["files"] if p in there and p not in mine)
        if mine:
            client.push_files({}, f"dtm {ctx.key}: remove the Helm chart dtm pushed", branch or None, delete=mine)
        if kept:
            ctx.logger.info("%s: chart files changed since dtm pushed them stay: %s", ctx.key, ", ".join(kept))
