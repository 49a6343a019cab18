"""A stateful stand-in for the Docker Engine API (v1.41), served on a real unix socket or TCP port, so that dtm's
Docker layer and the real `docker` CLI (through `DOCKER_HOST`) both talk to it.

It keeps images (pulled from `registry`, the images a test says exist), containers and networks, and answers as
the engine does where a client depends on it: 404 `No such container` / `No such image`, 409 for a container name
in use, 304 for starting a started container or stopping a stopped one, a pull's progress as a stream of JSON
lines, and a 404 for an image no registry has. A container whose image declares a healthcheck starts `starting`
and turns `healthy` after `health_after` inspections (or `unhealthy`, with `make_unhealthy`).

Every request is recorded with the answer it got, for the suite to check against the Engine API's official
description (see `docker_swagger`). `HEAD /_ping` and the unversioned `/_ping` are answered as the CLI needs
them to negotiate the API version. Serve it with `http_standin.serve`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from http_standin import Stream

API_VERSION = "1.41"
GITLAB_IMAGE = "gitlab/gitlab-ce:rc"
_WHEN = "2024-01-01T00:00:00.000000000Z"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    answer: Any
    client: str = ""  # the User-Agent: dtm's requests are held to the description, other clients' are not


@dataclass
class Image:
    reference: str
    healthcheck: bool = False

    @property
    def id(self) -> str:
        return "sha256:" + hashlib.sha256(self.reference.encode()).hexdigest()


@dataclass
class DockerStandIn:
    """The engine's state; `registry` maps image references (`name:tag`) to whether they declare a healthcheck."""

    registry: dict[str, bool] = field(default_factory=dict)
    health_after: int = 3
    # What a one-shot image does when its container starts: given the container, it returns (exit code, output).
    programs: dict[str, Callable[[dict[str, Any]], tuple[int, str]]] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- what tests do by hand --------------------------------------------------------------------------
    def container(self, name_or_id: str) -> dict[str, Any] | None:
        name = name_or_id.lstrip("/")
        for record in self.containers.values():
            if record["Name"] == f"/{name}" or record["Id"] == name:
                return record
            if len(name) >= 12 and record["Id"].startswith(name):  # a short id, as `docker ps` shows it
                return record
        return None

    def make_unhealthy(self, name: str) -> None:
        record = self.container(name)
        assert record is not None
        record["State"]["Health"] = {"Status": "unhealthy", "FailingStreak": 3,
                                     "Log": [{"ExitCode": 1, "Output": "curl: (7) Failed to connect"}]}

    # -- the API ----------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, client: str = ""
               ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            status, answer, headers = self._route(method, path, query, body)
            self.requests.append(Recorded(method, path, query, body, status, answer, client))
            return status, answer, {"Api-Version": API_VERSION, "Server": f"Docker/20.10.24 (linux) API/{API_VERSION}",
                                    **headers}

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any
               ) -> tuple[int, Any, dict[str, str]]:
        versioned = re.match(r"/v(\d+\.\d+)(/.*)", path)
        route = versioned.group(2) if versioned else path
        if versioned and versioned.group(1) != API_VERSION:
            return 400, {"message": f"client version {versioned.group(1)} is too new. Maximum supported API "
                                    f"version is {API_VERSION}"}, {}
        if route == "/_ping":
            return 200, "OK", {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux"}
        if route == "/version" and method == "GET":
            return 200, {"Version": "20.10.24", "ApiVersion": API_VERSION, "MinAPIVersion": "1.12", "Os": "linux",
                         "Arch": "amd64", "GitCommit": "standin", "GoVersion": "go1.19", "KernelVersion": "6",
                         "BuildTime": _WHEN}, {}
        if route == "/info" and method == "GET":
            return 200, {"ID": "standin", "Containers": len(self.containers), "Images": len(self.images),
                         "ServerVersion": "20.10.24", "OperatingSystem": "stand-in", "OSType": "linux"}, {}
        if route == "/images/create" and method == "POST":
            return self._pull(query)
        if (m := re.fullmatch(r"/images/(.+)/json", route)) and method == "GET":
            image = self.images.get(_tagged(unquote(m.group(1))))
            if image is None:
                return 404, {"message": f"No such image: {unquote(m.group(1))}"}, {}
            return 200, {"Id": image.id, "RepoTags": [image.reference], "Created": _WHEN, "Size": 1,
                         "Os": "linux", "Architecture": "amd64"}, {}
        if route == "/containers/create" and method == "POST":
            return self._create((query.get("name") or [""])[0], body or {})
        if route == "/containers/json" and method == "GET":
            return 200, self._list(query), {}
        if route == "/networks/create" and method == "POST":
            return self._create_network(body or {})
        if m := re.fullmatch(r"/networks/([^/]+)", route):
            return self._network(method, unquote(m.group(1)))
        if m := re.fullmatch(r"/containers/([^/]+)(/[a-z]+)?", route):
            return self._container(method, unquote(m.group(1)), m.group(2) or "", query)
        return 404, {"message": "page not found"}, {}

    def _pull(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        name, tag = (query.get("fromImage") or [""])[0], (query.get("tag") or ["latest"])[0]
        reference = _tagged(f"{name}:{tag}" if ":" not in name.rsplit("/", 1)[-1] else name)
        if reference not in self.registry:
            return 404, {"message": f"manifest for {reference} not found: manifest unknown: manifest unknown"}, {}
        self.images[reference] = Image(reference, self.registry[reference])
        lines = [{"status": f"Pulling from {name}", "id": tag}, {"status": "Pulling fs layer", "id": "a1b2c3"},
                 {"status": "Downloading", "id": "a1b2c3", "progressDetail": {"current": 1, "total": 2}},
                 {"status": "Pull complete", "id": "a1b2c3"}, {"status": f"Digest: sha256:{'0' * 64}"},
                 {"status": f"Status: Downloaded newer image for {reference}"}]
        return 200, Stream(lines), {}

    def _create(self, name: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if name and self.container(name) is not None:
            existing = self.container(name)
            assert existing is not None
            return 409, {"message": f'Conflict. The container name "/{name}" is already in use by container '
                                    f'"{existing["Id"]}". You have to remove (or rename) that container to be able '
                                    "to reuse that name."}, {}
        image = self.images.get(_tagged(body.get("Image", "")))
        if image is None:
            return 404, {"message": f"No such image: {body.get('Image', '')}"}, {}
        cid = hashlib.sha256(f"container-{next(self._ids)}".encode()).hexdigest()
        host = dict(body.get("HostConfig") or {})
        config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        config.setdefault("Hostname", cid[:12])
        config.setdefault("Labels", {})
        self.containers[cid] = {
            "Id": cid, "Name": f"/{name or cid[:12]}", "Created": _WHEN, "Image": image.id, "Config": config,
            "HostConfig": host, "State": {"Status": "created", "Running": False, "ExitCode": 0},
            "Mounts": [{"Type": "bind", "Source": b.split(":")[0], "Destination": b.split(":")[1], "Mode": "",
                        "RW": True, "Propagation": "rprivate"} for b in host.get("Binds") or []],
            "NetworkSettings": {"Ports": {}, "Networks": {}}, "_healthcheck": image.healthcheck, "_looks": 0,
            "_output": "",
        }
        return 201, {"Id": cid, "Warnings": []}, {}

    def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        filters = json.loads((query.get("filters") or ["{}"])[0] or "{}")
        wanted = filters.get("label") or []
        if isinstance(wanted, dict):  # the CLI sends {"label": {"k=v": true}}
            wanted = list(wanted)
        everything = (query.get("all") or ["false"])[0] in ("1", "true")
        found = []
        for record in self.containers.values():
            labels = record["Config"].get("Labels") or {}
            if not everything and not record["State"]["Running"]:
                continue
            if all(_label_matches(labels, w) for w in wanted):
                found.append({"Id": record["Id"], "Names": [record["Name"]], "Image": record["Config"]["Image"],
                              "ImageID": record["Image"], "Command": "", "Created": 1700000000,
                              "State": record["State"]["Status"], "Status": record["State"]["Status"],
                              "Labels": labels, "Ports": [], "Mounts": []})
        return found

    def _container(self, method: str, ref: str, action: str, query: dict[str, list[str]]
                   ) -> tuple[int, Any, dict[str, str]]:
        record = self.container(ref)
        if record is None:
            return 404, {"message": f"No such container: {ref}"}, {}
        state = record["State"]
        if method == "GET" and action == "/json":
            return 200, self._inspect(record), {}
        if method == "POST" and action == "/start":
            if state["Running"]:
                return 304, None, {}
            program = next((run for prefix, run in self.programs.items()
                            if record["Config"]["Image"].startswith(prefix)), None)
            if program is not None:  # a one-shot container: it runs to its end at once
                code, output = program(record)
                state.update(Status="exited", Running=False, ExitCode=code, StartedAt=_WHEN)
                record["_output"] = output
                return 204, None, {}
            state.update(Status="running", Running=True, StartedAt=_WHEN)
            if record["_healthcheck"]:
                state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
                record["_looks"] = 0
            record["NetworkSettings"]["Ports"] = record["HostConfig"].get("PortBindings") or {}
            return 204, None, {}
        if method == "POST" and action == "/stop":
            if not state["Running"]:
                return 304, None, {}
            state.update(Status="exited", Running=False, ExitCode=0)
            state.pop("Health", None)
            return 204, None, {}
        if method == "POST" and action == "/wait":
            return 200, {"StatusCode": state.get("ExitCode", 0)}, {}
        if method == "GET" and action == "/logs":
            return 200, _framed(record.get("_output", "")), {}
        if method == "DELETE" and action == "":
            if state["Running"] and (query.get("force") or ["false"])[0] not in ("1", "true"):
                return 409, {"message": f"You cannot remove a running container {record['Id']}. Stop the container "
                                        "before attempting removal or force remove"}, {}
            del self.containers[record["Id"]]
            return 204, None, {}
        return 404, {"message": "page not found"}, {}

    def _inspect(self, record: dict[str, Any]) -> dict[str, Any]:
        health = record["State"].get("Health")
        if health is not None and health["Status"] == "starting":
            record["_looks"] += 1
            if record["_looks"] >= self.health_after:
                health.update(Status="healthy", Log=[{"ExitCode": 0, "Output": "ok"}])
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def _create_network(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        name = body.get("Name", "")
        if name in self.networks:
            return 409, {"message": f"network with name {name} already exists"}, {}
        nid = hashlib.sha256(f"network-{name}".encode()).hexdigest()
        self.networks[name] = {"Name": name, "Id": nid, "Created": _WHEN, "Scope": "local", "Driver": "bridge",
                               "Labels": body.get("Labels") or {}, "Containers": {}}
        return 201, {"Id": nid, "Warning": ""}, {}

    def _network(self, method: str, ref: str) -> tuple[int, Any, dict[str, str]]:
        record = self.networks.get(ref) or next((n for n in self.networks.values() if n["Id"] == ref), None)
        if record is None:
            return 404, {"message": f"network {ref} not found"}, {}
        if method == "GET":
            return 200, record, {}
        if method == "DELETE":
            del self.networks[record["Name"]]
            return 204, None, {}
        return 404, {"message": "page not found"}, {}


def _framed(text: str) -> bytes:
    """Output as Docker frames it for a container without a TTY: one stdout frame per line."""
    out = bytearray()
    for line in text.splitlines(keepends=True):
        data = line.encode()
        out += b"\x01\x00\x00\x00" + len(data).to_bytes(4, "big") + data
    return bytes(out)


def _tagged(reference: str) -> str:
    """One spelling of an image reference: Docker Hub's prefixes dropped (the CLI sends docker.io/...), a tag added."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            reference = reference[len(prefix):]
    return reference if ":" in reference.rsplit("/", 1)[-1] else f"{reference}:latest"


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)
