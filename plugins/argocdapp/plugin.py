"""The argocdapp plugin: an Argo CD Application deploying a Helm chart from the app's git repository.

Create and update push the chart into the repository when `source.path` holds no files (`chart.py`), then
apply the Application server-side as field manager `dtm` through the Kubernetes layer (`plugins/kube/`): a
field dtm sets and someone changed by hand is taken back. Read returns the live Application's status
(`application.py`), None when there is none. Delete removes the Application and waits, at most `deleteTimeout`
seconds, until it is gone: with `cascade: foreground` (DevStream's) Argo CD first deletes what it deployed,
then drops its finalizer; `background` lets the Application go at once and its resources after; `none` puts no
finalizer on it (one dtm put there before is taken off first), so the deployed resources stay running. Then
the chart files dtm pushed and nobody changed since are removed from the repository.

`dtm import KEY namespace/name` adopts an Application made another way (`argocd app create`, the Argo CD UI):
the record is what create would have made from the options, so the next plan shows where the live one
differs as drift, and apply takes those fields over. Unless imported with `--owned`, delete leaves it (and
what it deployed) in place, and no chart is pushed for it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from devstream.errors import KubernetesError, PermanentError, TransientError
from devstream.plugin.apps import AppInfo, deep_merge
from devstream.plugin.base import Plugin, PluginContext, ResourceStatus, still_adopted
from devstream.plugins.argocdapp.application import API_VERSION, KIND, argo_finalizers, manifest, status_of
from devstream.plugins.argocdapp.chart import push_chart, remove_chart
from devstream.plugins.argocdapp.options import ArgocdAppOptions
from devstream.plugins.kube import SYSTEM, KubeClient, client_for
from devstream.plugins.scm.base import api_systems

__all__ = ["ArgocdAppPlugin"]


class ArgocdAppPlugin(Plugin[ArgocdAppOptions]):
    """An Argo CD Application (argoproj.io/v1alpha1) for a Helm chart in the app's repository."""

    name: ClassVar[str] = "argocdapp"
    Options: ClassVar[type[ArgocdAppOptions]] = ArgocdAppOptions
    description: ClassVar[str] = ("An Argo CD Application deploying a Helm chart from a git repository; pushes a "
                                  "starter chart there when the path holds none.")
    import_id: ClassVar[str] = "the Application as namespace/name, e.g. argocd/hello"

    @classmethod
    def options_for_app(cls, options: dict[str, Any], app: AppInfo) -> dict[str, Any]:
        """DevStream's defaults: the Application named after the app in namespace argocd, deploying to namespace
        default of the cluster Argo CD runs in, the chart at `helm/<app>` (values.yaml) of the app's repository
        (its URL, branch, token, and scmType and apiURL, which the URL may not tell), and the `imageRepo` of
        the app's CI (without its password)."""
        repo = app.repo
        source: dict[str, Any] = {"valuefile": "values.yaml", "path": f"helm/{app.name}"}
        if "repoURL" not in (options.get("source") or {}):
            source |= {"repoURL": repo["url"], "repoBranch": repo["branch"]}
            # What the URL alone may not tell the chart push: the system, and its API (GitHub Enterprise...).
            source |= {k: repo[k] for k in ("token", "scmType", "apiURL") if k in repo}
        defaults: dict[str, Any] = {
            "app": {"name": app.name, "namespace": "argocd"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            "source": source,
        }
        if isinstance(app.image_repo, Mapping):  # the image, not the CI's registry password
            defaults["imageRepo"] = {k: copy.deepcopy(v) for k, v in app.image_repo.items() if k != "password"}
        elif app.image_repo is not None:
            defaults["imageRepo"] = copy.deepcopy(app.image_repo)
        return deep_merge(defaults, options)

    def create(self, options: ArgocdAppOptions, ctx: PluginContext) -> ResourceStatus:
        return self._converge(options, ctx)

    def update(self, options: ArgocdAppOptions, ctx: PluginContext) -> ResourceStatus:
        adopted = bool((ctx.prior or {}).get("adopted"))  # the chart of an adopted Application is the team's
        return still_adopted(self._converge(options, ctx, push=not adopted), ctx.prior)

    def read(self, options: ArgocdAppOptions, ctx: PluginContext) -> ResourceStatus | None:
        with client_for(options, ctx) as cluster:
            live = _live(cluster, options)
        if live is None:
            return None
        return still_adopted(status_of(live, _chart_record(ctx.prior)), ctx.prior)

    def import_resource(self, resource_id: str, options: ArgocdAppOptions, ctx: PluginContext
                        ) -> ResourceStatus | None:
        name, namespace = options.app.name, options.app.namespace
        if resource_id.strip().strip("/") != f"{namespace}/{name}":
            raise PermanentError(f"{resource_id} is not the Application {ctx.key} describes ({namespace}/{name}); "
                                 f"import that one, or change app.name and app.namespace")
        with client_for(options, ctx) as cluster:
            live = _live(cluster, options)
        if live is None:
            return None
        if (live.get("metadata") or {}).get("deletionTimestamp"):
            raise PermanentError(f"{ctx.key}: Application {namespace}/{name} is being deleted; nothing to import")
        # As create would have made it (with what Argo CD reports now): the live fields that differ from the
        # options are drift at the next plan. dtm pushed no chart for it, so delete takes none back.
        status = status_of({**manifest(options), "status": live.get("status")}, None)
        return status if ctx.owned else {**status, "adopted": True}

    def delete(self, options: ArgocdAppOptions, ctx: PluginContext) -> None:
        name, namespace = options.app.name, options.app.namespace
        if (ctx.prior or {}).get("adopted"):
            ctx.logger.warning("%s: Application %s/%s was adopted by dtm import, not made by dtm, so it is left in "
                               "place with what it deployed", ctx.key, namespace, name)
            return
        with client_for(options, ctx) as cluster:
            live = _live(cluster, options)
            if live is not None:
                if options.finalizer is None:
                    _drop_argo_finalizers(cluster, live, options)  # cascade none: the deployed resources stay
                cluster.delete(API_VERSION, KIND, name, namespace)
                _wait_gone(cluster, options, ctx)
        remove_chart(_chart_record(ctx.prior), options, ctx)

    def output_keys(self, options: ArgocdAppOptions) -> set[str] | None:
        return {"name", "namespace", "repoURL", "path", "sync", "health"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        source = options.get("source") if isinstance(options, Mapping) else None
        repo: dict[str, Any] = {}
        if isinstance(source, Mapping):
            repo = {k: source[k] for k in ("scmType", "apiURL") if k in source}
            if "repoURL" in source:
                repo["url"] = source["repoURL"]
        return {SYSTEM} | api_systems(repo)

    # -- helpers -----------------------------------------------------------------------------------------
    def _converge(self, options: ArgocdAppOptions, ctx: PluginContext, push: bool = True) -> ResourceStatus:
        name, namespace = options.app.name, options.app.namespace
        with client_for(options, ctx) as cluster:
            live = _live(cluster, options)
            if live is None and not _argo_cd_installed(cluster):
                raise PermanentError(f"{ctx.key}: the cluster serves no Argo CD Application kind ({API_VERSION}): "
                                     f"install Argo CD first (helm-installer with instanceID argocd) and make this "
                                     f"tool depend on it")
            if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
                raise TransientError(f"{ctx.key}: Application {namespace}/{name} is being deleted (Argo CD is "
                                     f"removing what it deployed); apply again once it is gone")
            pushed = push_chart(options, ctx) if push else None
            applied = cluster.apply(manifest(options))
            applied = _drop_argo_finalizers(cluster, applied, options)
        chart = pushed if pushed is not None else _chart_record(ctx.prior)
        return status_of(applied, chart)


def _live(cluster: KubeClient, options: ArgocdAppOptions) -> dict[str, Any] | None:
    """The live Application, None when there is none (or no Argo CD at all: its kind is not served)."""
    try:
        return cluster.get(API_VERSION, KIND, options.app.name, options.app.namespace)
    except KubernetesError as exc:
        if exc.code == 404:
            return None
        raise


def _argo_cd_installed(cluster: KubeClient) -> bool:
    try:
        cluster.resource(API_VERSION, KIND)
    except KubernetesError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def _drop_argo_finalizers(cluster: KubeClient, live: dict[str, Any], options: ArgocdAppOptions) -> dict[str, Any]:
    """Take off the Argo CD resources finalizers the options do not ask for (one dtm set before `cascade`
    changed); other finalizers stay. The patch carries the resourceVersion read, so a concurrent change makes it
    fail (409, retried) rather than be overwritten."""
    metadata = live.get("metadata") or {}
    unwanted = [f for f in argo_finalizers(live) if f != options.finalizer]
    if not unwanted:
        return live
    kept = [f for f in metadata.get("finalizers") or [] if f not in unwanted]
    return cluster.merge_patch(API_VERSION, KIND, options.app.name,
                               {"metadata": {"finalizers": kept, "resourceVersion": metadata.get("resourceVersion")}},
                               options.app.namespace)


def _wait_gone(cluster: KubeClient, options: ArgocdAppOptions, ctx: PluginContext) -> None:
    """Wait (at most deleteTimeout) until the Application is gone: Argo CD removes its finalizer once it has
    deleted what the Application deployed."""
    name, namespace = options.app.name, options.app.namespace
    try:
        cluster.wait_deleted(API_VERSION, KIND, name, namespace, timeout=options.deleteTimeout)
    except TransientError as exc:
        raise PermanentError(
            f"{ctx.key}: Application {namespace}/{name} is still there {options.deleteTimeout} s after dtm deleted "
            f"it ({exc}). Argo CD's application controller removes its finalizer once it has deleted what the app "
            f"deployed: check that Argo CD runs, then destroy again; to leave the deployed resources running "
            f"instead, set `cascade: none` and destroy again (dtm then takes its finalizer off)") from None


def _chart_record(prior: ResourceStatus | None) -> dict[str, Any] | None:
    chart = (prior or {}).get("chart")
    return chart if isinstance(chart, dict) else None
