"""A Kubernetes API server stand-in that the real kubectl and helm binaries accept (see tests/kube_cluster.py
for the fixtures). Modules by concern: catalogue (what is served), store, discovery, openapi (+ protobuf), validation,
selectors, patches, fields (managedFields, server-side apply), api (the verbs), cluster (simulated controllers),
server (HTTP, watch streaming)."""

from .server import Request, StandIn

__all__ = ["Request", "StandIn"]
