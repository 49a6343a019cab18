"""The Kubernetes layer: which cluster (`config`, `kubeconfig`), the options every Kubernetes plugin takes
(`options`), and the API client (`client`), shared by every plugin that runs on Kubernetes and by the `k8s` state
backend. A plugin gets its client with `client_for(options, ctx)`; its tasks are tagged `dtm-system-kubernetes`
(return `{SYSTEM}` from the plugin's `systems`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devstream.plugins.kube.client import FIELD_MANAGER, KubeClient, deployment_ready
from devstream.plugins.kube.config import KubeTarget, resolve_target
from devstream.plugins.kube.options import KubeOptions

if TYPE_CHECKING:
    from devstream.plugin import PluginContext

__all__ = ["FIELD_MANAGER", "SYSTEM", "KubeClient", "KubeOptions", "KubeTarget", "client_for", "deployment_ready",
           "resolve_target"]

SYSTEM = "kubernetes"
"""The system name Kubernetes plugins return from `systems()`: their task runs are tagged `dtm-system-kubernetes`."""


def client_for(options: object, ctx: PluginContext) -> KubeClient:
    """The client of the cluster a tool's options name (`kubeconfig`, `context`, relative to the config's folder),
    on the plugin context's retrying HTTP client and logger."""
    target = resolve_target(options, workdir=ctx.workdir)
    return KubeClient(target, client_factory=ctx.http_client, logger=ctx.logger)
