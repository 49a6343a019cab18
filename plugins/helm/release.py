"""A Helm release as dtm declares it (`ReleaseSpec`), made real (`ensure_release`) and read back as a status whose
every field is something a hand-made change alters (`release_status`): uninstalled (None), values changed
(`valuesDigest`), rolled back or upgraded by hand (`revision`, `lastAction`, `chartVersion`), an object of the
release deleted or edited by hand (`resources`), a workload not ready (`workflows`, DevStream's own status).

Shared by every plugin that installs a chart: helm-installer, and gitlab-ci's runner.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstream.errors import PermanentError
from devstream.plugins.helm.cli import Helm

__all__ = ["ReleaseSpec", "chart_crds", "ensure_release", "release_resources", "release_status", "remove_release",
           "values_digest"]


@dataclass(frozen=True)
class ReleaseSpec:
    """What to install: the chart (a `repo/chart` name with its repository, or a local chart path), where, and
    with which values (a YAML text, possibly holding secrets: it is only ever passed to helm on stdin)."""

    release: str
    namespace: str
    chart: str
    values_yaml: str = ""
    version: str | None = None
    repo_name: str | None = None
    repo_url: str | None = None
    wait: bool = True
    timeout: str = "10m"
    create_namespace: bool = True
    upgrade_crds: bool = True

    @property
    def values(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.values_yaml) if self.values_yaml.strip() else None
        return dict(loaded or {})

    @property
    def source(self) -> str:
        """Where the chart comes from, as recorded in the status: a change of it is a change of the chart."""
        return f"{self.repo_url}#{self.chart}" if self.repo_url else self.chart


def values_digest(values: Mapping[str, Any] | None) -> str:
    """A fingerprint of release values: compared, never shown (values may hold passwords and tokens)."""
    text = json.dumps(values or {}, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _objects(resources: Any) -> Iterator[dict[str, Any]]:
    """Every object under helm's info.resources (a map of kind to objects; lists and tables unfolded: helm asks the
    API server for tables, each row holding its whole object, and takes plain objects from one that has none)."""
    if isinstance(resources, Mapping):
        if resources.get("kind") == "Table" and "rows" in resources:
            for row in resources.get("rows") or []:
                yield from _objects((row or {}).get("object"))
            return
        if "kind" in resources and "metadata" in resources:
            if resources.get("kind", "").endswith("List"):
                yield from _objects(resources.get("items", []))
            else:
                yield dict(resources)
            return
        for value in resources.values():
            yield from _objects(value)
    elif isinstance(resources, list):
        for item in resources:
            yield from _objects(item)


def release_resources(live: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The release's objects with their live state, from `helm status --show-resources` (its map of kind to objects;
    the pods helm lists under `v1/Pod(related)` are the workloads' own, not the release's, and come and go)."""
    resources = (live.get("info") or {}).get("resources") or {}
    return [obj for key, objects in resources.items() if not str(key).endswith("(related)")
            for obj in _objects(objects)]


def _ready(obj: Mapping[str, Any]) -> bool:
    """DevStream's readiness rules: all replicas ready (Deployment, StatefulSet), all scheduled pods ready
    (DaemonSet)."""
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if obj.get("kind") == "DaemonSet":
        return int(status.get("numberReady") or 0) == int(status.get("desiredNumberScheduled") or 0)
    replicas = spec.get("replicas")
    return int(status.get("readyReplicas") or 0) == int(1 if replicas is None else replicas)


def workflows(live: Mapping[str, Any]) -> str:
    """DevStream's `workflows` status: the release's Deployments, StatefulSets and DaemonSets and whether each
    is ready, as the YAML text DevStream stored."""
    found: dict[str, list[dict[str, Any]]] = {"deployment": [], "statefulset": [], "daemonset": []}
    for obj in release_resources(live):
        key = str(obj.get("kind", "")).lower()
        if key in found:
            found[key].append({"name": obj["metadata"].get("name"), "ready": _ready(obj)})
    for items in found.values():
        items.sort(key=lambda item: str(item["name"]))
    return yaml.safe_dump(found, sort_keys=False)


def resource_digests(live: Mapping[str, Any]) -> dict[str, str]:
    """Each object of the release (`Kind/namespace/name`) and a fingerprint of what it declares (all but metadata
    and status), as the cluster holds it: an object deleted or edited by hand (`kubectl delete`, `kubectl patch`)
    changes this, and `helm upgrade` puts it back."""
    found = {}
    for obj in release_resources(live):
        meta = obj.get("metadata") or {}
        key = f"{obj.get('kind')}/{meta.get('namespace') or ''}/{meta.get('name')}".replace("//", "/")
        found[key] = values_digest({k: v for k, v in obj.items() if k not in ("metadata", "status")})
    return dict(sorted(found.items()))


def release_status(live: Mapping[str, Any], spec_source: str | None = None) -> dict[str, Any]:
    """The status dtm records for a live release (`helm status -o json --show-resources`)."""
    info = live.get("info") or {}
    metadata = (live.get("chart") or {}).get("metadata") or {}
    status: dict[str, Any] = {
        "release": live.get("name"),
        "namespace": live.get("namespace"),
        "revision": live.get("version"),
        "status": info.get("status"),
        "lastAction": info.get("description"),
        "chart": metadata.get("name"),
        "chartVersion": metadata.get("version"),
        "appVersion": metadata.get("appVersion"),
        "valuesDigest": values_digest(live.get("config")),
        "workflows": workflows(live),
        "resources": resource_digests(live),
    }
    if spec_source is not None:
        status["source"] = spec_source
    status["outputs"] = {key: status[key] for key in
                         ("release", "namespace", "revision", "chart", "chartVersion", "appVersion")}
    return status


def _matches(spec: ReleaseSpec, live: Mapping[str, Any], prior: Mapping[str, Any] | None) -> bool:
    """Whether the live release is already what `spec` asks, as dtm last made it: deployed, the same values,
    chart and version, the same revision dtm recorded (so a `helm rollback` or upgrade by hand is repaired)."""
    if not prior:
        return False
    info = live.get("info") or {}
    metadata = (live.get("chart") or {}).get("metadata") or {}
    return (info.get("status") == "deployed"
            and values_digest(live.get("config")) == values_digest(spec.values)
            and prior.get("source") == spec.source
            and prior.get("revision") == live.get("version")
            and prior.get("chartVersion") == metadata.get("version")
            and prior.get("resources") == resource_digests(live)
            and (not spec.version or spec.version == metadata.get("version")))


def chart_crds(chart: Path) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions in a chart's crds/ folder (a packaged .tgz or a chart folder), read without
    unpacking anything. (`helm show crds` prints the files one after the other with no document separator, so
    its text cannot be split reliably.)"""
    texts: list[str] = []
    if chart.is_dir():
        texts = [p.read_text() for p in sorted((chart / "crds").glob("**/*")) if p.suffix in (".yaml", ".yml", ".json")]
    else:
        with tarfile.open(chart) as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                parts = member.name.split("/")
                if member.isfile() and len(parts) >= 3 and parts[1] == "crds" and \
                        member.name.endswith((".yaml", ".yml", ".json")):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        texts.append(handle.read().decode())
    return [doc for text in texts for doc in yaml.safe_load_all(text)
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]


def _chart_reference(helm: Helm, spec: ReleaseSpec, folder: Path) -> tuple[str, str | None]:
    """The chart to install and the version to ask for: a chart from a repository is pulled into `folder` first
    (the packaged chart of the version asked), a local chart is used as it is."""
    if not spec.repo_url:
        return spec.chart, spec.version
    if not spec.repo_name:
        raise PermanentError(f"chart {spec.chart!r}: the repository {spec.repo_url} has no name (repo.name)")
    helm.add_repository(spec.repo_name, spec.repo_url)
    return str(helm.pull(spec.chart, spec.version, folder)), None


def ensure_release(helm: Helm, spec: ReleaseSpec, log: logging.Logger, prior: Mapping[str, Any] | None = None,
                   apply_crds: Callable[[list[dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """Install the release, or upgrade it unless it already is what the spec asks (an update to the same options
    changes nothing); return the live release (`helm status` JSON) for `release_status`.

    Helm installs a chart's CRDs (its crds/ folder) only with the first install; on an upgrade with
    `spec.upgrade_crds`, `apply_crds` is handed the chart's CRDs to apply first, as DevStream did."""
    live = helm.status(spec.release, spec.namespace)
    if live is not None and _matches(spec, live, prior):
        log.info("release %s in %s is already as configured (revision %s)", spec.release, spec.namespace,
                 live.get("version"))
        return dict(live)
    with tempfile.TemporaryDirectory(prefix="dtm-chart-") as folder:
        chart, version = _chart_reference(helm, spec, Path(folder))
        if live is not None and spec.upgrade_crds and apply_crds is not None:
            crds = chart_crds(Path(chart))
            if crds:
                apply_crds(crds)
        log.info("helm upgrade --install %s %s (namespace %s)", spec.release, spec.chart, spec.namespace)
        helm.upgrade_install(spec.release, chart, spec.namespace, values_yaml=yaml.safe_dump(spec.values),
                             version=version, wait=spec.wait, atomic=spec.wait, timeout=spec.timeout,
                             create_namespace=spec.create_namespace)
    live = helm.status(spec.release, spec.namespace)
    if live is None:
        raise PermanentError(f"helm reported release {spec.release} installed in {spec.namespace}, but it is not "
                             "there: is another tool uninstalling it?")
    return live


def remove_release(helm: Helm, spec: ReleaseSpec, log: logging.Logger) -> None:
    if helm.uninstall(spec.release, spec.namespace, wait=spec.wait, timeout=spec.timeout):
        log.info("uninstalled release %s from %s", spec.release, spec.namespace)
    else:
        log.info("release %s in %s was already gone", spec.release, spec.namespace)
