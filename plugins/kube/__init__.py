"""The Kubernetes layer: which cluster (`config`), the options every Kubernetes plugin takes (`options`), and the
API client (`client`), shared by every plugin that runs on Kubernetes and by the `k8s` state backend."""

from __future__ import annotations

from devstream.plugins.kube.config import KubeTarget, resolve_target
from devstream.plugins.kube.options import KubeOptions

__all__ = ["KubeOptions", "KubeTarget", "resolve_target"]
