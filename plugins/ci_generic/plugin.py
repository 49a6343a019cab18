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

`ci.webhooks` wires a CI system outside the SCM (Jenkins, Drone, Buildkite, Tekton...) to the repository:
each hook is put by its URL (created, or the one there updated in place), before the files are committed,
so the CI hears of the commit that brings its files. A webhook needs GitHub or GitLab (plain git has none),
an event the system can deliver (`WEBHOOK_EVENTS`), and a URL of its own without credentials: the options
are kept in dtm's state, so a delivery token belongs in `secret`. All of this is checked at load time.
The status then holds `webhooks`: URL -> what the system reports of the hook (its id, events, active,
insecure_ssl, content_type and, on GitHub, whether a secret is set), or null when it is missing, so a hook
edited or deleted on the server is drift that the next apply puts back; a secret's value never comes back,
so a secret changed on the server is not seen. Like files, hooks are removed on the word of a record of
this repository and branch only: an update removes the record's hooks whose URL the options dropped; delete
removes those and the ones the options give (before the files, so that removing them triggers no build). A
recorded hook is removed only while the hook at its URL is still the one dtm put (same id); a hook made by
hand is never touched. Options without webhooks leave the status as it was and make no webhook request.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar

from devstream.errors import PermanentError, PluginError
from devstream.plugin import Plugin, PluginContext, ResourceStatus
from devstream.plugin.apps import AppInfo, deep_merge
from devstream.plugin.http import safe_url
from devstream.plugins.ci_generic.options import CIConfig, CIGenericOptions
from devstream.plugins.scm.base import (
    RepoSpec,
    ScmClient,
    Webhook,
    WebhookInfo,
    api_systems,
    git_blob_sha,
)
from devstream.plugins.scm.cifiles import load_ci_files, render
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.git import strip_userinfo
from devstream.plugins.scm.prior import Place, prior_is_here

__all__ = ["CIConfig", "CIGenericOptions", "CIGenericPlugin", "ci_targets"]

_SINGLE_FILE = {"gitlab": ".gitlab-ci.yml", "jenkins": "Jenkinsfile"}


class CIGenericPlugin(Plugin[CIGenericOptions]):
    """Pushes rendered CI files to a repository in one commit and reads their blob SHAs back; puts the
    repository's webhooks for the CI system and reads them back."""

    name: ClassVar[str] = "ci-generic"
    Options: ClassVar[type[CIGenericOptions]] = CIGenericOptions
    description: ClassVar[str] = ("CI files (GitHub Actions, GitLab CI, Jenkinsfile or any) pushed to a repository, "
                                  "and webhooks that trigger the CI.")

    @classmethod
    def options_for_app(cls, options: dict[str, Any], app: AppInfo) -> dict[str, Any]:
        """The app's repository is the project's."""
        return deep_merge({"projectRepo": copy.deepcopy(dict(app.repo))}, options)

    def create(self, options: CIGenericOptions, ctx: PluginContext) -> ResourceStatus:
        return self._push(options, ctx, "Add", prior=None)

    def update(self, options: CIGenericOptions, ctx: PluginContext) -> ResourceStatus:
        return self._push(options, ctx, "Update", prior=ctx.prior)

    def read(self, options: CIGenericOptions, ctx: PluginContext) -> ResourceStatus | None:
        repo = options.repo
        with scm_client(repo, ctx) as client:
            info = client.describe_repo()
            if info is None:
                return None
            branch = repo.branch or info.default_branch
            paths = ci_targets(options.ci.type, _sources(options, ctx))
            on_server = client.list_files("", branch)
            hooks = _live_webhooks(client, options.ci.webhooks) if options.ci.webhooks else None
        files = {p: on_server.get(p) for p in paths}
        if not any(files.values()) and not any((hooks or {}).values()):
            return None  # none of the CI files and webhooks is there: never created, or deleted
        return _status(files, strip_userinfo(info.html_url), branch, hooks)

    def delete(self, options: CIGenericOptions, ctx: PluginContext) -> None:
        repo = options.repo
        with scm_client(repo, ctx) as client:
            info = client.describe_repo()
            if info is None:
                return  # the repository, and its files and webhooks with it, are gone already
            branch = repo.branch or info.default_branch
            recorded = _Recorded.of(ctx.prior, strip_userinfo(info.html_url), branch, ctx)
            # The webhooks go first: the commit removing the CI files then triggers no build.
            _remove_webhooks(client, {h.url for h in options.ci.webhooks}, recorded.webhooks, ctx)
            try:
                paths = set(ci_targets(options.ci.type, _sources(options, ctx)))
            except PluginError as exc:
                if not recorded.files:
                    raise
                # What dtm wrote is known from its record: the files the options would give cannot add to it.
                ctx.logger.warning("%s: cannot read the CI files (%s); removing those dtm recorded", ctx.key, exc)
                paths = set()
            on_server = client.list_files("", branch)
            gone = sorted(p for p in paths | recorded.files if p in on_server)
            if gone:
                client.push_files({}, f"Remove CI files\n\nRemoved by dtm ({ctx.key}).", branch, delete=gone)

    def output_keys(self, options: CIGenericOptions) -> set[str] | None:
        return {"repoURL", "branch", "paths"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return api_systems(options.get("projectRepo"), options.get("scm"))

    def _push(self, options: CIGenericOptions, ctx: PluginContext, verb: str, prior: ResourceStatus | None
              ) -> ResourceStatus:
        """Put the webhooks and write the CI files; with the prior status, also delete the files it wrote that the
        options no longer produce (in the same commit), then the webhooks it put that the options dropped."""
        repo = options.repo
        name = repo.name or ""
        variables: dict[str, Any] = {"AppName": name, "Repo": {"Name": name, "Owner": repo.namespace}}
        variables.update(options.ci.vars)
        targets = ci_targets(options.ci.type, _sources(options, ctx))
        files = {path: render(text, variables, f"ci file {source}").encode("utf-8")
                 for path, (source, text) in targets.items()}
        with scm_client(repo, ctx) as client:
            info = client.describe_repo()
            if info is None:
                raise PermanentError(f"repository {_where(repo)} does not exist; create it first (repo-scaffolding "
                                     f"does, for an app with a repoTemplate)")
            branch = repo.branch or info.default_branch
            repo_url = strip_userinfo(info.html_url)
            recorded = _Recorded.of(prior, repo_url, branch, ctx)
            # The webhooks before the files: the CI then hears of the commit that brings (or changes) its files.
            hooks = _put_webhooks(client, options.ci.webhooks, ctx) if options.ci.webhooks else None
            dropped = sorted(recorded.files - set(files))
            commit = client.push_files(files, f"{verb} CI files\n\nWritten by dtm ({ctx.key}).", branch,
                                       delete=dropped)
            ctx.logger.info("%s: %d CI file(s) at %s on %s%s", ctx.key, len(files), commit[:12], branch,
                            f"; removed {', '.join(dropped)}" if dropped else "")
            wanted = {h.url for h in options.ci.webhooks}
            _remove_webhooks(client, set(), {u: i for u, i in recorded.webhooks.items() if u not in wanted}, ctx)
        return _status({p: git_blob_sha(data) for p, data in files.items()}, repo_url, branch, hooks)


@dataclass(frozen=True)
class _Recorded:
    """What dtm's recorded status says it made here, in this repository and branch: the files, and the webhooks
    (URL -> the id of the hook it put)."""

    files: frozenset[str] = frozenset()
    webhooks: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, prior: ResourceStatus | None, repo_url: str, branch: str, ctx: PluginContext) -> _Recorded:
        if not prior:
            return cls()
        outputs = prior.get("outputs") or {}
        raw = prior.get("webhooks")
        # URL -> the id a put recorded; anything else in a (hand-edited) record names no hook dtm put.
        webhooks = {str(url): str(summary["id"]) for url, summary in (raw.items() if isinstance(raw, dict) else ())
                    if isinstance(summary, dict) and summary.get("id") is not None}
        there = Place(str(outputs["repoURL"]), outputs.get("branch")) if outputs.get("repoURL") else None
        if not prior_is_here(ctx, there, Place(repo_url, branch),
                             "the CI files and webhooks" if webhooks else "the CI files"):
            return cls()
        # Only paths inside the repository: a record edited by hand must not send a delete elsewhere.
        files = frozenset(p for p in map(str, prior.get("files") or {}) if _inside(p))
        return cls(files, webhooks)


def _summary(info: WebhookInfo) -> dict[str, Any]:
    """A hook as the status keeps it: what the system reports, to compare, and never its secret."""
    out: dict[str, Any] = {"id": info.id, "events": info.events, "active": info.active,
                           "insecure_ssl": info.insecure_ssl, "content_type": info.content_type}
    if info.has_secret is not None:  # GitLab does not tell
        out["has_secret"] = info.has_secret
    return out


def _put_webhooks(client: ScmClient, hooks: Iterable[Webhook], ctx: PluginContext) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for hook in hooks:
        info = client.put_webhook(hook)
        if not info.matches(hook):  # the next read would agree with it, so say so now
            ctx.logger.warning("%s: the webhook for %s is held differently from what the options ask: %s",
                               ctx.key, safe_url(hook.url), _summary(info))
        out[hook.url] = _summary(info)
    return out


def _live_webhooks(client: ScmClient, hooks: Iterable[Webhook]) -> dict[str, dict[str, Any] | None]:
    """URL -> the summary of the hook there; None when there is none; the ids when several share the URL (the
    update then fails naming them, rather than dtm guessing which is its own)."""
    there: dict[str, list[WebhookInfo]] = {}
    for info in client.list_webhooks():
        there.setdefault(info.url, []).append(info)
    out: dict[str, dict[str, Any] | None] = {}
    for hook in hooks:
        found = there.get(hook.url, [])
        out[hook.url] = (_summary(found[0]) if len(found) == 1
                         else {"duplicates": sorted(i.id for i in found)} if found else None)
    return out


def _remove_webhooks(client: ScmClient, declared: set[str], recorded: Mapping[str, str], ctx: PluginContext
                     ) -> None:
    """Delete the hooks for the `declared` URLs, and for the `recorded` ones while the hook there is still the
    one dtm put (its recorded id): one made by hand since at the same URL is left alone."""
    urls = sorted(declared | set(recorded))
    if not urls:
        return  # no webhook request at all: a token without admin rights still manages the files
    there: dict[str, list[str]] = {}
    for info in client.list_webhooks():
        there.setdefault(info.url, []).append(info.id)
    for url in urls:
        ids = there.get(url)
        if not ids:
            continue  # gone already, as wanted
        if url not in declared and ids != [recorded[url]]:
            ctx.logger.warning("%s: the webhook for %s is not the one dtm put (id %s); left alone", ctx.key,
                               safe_url(url), recorded[url])
            continue
        client.delete_webhook(url)


def _inside(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(parts) and parts[0] != "/" and ".." not in parts and ".git" not in parts


def _where(repo: RepoSpec) -> str:
    return strip_userinfo(repo.url) if repo.url else repo.full_name


def _sources(options: CIGenericOptions, ctx: PluginContext) -> dict[str, str]:
    location = options.ci.configLocation
    if location and options.ci.configContents:
        ctx.logger.warning("%s: ci has both configContents and configLocation; the contents are used and "
                           "configLocation (%s) is ignored, as DevStream did: remove one of the two",
                           ctx.key, location)
        location = None
    return load_ci_files(ctx, config_location=location, config_contents=options.ci.configContents)


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


def _status(files: dict[str, str | None], repo_url: str, branch: str,
            webhooks: Mapping[str, dict[str, Any] | None] | None = None) -> ResourceStatus:
    status: ResourceStatus = {"files": dict(sorted(files.items())),
                              "outputs": {"repoURL": repo_url, "branch": branch, "paths": sorted(files)}}
    if webhooks is not None:  # only with webhooks in the options: records made without them show no drift
        status["webhooks"] = dict(sorted(webhooks.items()))
    return status
