"""The helm 3 CLI, run with a home of dtm's own: the one way dtm's plugins install Helm charts.

Why the real CLI and not pyhelm3: pyhelm3 is asyncio-only (every plugin call here is synchronous, in a Prefect
worker thread), and it runs helm with the process's own environment, so it cannot give each call a repository
config of dtm's own without setting process-wide variables that concurrent tasks would share. Running helm
ourselves is a handful of commands whose `-o json` output is stable across Helm 3 releases.

Where things live: helm's config, cache and data homes, its repository config (`repositories.yaml`) and
repository cache all sit under `DTM_HELM_HOME` (default `~/.cache/dtm/helm`), never in the user's
~/.config/helm, so `dtm apply` neither reads nor rewrites the user's repositories. The binary is `DTM_HELM`,
else `helm` on PATH. The cluster is the one the Kubernetes layer resolves for the tool (`Helm.for_cluster`: its
`kubeconfig` and `context` options, KUBECONFIG, ~/.kube/config, in-cluster), handed to helm as flags.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstream.errors import PermanentError, TransientError

__all__ = ["HELM_ENV", "HELM_HOME_ENV", "Helm", "helm_home"]

HELM_ENV = "DTM_HELM"
HELM_HOME_ENV = "DTM_HELM_HOME"
_RUN_TIMEOUT_SLACK = 120  # seconds beyond a command's own --timeout before dtm gives up on the process
_DEFAULT_RUN_TIMEOUT = 300

# helm's own variables that would point it at the user's files; dtm sets its own instead.
_USER_HELM_VARS = ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME", "HELM_REPOSITORY_CONFIG",
                   "HELM_REPOSITORY_CACHE", "HELM_REGISTRY_CONFIG", "HELM_PLUGINS", "HELM_NAMESPACE",
                   "HELM_KUBECONTEXT", "HELM_DRIVER")

# What a failed command says when retrying may help: the cluster or a chart repository unreachable or busy.
_TRANSIENT = re.compile(
    r"connection refused|connection reset|i/o timeout|timed? ?out|deadline exceeded|TLS handshake|"
    r"no such host|temporary failure in name resolution|server is currently unable|too many requests|"
    r"\b(429|502|503|504)\b|another operation \(install/upgrade/rollback\) is in progress|EOF$|"
    r"unexpected EOF|etcdserver", re.I | re.M)
# What helm says of a release it has no record of (status, history, uninstall); nothing broader, so that a
# missing kube context is never taken for a missing release.
_NOT_FOUND = re.compile(r"release: not found", re.I)


def helm_home() -> Path:
    """dtm's own helm home (config, cache, data, repositories), shared by every dtm run of this user."""
    configured = os.environ.get(HELM_HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dtm" / "helm"


def _duration_seconds(text: str) -> float:
    """Seconds in a Go duration such as "10m", "1.5h" or "2h45m" (already validated by the options)."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text))


@dataclass
class Helm:
    """One cluster (kubeconfig and context), reached through the helm binary with dtm's helm home.

    Every command's failure is a TransientError when retrying may help (the cluster or a repository
    unreachable, a release busy with another operation), a PermanentError otherwise, with helm's message.
    """

    kubeconfig: str | None = None
    context: str | None = None
    home: Path = field(default_factory=helm_home)
    executable: str | None = None
    # A cluster given as the Kubernetes layer resolves it (KubeTarget.helm_args() and .env()), instead of
    # kubeconfig and context.
    cluster_args: list[str] | None = None
    cluster_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_cluster(cls, options: object, workdir: Path) -> Helm:
        """helm for the cluster a tool's options name (`kubeconfig`, `context`), resolved by the Kubernetes layer
        as its API client resolves it, so both reach the same cluster and context."""
        from devstream.errors import ConfigError
        from devstream.plugins.kube import resolve_target

        try:
            target = resolve_target(options, workdir=workdir)
        except ConfigError as exc:  # no cluster to talk to: retrying will not find one
            raise PermanentError(str(exc)) from None
        return cls(cluster_args=target.helm_args(), cluster_env=target.env())

    def __post_init__(self) -> None:
        found = self.executable or os.environ.get(HELM_ENV) or shutil.which("helm")
        if not found or not Path(found).exists():
            raise PermanentError("the helm 3 command is not installed: install Helm 3 (https://helm.sh/docs/intro/"
                                 f"install/) so that `helm` is on PATH, or set {HELM_ENV} to its path")
        self.executable = str(found)

    @property
    def repository_config(self) -> Path:
        return self.home / "repositories.yaml"

    @property
    def repository_cache(self) -> Path:
        return self.home / "repository"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _USER_HELM_VARS}
        env.update(self.cluster_env)
        env.update({
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
            "HELM_REPOSITORY_CONFIG": str(self.repository_config),
            "HELM_REPOSITORY_CACHE": str(self.repository_cache),
            "HELM_REGISTRY_CONFIG": str(self.home / "config" / "registry" / "config.json"),
        })
        return env

    def _cluster_flags(self) -> list[str]:
        if self.cluster_args is not None:
            return list(self.cluster_args)
        flags = []
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--kube-context", self.context]
        return flags

    def run(self, args: Sequence[str], *, input: str | None = None, timeout: str | None = None,
            cluster: bool = True) -> str:
        """Run `helm ARGS` and return its standard output; raise on failure (see the class)."""
        self.home.mkdir(parents=True, exist_ok=True)
        command = [str(self.executable), *args, *(self._cluster_flags() if cluster else [])]
        limit = _duration_seconds(timeout) + _RUN_TIMEOUT_SLACK if timeout else _DEFAULT_RUN_TIMEOUT
        what = f"helm {' '.join(args[:2])}"
        try:
            done = subprocess.run(command, input=input, capture_output=True, text=True, env=self.environment(),
                                  timeout=limit, stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TransientError(f"{what} did not finish within {limit:.0f} s") from None
        except OSError as exc:
            raise PermanentError(f"cannot run {self.executable}: {exc}") from None
        if done.returncode != 0:
            message = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}")
            message = message.removeprefix("Error: ")
            cls = TransientError if _TRANSIENT.search(message) else PermanentError
            raise cls(f"{what} failed: {message}")
        return done.stdout

    def version(self) -> str:
        return self.run(["version", "--short"], cluster=False).strip()

    @contextmanager
    def _repositories_locked(self, shared: bool = False) -> Iterator[None]:
        """helm rewrites repositories.yaml in place: writers (repo add) take the lock alone, readers (pull) share
        it, so that no helm reads a half-written file ("repo not found") while tools run concurrently."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".repositories.dtm-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add_repository(self, name: str, url: str) -> None:
        """Add (or point again) the chart repository `name` at `url` in dtm's repository config; helm fetches its
        index each time, so that `name/chart` resolves to the newest chart it serves now."""
        with self._repositories_locked():
            self.run(["repo", "add", "--force-update", name, url], cluster=False)

    def pull(self, chart: str, version: str | None, destination: Path) -> Path:
        """Download `repo/chart` (the newest, or `version`, which may be a range) from dtm's repositories into
        `destination`, and return the packaged chart: installs then read no repository config."""
        destination.mkdir(parents=True, exist_ok=True)
        with self._repositories_locked(shared=True):
            self.run(["pull", chart, "--destination", str(destination), *(["--version", version] if version else [])],
                     cluster=False)
        pulled = sorted(destination.glob("*.tgz"))
        if len(pulled) != 1:
            raise PermanentError(f"helm pull {chart} left {len(pulled)} charts in {destination}, not one")
        return pulled[0]

    def status(self, release: str, namespace: str) -> dict[str, Any] | None:
        """The release as `helm status -o json --show-resources` gives it (the chart's objects with their live
        state under info.resources), or None when there is no such release. Helm 3's status leaves the chart out:
        its name, version and appVersion are added under chart.metadata from `helm get metadata`."""
        try:
            live = json.loads(self.run(["status", release, "--namespace", namespace, "--output", "json",
                                        "--show-resources"]))
            if not (live.get("chart") or {}).get("metadata"):
                metadata = json.loads(self.run(["get", "metadata", release, "--namespace", namespace,
                                                "--output", "json"]))
                live["chart"] = {"metadata": {"name": metadata.get("chart"), "version": metadata.get("version"),
                                              "appVersion": metadata.get("appVersion")}}
        except PermanentError as exc:
            if _NOT_FOUND.search(str(exc)):
                return None
            raise
        return dict(live)

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        try:
            text = self.run(["history", release, "--namespace", namespace, "--output", "json"])
        except PermanentError as exc:
            if _NOT_FOUND.search(str(exc)):
                return []
            raise
        return list(json.loads(text) or [])

    def upgrade_install(self, release: str, chart: str, namespace: str, *, values_yaml: str, version: str | None,
                        wait: bool, atomic: bool, timeout: str, create_namespace: bool) -> None:
        """`helm upgrade --install`: install the release, or upgrade it to this chart with exactly these values
        (`--reset-values`: values set by hand since are dropped, as the config is the truth). The values go
        through standard input, so they never touch the disk nor the process list."""
        args = ["upgrade", "--install", release, chart, "--namespace", namespace, "--values", "-",
                "--reset-values", "--timeout", timeout]
        if version:
            args += ["--version", version]
        if create_namespace:
            args.append("--create-namespace")
        if wait:
            args.append("--wait")
        if atomic:
            args.append("--atomic")
        self.run(args, input=values_yaml or "{}\n", timeout=timeout)

    def show_crds(self, chart: str, version: str | None) -> str:
        return self.run(["show", "crds", chart, *(["--version", version] if version else [])], cluster=False)

    def uninstall(self, release: str, namespace: str, *, wait: bool, timeout: str) -> bool:
        """Uninstall the release; False when it was already gone."""
        args = ["uninstall", release, "--namespace", namespace, "--timeout", timeout]
        if wait:
            args.append("--wait")
        try:
            self.run(args, timeout=timeout)
        except PermanentError as exc:
            if _NOT_FOUND.search(str(exc)):
                return False
            raise
        return True
