"""A simulated Argo CD application controller, for tests against the Kubernetes stand-in.

Argo CD itself cannot run here; what dtm relies on is small and is what this does, through the Kubernetes API
as Argo CD does: it reports a sync and health status on each Application (`report`), and, as its resources
finalizer asks, removes the finalizer of an Application being deleted once "what it deployed" is gone
(`finish_deletions`). `running(...)` does the latter in a background thread while a block runs, calling
`on_delete(app)` first, so a test can look at the world at the moment Argo CD deletes an app.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstream.plugins.kube import KubeClient, resolve_target

__all__ = ["APPLICATION_CRD", "ArgoCD"]

API_VERSION, KIND = "argoproj.io/v1alpha1", "Application"
FINALIZER_PREFIX = "resources-finalizer.argocd.argoproj.io"


APPLICATION_CRD = Path(__file__).parent / "kube_standin" / "reference" / "argocd-application-crd.yaml"
"""Argo CD's Application CRD, as Argo CD publishes it (the stand-in's copy)."""


class ArgoCD:
    """Argo CD's application controller, as far as dtm can tell, on the cluster of `kubeconfig`."""

    def __init__(self, kubeconfig: Path, namespace: str = "argocd") -> None:
        self.kube = KubeClient(resolve_target(kubeconfig=str(kubeconfig)))
        self.namespace = namespace  # Argo CD watches the Applications of its own namespace
        self.deleted: list[str] = []  # namespace/name of the Applications whose deletion it finished

    def close(self) -> None:
        self.kube.close()

    def report(self, name: str, namespace: str = "argocd", *, sync: str = "Synced", health: str = "Healthy") -> None:
        """Report the Application's sync and health status, as the controller does after a sync."""
        self.kube.merge_patch(API_VERSION, KIND, name, {"status": {"sync": {"status": sync},
                                                                   "health": {"status": health}}}, namespace)

    def finish_deletions(self, on_delete: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Remove Argo CD's finalizer from every Application being deleted (its resources "pruned")."""
        for app in self.kube.list(API_VERSION, KIND, self.namespace):
            metadata = app["metadata"]
            if not metadata.get("deletionTimestamp"):
                continue
            finalizers = metadata.get("finalizers") or []
            if not any(f.startswith(FINALIZER_PREFIX) for f in finalizers):
                continue
            if on_delete is not None:
                on_delete(app)
            kept = [f for f in finalizers if not f.startswith(FINALIZER_PREFIX)]
            self.kube.merge_patch(API_VERSION, KIND, metadata["name"], {"metadata": {"finalizers": kept}},
                                  metadata["namespace"])
            self.deleted.append(f"{metadata['namespace']}/{metadata['name']}")

    @contextmanager
    def running(self, on_delete: Callable[[dict[str, Any]], None] | None = None) -> Iterator[ArgoCD]:
        """Finish deletions in a background thread while the block runs."""
        stop = threading.Event()
        failures: list[BaseException] = []

        def loop() -> None:
            while not stop.wait(0.1):
                try:
                    self.finish_deletions(on_delete)
                except BaseException as exc:  # reported when the block ends
                    failures.append(exc)
                    return

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(10)
        if failures:
            raise failures[0]
