"""The Argo CD Application argocdapp makes, and its status as dtm records it.

The manifest is DevStream's (its `tpl/helm.tpl.yaml`): a Helm source with one values file, automated sync with
prune and self-heal, Argo CD's resources finalizer; plus what DevStream fixed (the project and the target
revision are options, the finalizer follows `cascade`) and dtm's managed-by label.

The status holds what the live Application says (DevStream's `app`, `src` and `dest`, and the project, sync
policy and finalizers dtm sets), so a hand edit of any of them (`kubectl edit`, the Argo CD UI) is drift that
the next apply puts back. Its outputs carry the Application's name and namespace, the chart's repository and
path, and what Argo CD reports: `sync` (Synced, OutOfSync...) and `health` (Healthy, Progressing, Degraded...),
`Unknown` until Argo CD has looked at it. A change of those two is drift too: `dtm drift` on a schedule
reports an app that went Degraded or OutOfSync; the next apply re-applies the unchanged Application (nothing
changes in the cluster) and records what Argo CD reports then.
"""

from __future__ import annotations

from typing import Any

from devstream.plugins.argocdapp.options import FINALIZERS, ArgocdAppOptions

__all__ = ["API_VERSION", "KIND", "argo_finalizers", "manifest", "status_of"]

API_VERSION = "argoproj.io/v1alpha1"
KIND = "Application"


def manifest(options: ArgocdAppOptions) -> dict[str, Any]:
    """The Application the options describe (what dtm applies, server-side, as field manager dtm)."""
    metadata: dict[str, Any] = {"name": options.app.name, "namespace": options.app.namespace,
                                "labels": {"app.kubernetes.io/managed-by": "dtm"}}
    if options.finalizer is not None:
        metadata["finalizers"] = [options.finalizer]
    source = options.source
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "project": options.project,
            "destination": {"server": options.destination.server, "namespace": options.destination.namespace},
            "source": {"repoURL": source.repoURL, "path": source.path, "targetRevision": source.targetRevision,
                       "helm": {"valueFiles": [source.valuefile]}},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def argo_finalizers(live: dict[str, Any]) -> list[str]:
    """The Argo CD resources finalizers the live Application carries (others' finalizers are not dtm's)."""
    return sorted(f for f in (live.get("metadata") or {}).get("finalizers") or [] if f in FINALIZERS.values())


def status_of(live: dict[str, Any], chart: dict[str, Any] | None) -> dict[str, Any]:
    """The status of a live Application; `chart` is the record of the chart dtm pushed (None: it pushed none)."""
    metadata = live.get("metadata") or {}
    spec = live.get("spec") or {}
    source = spec.get("source") or {}
    destination = spec.get("destination") or {}
    reported = live.get("status") or {}
    value_files = list((source.get("helm") or {}).get("valueFiles") or [])
    status: dict[str, Any] = {
        "app": {"name": metadata.get("name"), "namespace": metadata.get("namespace")},
        "src": {"repoURL": source.get("repoURL"), "path": source.get("path"),
                "valueFile": value_files[0] if len(value_files) == 1 else value_files,
                "targetRevision": source.get("targetRevision")},
        "dest": {"server": destination.get("server"), "namespace": destination.get("namespace")},
        "project": spec.get("project"),
        "syncPolicy": spec.get("syncPolicy") or {},
        "finalizers": argo_finalizers(live),
    }
    if metadata.get("deletionTimestamp"):
        status["deleting"] = metadata["deletionTimestamp"]  # Argo CD is deleting it: a re-create must wait
    if chart is not None:
        status["chart"] = chart
    status["outputs"] = {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "repoURL": source.get("repoURL"),
        "path": source.get("path"),
        "sync": (reported.get("sync") or {}).get("status") or "Unknown",
        "health": (reported.get("health") or {}).get("status") or "Unknown",
    }
    return status
