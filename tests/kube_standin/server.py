"""The stand-in on a loopback socket: HTTP/1.1, a bearer token checked on every request, discovery and OpenAPI
documents, the resource API, and watches streamed as the API server streams them (chunked JSON events)."""

from __future__ import annotations

import json
import ssl
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import discovery, kube_protobuf, tables
from .api import Api, Target, Watch
from .catalogue import query_problems
from .cluster import Cluster
from .discovery import ApiError
from .fields import load_yaml
from .tls import Certificates, make_certificates

# What kube-openapi's handler answers to both `spec.v2@v1.0+protobuf` (the deprecated name clients still ask
# for) and `spec.v2.v1.0+protobuf`: the name without '@', which Go's mime parser accepts (kubectl's fallback
# validation of a `List` parses it).
PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


@dataclass
class Request:
    """One request the stand-in received (for tests to assert what a client sent)."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any
    user_agent: str


@dataclass
class Reply:
    status: int
    body: Any  # dict (JSON), bytes, str, or a Watch to stream
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """A Kubernetes API server for tests: `handle()` answers one request; `serve()` puts it on a socket."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.certificates: Certificates = make_certificates()
        self.cluster = Cluster()
        self.api = Api(self.cluster.store, self.cluster)
        self.requests: list[Request] = []
        self.problems: list[str] = []  # requests refused for not matching the description
        self.faults: list[str] = []  # requests the stand-in failed on (500): its own bugs

    def reset(self) -> None:
        self.cluster.reset()
        self.requests.clear()
        self.problems.clear()
        self.faults.clear()

    # -- one request ------------------------------------------------------------------------------------
    def handle(self, method: str, url: str, headers: Any, raw: bytes) -> Reply:
        parts = urlsplit(url)
        path, query = parts.path.rstrip("/") or "/", parse_qs(parts.query, keep_blank_values=True)
        content_type = headers.get("Content-Type", "") or ""
        try:
            body = _decode(raw, content_type) if raw and method != "PATCH" else None
        except kube_protobuf.ProtobufError as error:
            return Reply(415, ApiError(415, "UnsupportedMediaType", str(error)).status())
        except ValueError:
            body = None
        self.requests.append(Request(method, path, query, content_type, body if method != "PATCH" else
                                     _decode_quietly(raw), headers.get("User-Agent", "")))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        self.api.begin_request()
        self.cluster.tick()
        try:
            reply = self._route(method, path, query, headers, body, raw)
        except ApiError as error:
            reply = Reply(error.code, error.status())
        except Exception as error:  # a fault of the stand-in itself: said to the client, kept for the tests
            where = traceback.extract_tb(error.__traceback__)[-1]
            message = f"kube stand-in fault: {type(error).__name__}: {error} ({where.filename}:{where.lineno})"
            self.faults.append(f"{method} {path}: {message}")
            reply = Reply(500, ApiError(500, "InternalError", message).status())
        if self.api.warnings:
            reply.headers["Warning"] = ", ".join(f'299 - {json.dumps(w)}' for w in self.api.warnings)
        return reply

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any,
               raw: bytes) -> Reply:
        resources = self.cluster.resources()
        if path in ("/healthz", "/livez", "/readyz"):
            return Reply(200, "ok", "text/plain")
        if path == "/version":
            return Reply(200, discovery.VERSION)
        if path in ("/api", "/apis") and "as=APIGroupDiscoveryList" in headers.get("Accept", ""):
            return Reply(200, discovery.aggregated(resources, core=path == "/api"), discovery.AGGREGATED)
        if path == "/api":
            return Reply(200, discovery.api_versions())
        if path == "/apis":
            return Reply(200, discovery.api_group_list(resources))
        if path == "/openapi/v2":
            descriptions = self.cluster.descriptions()
            if "protobuf" in headers.get("Accept", ""):
                return Reply(200, descriptions.v2_protobuf(), PROTOBUF_V2)
            return Reply(200, descriptions.v2_json())
        if path == "/openapi/v3":
            return Reply(200, self.cluster.descriptions().v3_index())
        if path.startswith("/openapi/v3/"):
            found = self.cluster.descriptions().v3(path[len("/openapi/v3/"):])
            if found is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return Reply(200, found, headers={"Cache-Control": "public, immutable"})
        segments = path.strip("/").split("/")
        if segments[0] == "api" and len(segments) >= 2:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[0] == "apis" and len(segments) >= 3:
            group, version, rest = segments[1], segments[2], segments[3:]
        elif segments[0] == "apis" and len(segments) == 2:
            found = discovery.api_group(resources, segments[1])
            if found is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return Reply(200, found)
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            listed = discovery.api_resource_list(resources, group, version)
            if listed is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return Reply(200, listed)
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        resource = self.cluster.resource(group, version, rest[0])
        if resource is None or len(rest) > 3 or (namespace and not resource.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        target = Target(resource, namespace, rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else "")
        if target.subresource and target.subresource not in resource.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self._verb(method, target, query, headers, body, raw)

    def _verb(self, method: str, target: Target, query: dict[str, list[str]], headers: Any, body: Any,
              raw: bytes) -> Reply:
        action = {"GET": "list" if not target.name else "get", "POST": "post", "PUT": "put", "PATCH": "patch",
                  "DELETE": "deletecollection" if not target.name else "delete"}.get(method, method.lower())
        problems = query_problems(action, query)
        if problems:  # the request does not match the official description: a client bug to see at once
            self.problems += problems
            raise ApiError(400, "BadRequest", "; ".join(problems))
        manager = (query.get("fieldManager") or [""])[0] or headers.get("User-Agent", "unknown").split("/")[0]
        table = "as=Table" in headers.get("Accept", "")
        include = (query.get("includeObject") or ["Metadata"])[0]
        if target.subresource == "scale":
            return Reply(200, self._scale(method, target, body, raw, headers, query, manager))
        if not target.name:
            if method == "GET" and (query.get("watch") or [""])[0] in ("true", "1"):
                return Reply(200, self.api.watch(target, query))
            if method == "GET":
                listed = self.api.list(target, query)
                if table:
                    return Reply(200, tables.table(target.resource, listed["items"], listed["metadata"], include))
                return Reply(200, listed)
            if method == "POST":
                return Reply(201, self.api.create(target, body, query, manager))
            if method == "DELETE":
                return Reply(200, self.api.delete_collection(target, body, query))
        elif method == "GET":
            obj = self.api.get(target)
            return Reply(200, tables.table(target.resource, [obj], {"resourceVersion": obj["metadata"][
                "resourceVersion"]}, include) if table else obj)
        elif method == "PUT":
            return Reply(200, self.api.replace(target, body, query, manager))
        elif method == "PATCH":
            created = self.api.store.get(self.api.key(target)) is None
            obj = self.api.patch(target, raw, headers.get("Content-Type", ""), query, manager)
            return Reply(201 if created else 200, obj)
        elif method == "DELETE":
            obj = self.api.delete(target, body, query)
            return Reply(202 if obj.get("kind") != "Status" else 200, obj)  # 202: still there (finalizers)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _scale(self, method: str, target: Target, body: Any, raw: bytes, headers: Any,
               query: dict[str, list[str]], manager: str) -> dict[str, Any]:
        """The /scale subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets and StatefulSets."""
        obj = self.api.get(target)
        if method in ("PUT", "PATCH"):
            scale = body if method == "PUT" else None
            if method == "PATCH":
                from . import patches
                patch = json.loads(raw or b"{}")
                current = _scale_of(obj)
                kind = headers.get("Content-Type", "").split(";")[0]
                scale = patches.json_patch(current, patch) if kind.endswith("json-patch+json") else \
                    patches.merge_patch(current, patch)
            obj["spec"]["replicas"] = int(((scale or {}).get("spec") or {}).get("replicas", 0))
            obj = self.api.replace(Target(target.resource, target.namespace, target.name, ""), obj, query, manager)
        return _scale_of(obj)

    # -- on a socket ------------------------------------------------------------------------------------
    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve HTTPS on 127.0.0.1 (a free port) until the block ends; yields the URL."""
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        # the TLS handshake happens in the request's thread, so a slow client never holds up accept()
        server.socket = self.certificates.server_context().wrap_socket(server.socket, server_side=True,
                                                                       do_handshake_on_connect=False)
        thread = threading.Thread(target=server.serve_forever, name="kube-standin", daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{server.server_address[1]}"
        finally:
            self.cluster.store.reset()  # ends the watches
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def _as_seen(event: Any, matches: Any) -> str | None:
    """The event a watch with a selector sees: an object entering the selection is ADDED, one leaving it DELETED."""
    now_in = matches(event.object)
    was_in = event.previous is not None and matches(event.previous)
    if event.type == "MODIFIED":
        return "MODIFIED" if now_in and was_in else "ADDED" if now_in else "DELETED" if was_in else None
    return event.type if now_in else None


def _scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in labels.items())}}


def _decode(raw: bytes, content_type: str) -> Any:
    if content_type.startswith("application/vnd.kubernetes.protobuf"):
        return kube_protobuf.decode(raw)
    if "yaml" in content_type:
        return load_yaml(raw)
    return json.loads(raw)


def _decode_quietly(raw: bytes) -> Any:
    try:
        return load_yaml(raw) if raw else None
    except yaml.YAMLError:
        return raw.decode(errors="replace")


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass  # a client that went away mid-request

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        reply = self.standin.handle(self.command, self.path, self.headers, raw)
        if isinstance(reply.body, Watch):
            self._stream(reply.body)
            return
        if isinstance(reply.body, bytes):
            payload = reply.body
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, watch: Watch) -> None:
        """Events past the watch's revision, then new ones as they come, until its timeout or the store's reset."""
        store = self.standin.cluster.store
        resource = watch.target.resource
        namespace = watch.target.namespace if resource.namespaced else ""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + watch.timeout
        epoch, revision = store.epoch, watch.revision
        try:
            for obj in watch.initial:
                self._chunk({"type": "ADDED", "object": obj})
            while time.monotonic() < deadline:
                self.standin.cluster.tick()
                with store.changed:
                    events = store.events_after(revision)
                    if events == [] and store.epoch == epoch:
                        store.changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                        events = store.events_after(revision)
                    if store.epoch != epoch:
                        break
                if events is None:
                    self._chunk({"type": "ERROR", "object": ApiError(
                        410, "Expired", f"too old resource version: {revision} ({store.revision})").status()})
                    break
                for event in events:
                    revision = event.revision
                    if (event.group, event.plural) != resource.key or (namespace and event.namespace != namespace):
                        continue
                    kind = _as_seen(event, watch.matches)
                    if kind:
                        self._chunk({"type": kind, "object": {**event.object, "apiVersion": resource.group_version}})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True
