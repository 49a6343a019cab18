"""Which cluster a tool talks to: one resolution for the Python client and for the helm and kubectl CLIs.

`resolve_target(options)` picks, in this order:

1. the tool's `kubeconfig` option (relative to the config's folder), with its `context` option;
2. `KUBECONFIG` (one path or several joined by `os.pathsep`, merged as kubectl merges them);
3. `~/.kube/config` when it exists;
4. the pod's service account when dtm runs inside a cluster (`KUBERNETES_SERVICE_HOST` and the token file).

Nothing found is a `ConfigError` that says how to point dtm at a cluster. The target knows how to hand
itself to a CLI (`helm_args`, `kubectl_args`, `env`), so helm and the Python client always reach the same
cluster and context; the client turns it into a connection with `devstream.plugins.kube.kubeconfig`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstream.errors import ConfigError

__all__ = ["SERVICE_ACCOUNT_DIR", "KubeTarget", "in_cluster_available", "resolve_target"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class KubeTarget:
    """A cluster to talk to: kubeconfig files and a context, or the in-cluster service account.

    `kubeconfigs` is empty exactly when `in_cluster`; `context` None means the kubeconfig's current-context.
    `source` says where the choice came from (for messages: "option kubeconfig", "KUBECONFIG"...).
    """

    kubeconfigs: tuple[Path, ...] = ()
    context: str | None = None
    in_cluster: bool = False
    source: str = ""

    def describe(self) -> str:
        """`context kind-dev of /home/me/.kube/config (KUBECONFIG)`: the target as messages name it."""
        if self.in_cluster:
            return "the in-cluster service account"
        files = os.pathsep.join(str(p) for p in self.kubeconfigs)
        ctx = f"context {self.context}" if self.context else "the current context"
        return f"{ctx} of {files} ({self.source})"

    def env(self) -> dict[str, str]:
        """Environment for a helm or kubectl child process: KUBECONFIG set to exactly these files.

        In-cluster, nothing: both CLIs find the service account themselves. The caller's own KUBECONFIG is
        replaced, never merged with, so a child sees the same files the Python client reads.
        """
        return {} if self.in_cluster else {"KUBECONFIG": os.pathsep.join(str(p) for p in self.kubeconfigs)}

    def helm_args(self) -> list[str]:
        """`--kubeconfig FILE` (one file only; several go through `env()`) and `--kube-context NAME`."""
        args = ["--kubeconfig", str(self.kubeconfigs[0])] if len(self.kubeconfigs) == 1 else []
        return args + (["--kube-context", self.context] if self.context else [])

    def kubectl_args(self) -> list[str]:
        """`--kubeconfig FILE` (one file only; several go through `env()`) and `--context NAME`."""
        args = ["--kubeconfig", str(self.kubeconfigs[0])] if len(self.kubeconfigs) == 1 else []
        return args + (["--context", self.context] if self.context else [])


def in_cluster_available(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in a pod with a service account token (as client-go's InClusterConfig checks)."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT")
                and (SERVICE_ACCOUNT_DIR / "token").is_file())


def resolve_target(options: object | None = None, *, kubeconfig: str | None = None, context: str | None = None,
                   workdir: Path | None = None, environ: Mapping[str, str] | None = None) -> KubeTarget:
    """The cluster a tool talks to, from its options (anything with `kubeconfig` and `context`, such as
    `KubeOptions`) or the explicit `kubeconfig`/`context` arguments, then the environment.

    `workdir` is the config's folder, against which a relative `kubeconfig` is taken (`ctx.workdir`).
    """
    environ = os.environ if environ is None else environ
    kubeconfig = kubeconfig if kubeconfig is not None else getattr(options, "kubeconfig", None)
    context = context if context is not None else getattr(options, "context", None)
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_absolute() and workdir is not None:
            path = workdir / path
        if not path.is_file():
            raise ConfigError(f"kubeconfig {path}: no such file; fix the tool's `kubeconfig` option, or remove it "
                              "to use KUBECONFIG or ~/.kube/config")
        return KubeTarget((path,), context, source="option kubeconfig")
    listed = [Path(p).expanduser() for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p.strip()]
    if listed:
        present = tuple(p for p in listed if p.is_file())  # kubectl skips missing files of the list too
        if not present:
            raise ConfigError(f"KUBECONFIG={environ['KUBECONFIG']}: none of its files exists; point it at your "
                              "cluster's kubeconfig, or unset it to use ~/.kube/config")
        return KubeTarget(present, context, source="KUBECONFIG")
    home = Path(environ.get("HOME") or Path.home()) / ".kube" / "config"
    if home.is_file():
        return KubeTarget((home,), context, source="~/.kube/config")
    if in_cluster_available(environ):
        if context:
            raise ConfigError(f"context {context!r}: dtm runs in a cluster with no kubeconfig, so there are no "
                              "contexts to choose from; remove the `context` option or give a `kubeconfig`")
        return KubeTarget((), None, in_cluster=True, source="in-cluster")
    raise ConfigError("no Kubernetes cluster is configured: give the tool a `kubeconfig` option, set KUBECONFIG, "
                      "or create ~/.kube/config (dtm also uses a pod's service account when it runs in a cluster)")
