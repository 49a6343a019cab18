"""The Kubernetes API client every dtm plugin and the `k8s` state backend use.

Why raw httpx and not lightkube or the official `kubernetes` package: lightkube 1.x moved to `httpx2`, a second
HTTP stack whose transports and errors are not dtm's (dtm's retrying transport, its credential-free logs and
`devstream.retry` all speak httpx), and the official client brings urllib3, its own retry rules and generated
models. dtm's interface is plain dicts anyway (plugins must not depend on a library's models, and custom
resources such as Argo CD's Application have none), and the API surface it needs is small and stable:
discovery, server-side apply, get, list, delete and polling waits. Every object dtm sends is validated
against Kubernetes' official OpenAPI description in the tests (the stand-in does it).

What it does:
- `apply(obj)`: server-side apply (`PATCH ... application/apply-patch+yaml`, field manager `dtm`, `force`:
  dtm owns the fields it declares, as a controller does), so re-applying is idempotent and fields other
  managers own (an HPA's replicas, a controller's annotations) are left alone.
- `get`, `list` (label and field selectors, paged), `delete` (propagation policy; gone already is False),
  `create` and `replace` (optimistic concurrency by resourceVersion, for the state backend's Lease).
- waits, bounded and reported: `wait_rollout` (a Deployment as `kubectl rollout status` judges it),
  `wait_established` (a CRD), `wait_deleted` (finalizers), and `wait_for` for any condition.
- kinds are found by discovery (`/api/v1`, `/apis/G/V`), so any kind the server serves works, CRDs too.
- errors are `devstream.errors` classes carrying Kubernetes' Status message: `KubernetesError` (permanent),
  `KubernetesConflictError` (409 on a stale resourceVersion: transient), `TransientError` (5xx, 429, timeouts),
  `KubernetesTimeoutError`. Writes run through `devstream.retry`'s one policy, so conflicts and transient
  failures are retried the same way everywhere.

This module depends on httpx, `devstream.errors`, `devstream.retry` and the SDK's `http_client` only, never on
a plugin or the plugin context, which is why the `k8s` state backend (in `devstream/state/`, below the plugin
layer) may import it. Plugins build one with `devstream.plugins.kube.client_for(options, ctx)`.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from devstream.errors import KubernetesConflictError, KubernetesError, KubernetesTimeoutError, TransientError
from devstream.plugin.http import http_client, safe_url
from devstream.plugins.kube.config import KubeTarget
from devstream.plugins.kube.kubeconfig import Connection, connect
from devstream.retry import RetryPolicy

__all__ = ["FIELD_MANAGER", "KubeClient", "deployment_ready", "split_api_version"]

FIELD_MANAGER = "dtm"
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_PAGE = 500
_POLL_FIRST, _POLL_MAX = 0.2, 2.0

Obj = dict[str, Any]


def _version() -> str:
    try:
        return importlib.metadata.version("dtm")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


def _describe(kind: str, name: str | None, namespace: str | None) -> str:
    return f"{kind} {namespace + '/' if namespace else ''}{name or ''}".strip()


def deployment_ready(obj: Mapping[str, Any] | None) -> str | None:
    """None when a Deployment has rolled out (as `kubectl rollout status` judges it), else what it waits for."""
    if obj is None:
        return "the Deployment does not exist"
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    if int(status.get("observedGeneration", 0)) < int((obj.get("metadata") or {}).get("generation", 0)):
        return "the controller has not seen the latest spec yet"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f"rollout exceeded its progress deadline: {condition.get('message', '')}"
    updated, available = int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0))
    if updated < wanted:
        return f"{updated} of {wanted} replicas updated"
    if int(status.get("replicas", 0)) > updated:
        return f"{int(status.get('replicas', 0)) - updated} old replicas pending termination"
    if available < updated:
        return f"{available} of {updated} updated replicas available"
    return None


class KubeClient:
    """One API server, for the length of one plugin call or one state store: `with KubeClient(target) as kube`.

    `client_factory` builds the httpx client (a plugin passes `ctx.http_client`, whose transport retries
    429/5xx and timeouts); `retry` is the policy writes and waits run under (default: `DTM_RETRIES`/`DTM_RETRY_DELAY`).
    """

    def __init__(self, target: KubeTarget | Connection, *, client_factory: Callable[..., httpx.Client] | None = None,
                 logger: logging.Logger | None = None, retry: RetryPolicy | None = None,
                 field_manager: str = FIELD_MANAGER, timeout: httpx.Timeout = _TIMEOUT) -> None:
        self.connection = target if isinstance(target, Connection) else connect(target)
        self.namespace = self.connection.namespace
        self.logger = logger or logging.getLogger("devstream.kube")
        self.retry = retry or RetryPolicy.from_env()
        self.field_manager = field_manager
        transport = httpx.HTTPTransport(verify=self.connection.verify, proxy=self.connection.proxy)
        self.http = (client_factory or http_client)(base_url=self.connection.server, transport=transport,
                                                    timeout=timeout, auth=self.connection.auth,
                                                    headers={"Accept": "application/json",
                                                             "User-Agent": f"dtm/{_version()}"})
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- discovery ----------------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind, from discovery; asked again once for a kind not seen (a new CRD)."""
        for fresh in (False, True):
            with self._lock:
                known = None if fresh else self._resources.get(api_version)
            if known is None:
                known = self._discover(api_version)
                with self._lock:
                    self._resources[api_version] = known
            if kind in known:
                return known[kind]
        raise KubernetesError(f"the cluster at {self.connection.server} serves no kind {kind} in {api_version}; is "
                              "its CustomResourceDefinition installed (or the apiVersion misspelt)?", code=404,
                              reason="NotFound")

    def _discover(self, api_version: str) -> dict[str, tuple[str, bool]]:
        group, version = split_api_version(api_version)
        path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        response = self._send("GET", path, ok=(404,))
        if response.status_code == 404:
            return {}
        found: dict[str, tuple[str, bool]] = {}
        for item in response.json().get("resources") or []:
            if "/" not in item.get("name", "") and item.get("kind"):
                found.setdefault(item["kind"], (item["name"], bool(item.get("namespaced"))))
        return found

    def path(self, api_version: str, kind: str, name: str | None = None, namespace: str | None = None) -> str:
        """The URL path of a kind's collection, or of one object."""
        plural, namespaced = self.resource(api_version, kind)
        group, version = split_api_version(api_version)
        base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        if namespaced:
            base += f"/namespaces/{quote(namespace or self.namespace, safe='')}"
        base += f"/{plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")

    # -- reading ----------------------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist."""
        response = self._send("GET", self.path(api_version, kind, name, namespace), ok=(404,),
                              what=_describe(kind, name, namespace))
        return None if response.status_code == 404 else dict(response.json())

    def list(self, api_version: str, kind: str, namespace: str | None = None, *, labels: Mapping[str, str] | str |
             None = None, fields: Mapping[str, str] | str | None = None, all_namespaces: bool = False) -> list[Obj]:
        """Every object of a kind (in `namespace`, or everywhere), selected by labels and fields, all pages."""
        return list(self.iterate(api_version, kind, namespace, labels=labels, fields=fields,
                                 all_namespaces=all_namespaces))

    def iterate(self, api_version: str, kind: str, namespace: str | None = None, *,
                labels: Mapping[str, str] | str | None = None, fields: Mapping[str, str] | str | None = None,
                all_namespaces: bool = False) -> Iterator[Obj]:
        plural, namespaced = self.resource(api_version, kind)
        path = self.path(api_version, kind, None, namespace)
        if namespaced and all_namespaces:
            path = path.replace(f"/namespaces/{quote(namespace or self.namespace, safe='')}", "", 1)
        params: dict[str, str] = {"limit": str(_PAGE)}
        for key, selector in (("labelSelector", labels), ("fieldSelector", fields)):
            if selector:
                params[key] = selector if isinstance(selector, str) else ",".join(f"{k}={v}" for k, v in
                                                                                   selector.items())
        while True:
            page = self._send("GET", path, params=params, what=f"list {plural}").json()
            for item in page.get("items") or []:
                yield {"apiVersion": api_version, "kind": kind, **item}
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params["continue"] = token

    # -- writing ----------------------------------------------------------------------------------------------
    def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> Obj:
        """Server-side apply `obj` (apiVersion, kind, metadata.name, and the fields dtm owns); the live object."""
        api_version, kind, name, namespace = self._identity(obj)
        body = json.dumps(dict(obj)).encode()  # JSON is YAML: the apply-patch content type takes it
        params = {"fieldManager": self.field_manager, "force": "true" if force else "false"}
        path = self.path(api_version, kind, name, namespace)
        return dict(self.retry.call(
            lambda: self._send("PATCH", path, params=params, content=body, what=_describe(kind, name, namespace),
                               headers={"Content-Type": "application/apply-patch+yaml"}).json(),
            what=f"apply {_describe(kind, name, namespace)}", logger=self.logger))

    def create(self, obj: Mapping[str, Any]) -> Obj | None:
        """Create `obj`; None when an object of that name exists already (409 AlreadyExists)."""
        api_version, kind, name, namespace = self._identity(obj)
        response = self._send("POST", self.path(api_version, kind, None, namespace), json=dict(obj),
                              params={"fieldManager": self.field_manager}, ok=(409,),
                              what=_describe(kind, name, namespace))
        if response.status_code == 409:
            if _status(response).get("reason") == "AlreadyExists":
                return None
            raise _error(response, _describe(kind, name, namespace))
        return dict(response.json())

    def replace(self, obj: Mapping[str, Any]) -> Obj:
        """Replace `obj` (PUT); with `metadata.resourceVersion` set, KubernetesConflictError if it changed since."""
        api_version, kind, name, namespace = self._identity(obj)
        return dict(self._send("PUT", self.path(api_version, kind, name, namespace), json=dict(obj),
                               params={"fieldManager": self.field_manager},
                               what=_describe(kind, name, namespace)).json())

    def merge_patch(self, api_version: str, kind: str, name: str, patch: Mapping[str, Any],
                    namespace: str | None = None) -> Obj:
        """A JSON merge patch (RFC 7386): only the keys sent change; None as a value removes a key."""
        return dict(self.retry.call(
            lambda: self._send("PATCH", self.path(api_version, kind, name, namespace), json=dict(patch),
                               params={"fieldManager": self.field_manager}, what=_describe(kind, name, namespace),
                               headers={"Content-Type": "application/merge-patch+json"}).json(),
            what=f"patch {_describe(kind, name, namespace)}", logger=self.logger))

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
               propagation: str = "Background", preconditions: Mapping[str, str] | None = None) -> bool:
        """Delete an object; False when it was gone already. Finalizers may keep it a while (`wait_deleted`)."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        if preconditions:
            body["preconditions"] = dict(preconditions)
        try:
            path = self.path(api_version, kind, name, namespace)
        except KubernetesError as exc:
            if exc.code == 404:
                return False  # the kind itself is gone (its CRD deleted): so is every object of it
            raise
        def send() -> httpx.Response:
            return self._send("DELETE", path, json=body, ok=(404,), what=_describe(kind, name, namespace))
        # With preconditions a 409 is the caller's answer (the object changed), not a failure to retry.
        response = send() if preconditions else self.retry.call(send, what=f"delete {_describe(kind, name, namespace)}",
                                                                   logger=self.logger)
        return response.status_code != 404

    # -- waiting ----------------------------------------------------------------------------------------------
    def wait_for(self, api_version: str, kind: str, name: str, namespace: str | None, pending: Callable[
                 [Obj | None], str | None], *, timeout: float, what: str) -> Obj | None:
        """Poll the object until `pending(obj)` is None (it returns what is still awaited), at most `timeout` s.

        Progress is logged when what is awaited changes; past the bound, KubernetesTimeoutErrornames the last.
        """
        deadline = time.monotonic() + max(timeout, 0)
        delay, last = _POLL_FIRST, ""
        while True:
            obj = self.get(api_version, kind, name, namespace)
            waiting = pending(obj)
            if waiting is None:
                return obj
            if waiting != last:
                self.logger.info("waiting for %s: %s", what, waiting)
                last = waiting
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KubernetesTimeoutError(f"{what} did not happen within {timeout:g} s: {waiting}")
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _POLL_MAX)

    def wait_rollout(self, name: str, namespace: str | None = None, *, timeout: float) -> Obj | None:
        """Wait until the Deployment has rolled out (all replicas updated and available)."""
        return self.wait_for("apps/v1", "Deployment", name, namespace, deployment_ready, timeout=timeout,
                             what=f"the rollout of Deployment {namespace or self.namespace}/{name}")

    def wait_established(self, name: str, *, timeout: float) -> Obj | None:
        """Wait until the CustomResourceDefinition `name` is Established, then forget cached discovery."""
        def pending(obj: Obj | None) -> str | None:
            if obj is None:
                return "the CRD does not exist"
            for condition in (obj.get("status") or {}).get("conditions") or []:
                if condition.get("type") == "Established" and condition.get("status") == "True":
                    return None
            return "not Established yet"
        obj = self.wait_for("apiextensions.k8s.io/v1", "CustomResourceDefinition", name, None, pending,
                            timeout=timeout, what=f"CustomResourceDefinition {name} to be established")
        with self._lock:
            self._resources.clear()
        return obj

    def wait_deleted(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
                     timeout: float) -> None:
        """Wait until the object is gone (its finalizers done)."""
        def pending(obj: Obj | None) -> str | None:
            if obj is None:
                return None
            finalizers = (obj.get("metadata") or {}).get("finalizers") or []
            return f"finalizers {', '.join(finalizers)} still pending" if finalizers else "still terminating"
        self.wait_for(api_version, kind, name, namespace, pending, timeout=timeout,
                      what=f"{_describe(kind, name, namespace)} to be deleted")

    # -- internals --------------------------------------------------------------------------------------------
    def _identity(self, obj: Mapping[str, Any]) -> tuple[str, str, str, str | None]:
        metadata = obj.get("metadata") or {}
        api_version, kind, name = obj.get("apiVersion"), obj.get("kind"), metadata.get("name")
        if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str) and name):
            raise KubernetesError("an object dtm sends needs apiVersion, kind and metadata.name", code=0,
                                  reason="Invalid")
        return api_version, kind, name, metadata.get("namespace")

    def _send(self, method: str, path: str, *, ok: tuple[int, ...] = (), what: str = "", **kwargs: Any
              ) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except TransientError as exc:
            raise TransientError(f"the Kubernetes API at {safe_url(self.connection.server)} did not answer: "
                                 f"{exc}") from None
        if response.status_code < 400 or response.status_code in ok:
            return response
        raise _error(response, what or path)


def _status(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) and body.get("kind") == "Status" else {}


def _error(response: httpx.Response, what: str) -> KubernetesError | TransientError:
    """dtm's error for a failed answer, with Kubernetes' own Status message and reason."""
    status = _status(response)
    code = response.status_code
    message = str(status.get("message") or response.text[:300] or response.reason_phrase).strip()
    reason = str(status.get("reason") or response.reason_phrase)
    text = f"{response.request.method} {what}: {message} ({reason}, {code})"
    if code == 409 and reason == "Conflict":
        return KubernetesConflictError(text, status=status)
    if code in (408, 429) or code >= 500:
        return TransientError(text)
    if code == 401:
        text += "; the kubeconfig's credentials were refused: are they expired?"
    return KubernetesError(text, code=code, reason=reason, status=status)
