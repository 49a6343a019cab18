"""The options every Kubernetes plugin's options include: which cluster, through which kubeconfig and context."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["KubeOptions"]


class KubeOptions(BaseModel):
    """Mixin: where the cluster is. Subclass it together with `PluginOptions` (`class O(PluginOptions,
    KubeOptions)`), so a plugin's options take `kubeconfig` and `context` beside its own.

    Neither given: `KUBECONFIG` (one file, or several joined by `:`, merged as kubectl merges them), else
    `~/.kube/config`, else the pod's service account when dtm runs inside a cluster (see
    `devstream.plugins.kube.config.resolve_target`).
    """

    kubeconfig: str | None = Field(default=None, min_length=1, description="The kubeconfig file of the cluster "
                                   "(a relative path is relative to the config's folder); default KUBECONFIG, "
                                   "else ~/.kube/config, else the in-cluster service account.")
    context: str | None = Field(default=None, min_length=1, description="The kubeconfig context to use; default "
                                "the kubeconfig's current-context.")
