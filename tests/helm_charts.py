"""A chart repository on 127.0.0.1 with small stand-in charts named like the charts of helm-installer's ten
instance defaults (argo-cd, jenkins, kube-prometheus-stack...) and gitlab-ci's runner (gitlab-runner), so that
they install, upgrade and uninstall with no network.

Built as a real repository is: chart folders packaged with the real `helm package` (each chart at 1.0.0 and
1.1.0, so an upgrade changes the chart version), indexed with `helm repo index`, and served over HTTP. Each chart
holds what its real namesake gives a client to find: a Deployment and a Service named as the chart names them
(`<release>` when the release name contains the chart's name, else `<release>-<chart>`), a ConfigMap holding the
values (so a change of values shows in the cluster), the Service DevStream's devlake getter looks for
(`devlake-lake`), the runner's registration Secret, and Argo CD's CRDs in argo-cd's `crds/`.

Built once per machine and kept, like the npm files of tests/fetched.py: in `~/.cache/dtm/charts/<key>`
(`$DTM_CHART_CACHE` names another folder), where the key is a digest of what the charts are made of (this module,
Argo CD's CRDs, the helm version), under a file lock so that concurrent test workers build it once.

(A module of its own, beside tests/conftest.py, so that every test folder can use its fixtures.)
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_standin.catalogue import REFERENCE  # the official descriptions, copied into the repository

__all__ = ["CHARTS", "ChartRepository", "build_repository", "cached_repository", "chart_repository"]

VERSIONS = ("1.0.0", "1.1.0")
# Each chart: (its name as the instance default names it, its appVersion at 1.0.0).
CHARTS = {
    "argo-cd": "v2.6.0", "artifactory": "7.49.0", "devlake": "v0.15.0", "harbor": "2.7.0", "jenkins": "2.375.2",
    "kube-prometheus-stack": "v0.62.0", "openldap-stack-ha": "2.6.3", "sonarqube": "9.8.0",
    "tekton-pipeline": "v0.43.0", "vault": "1.12.1", "gitlab-runner": "v15.8.0",
}

_HELPERS = """{{- define "standin.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end -}}
"""

_WORKLOAD = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "standin.fullname" . }}
  labels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      containers:
      - name: {{ .Chart.Name }}
        image: {{ .Values.image | quote }}
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "standin.fullname" . }}
spec:
  selector: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
  ports: [{port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "standin.fullname" . }}-values
data:
  chartVersion: {{ .Chart.Version | quote }}
  values.yaml: {{ toYaml .Values | quote }}
"""

_EXTRA = {
    "devlake": """apiVersion: v1
kind: Service
metadata:
  name: devlake-lake
spec:
  selector: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
  ports: [{port: 8080, targetPort: 8080}]
""",
    "gitlab-runner": """apiVersion: v1
kind: Secret
metadata:
  name: {{ include "standin.fullname" . }}
type: Opaque
data:
  runner-registration-token: {{ .Values.runnerRegistrationToken | default "" | b64enc | quote }}
  runner-token: {{ .Values.runnerToken | default "" | b64enc | quote }}
""",
}


@dataclass(frozen=True)
class ChartRepository:
    """The served repository: `url` (what `repo.url` takes), the charts and versions it holds."""

    url: str
    folder: Path
    charts: tuple[str, ...] = tuple(CHARTS)
    versions: tuple[str, ...] = VERSIONS


def _write_chart(root: Path, name: str, app_version: str) -> Path:
    folder = root / name
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": name, "version": VERSIONS[0], "appVersion": app_version,
        "description": f"A small stand-in for the {name} chart (dtm's tests)"}))
    (folder / "values.yaml").write_text(yaml.safe_dump({"replicaCount": 1, "image": f"registry.invalid/{name}:1"}))
    (folder / "templates" / "_helpers.tpl").write_text(_HELPERS)
    (folder / "templates" / "workload.yaml").write_text(_WORKLOAD)
    if name in _EXTRA:
        (folder / "templates" / "extra.yaml").write_text(_EXTRA[name])
    if name == "argo-cd":
        (folder / "crds").mkdir()
        for crd in sorted(REFERENCE.glob("argocd-*-crd.yaml")):
            (folder / "crds" / crd.name).write_text(crd.read_text())
    return folder


def build_repository(helm: Path, root: Path) -> Path:
    """Package every stand-in chart at each version with `helm package` and index them with `helm repo index`."""
    sources, served = root / "src", root / "charts"
    served.mkdir(parents=True)
    folders = [str(_write_chart(sources, name, app)) for name, app in CHARTS.items()]
    env = {**os.environ, "HELM_CONFIG_HOME": str(root / "home" / "config"),
           "HELM_CACHE_HOME": str(root / "home" / "cache"), "HELM_DATA_HOME": str(root / "home" / "data")}
    for version in VERSIONS:
        subprocess.run([str(helm), "package", *folders, "--version", version, "--destination", str(served)],
                       check=True, capture_output=True, env=env, timeout=120)
    subprocess.run([str(helm), "repo", "index", str(served)], check=True, capture_output=True, env=env, timeout=120)
    return served


def _inputs_digest(helm: Path) -> str:
    """What the built repository depends on: this module's text, Argo CD's CRDs, and which helm packages it."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for crd in sorted(REFERENCE.glob("argocd-*-crd.yaml")):
        digest.update(crd.name.encode() + b"\0" + crd.read_bytes())
    digest.update(str(helm.resolve()).encode() + str(helm.stat().st_size).encode())
    return digest.hexdigest()[:16]


def cached_repository(helm: Path) -> Path:
    """The packaged and indexed charts' folder, built into the cache first when missing (once per machine and
    inputs; the lock makes a concurrent builder wait, then find it built)."""
    cache = Path(os.environ.get("DTM_CHART_CACHE") or Path.home() / ".cache" / "dtm" / "charts").expanduser()
    key = _inputs_digest(helm)
    built = cache / key
    if (built / "index.yaml").is_file():
        return built
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / "index.yaml").is_file():
            scratch = cache / f".{key}.partial"
            shutil.rmtree(scratch, ignore_errors=True)  # a build cut short
            build_repository(helm, scratch).rename(built)
            shutil.rmtree(scratch)
    return built


@pytest.fixture(scope="session")
def chart_repository(kube_binaries: Any) -> Iterator[ChartRepository]:
    """The stand-in charts' repository, served on 127.0.0.1 for the whole session (helm from `kube_binaries`)."""
    folder = cached_repository(kube_binaries.helm)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ChartRepository(url=f"http://127.0.0.1:{server.server_address[1]}", folder=folder)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass
