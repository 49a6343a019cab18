"""The Docker Engine API over httpx: the one way dtm's plugins talk to Docker.

Why httpx and not the `docker` SDK: httpx speaks to a unix socket itself (`HTTPTransport(uds=...)`), so every
call goes through the plugin context's retrying client like GitHub's and GitLab's, with dtm's timeouts,
error types and credential-free logs; the SDK would bring requests, its own retry rules and a second way to
fail. The handful of endpoints a container needs are small and stable.

Where the engine is: the tool's `dockerHost` option, else `DOCKER_HOST`, else the local socket
`unix:///var/run/docker.sock`; `tcp://HOST:PORT` speaks HTTP, or HTTPS with client certificates when
`DOCKER_TLS_VERIFY` is set (from `DOCKER_CERT_PATH`, as the docker CLI does). Calls are pinned to API
version 1.41 (Docker 20.10 and later serve it), the version whose official description the tests hold
every request to; an older engine is refused up front, naming its version.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext, raise_for_status

__all__ = ["API_VERSION", "DEFAULT_HOST", "DockerEngine", "engine_host", "is_local"]

API_VERSION = "1.41"
DEFAULT_HOST = "unix:///var/run/docker.sock"
_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# A pull sends progress lines as layers arrive; a gap this long between two lines means it is stuck.
_PULL_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=600.0)


def engine_host(option: str | None) -> str:
    """The engine's address: the option, else DOCKER_HOST, else the local socket."""
    return (option or os.environ.get("DOCKER_HOST") or DEFAULT_HOST).strip()


def is_local(host: str) -> bool:
    """Whether the engine runs on this machine, so that paths it mounts are this machine's paths."""
    if host.startswith("unix://"):
        return True
    hostname = httpx.URL(host.replace("tcp://", "http://", 1)).host
    return hostname in ("localhost", "127.0.0.1", "::1")


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


class DockerEngine:
    """One engine, for the length of one plugin call: `with DockerEngine(host, ctx) as engine: ...`."""

    def __init__(self, host: str, ctx: PluginContext):
        self.host = host
        self.ctx = ctx
        base_url, transport = self._connection(host)
        self.http = ctx.http_client(base_url=f"{base_url}/v{API_VERSION}", transport=transport, timeout=_TIMEOUT)
        self._checked = False

    @staticmethod
    def _connection(host: str) -> tuple[str, httpx.BaseTransport]:
        if host.startswith("unix://"):
            return "http://docker", httpx.HTTPTransport(uds=host[len("unix://"):])
        if host.startswith("tcp://"):
            address = host[len("tcp://"):].rstrip("/")
            if os.environ.get("DOCKER_TLS_VERIFY"):
                return f"https://{address}", httpx.HTTPTransport(verify=_tls_context())
            return f"http://{address}", httpx.HTTPTransport()
        raise PermanentError(f"docker host {host!r}: dtm speaks to unix:///path/to/docker.sock or tcp://HOST:PORT; "
                             "for an engine over ssh, forward its socket (ssh -L) and point dockerHost at it")

    def __enter__(self) -> DockerEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- requests ---------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        self._check_version()
        try:
            response = self.http.request(method, path, **kwargs)
        except TransientError as exc:
            raise TransientError(f"the Docker engine at {self.host} did not answer: {exc}; is it running, and may "
                                 "this user reach it (the docker group)?") from None
        if response.status_code in ok:
            return response
        raise_for_status(response)
        return response

    def _check_version(self) -> None:
        """Refuse an engine older than the API version dtm speaks, before anything else is sent."""
        if self._checked:
            return
        self._checked = True
        try:
            response = self.http.get("/_ping")
        except TransientError as exc:
            raise TransientError(f"the Docker engine at {self.host} did not answer: {exc}; is it running, and may "
                                 "this user reach it (the docker group)?") from None
        raise_for_status(response)
        served = response.headers.get("api-version", "")
        if served and _version_tuple(served) < _version_tuple(API_VERSION):
            raise PermanentError(f"the Docker engine at {self.host} serves API {served}; dtm needs {API_VERSION} "
                                 "(Docker 20.10 or later)")

    # -- images -----------------------------------------------------------------------------------------
    def image_present(self, reference: str) -> bool:
        return self._call("GET", f"/images/{reference}/json", ok=(404,)).status_code == 200

    def pull(self, reference: str, progress: Callable[[str], None] | None = None) -> None:
        """Pull an image, reporting each layer's status as it changes; an error line in the stream fails it."""
        image, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (reference, "", "latest")
        self._check_version()
        with self.http.stream("POST", "/images/create", params={"fromImage": image, "tag": tag},
                              timeout=_PULL_TIMEOUT) as response:
            if response.status_code >= 400:
                response.read()
                raise_for_status(response)
            for line in response.iter_lines():
                event = _json_line(line)
                if "error" in event:
                    raise PermanentError(f"pulling {reference} failed: {event['error']}")
                if progress is not None and event.get("status") and not event.get("progressDetail"):
                    progress(" ".join(str(event[k]) for k in ("id", "status") if event.get(k)))

    # -- containers -------------------------------------------------------------------------------------
    def inspect(self, name: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/containers/{quote(name, safe='')}/json", ok=(404,))
        return None if response.status_code == 404 else dict(response.json())

    def create(self, name: str, body: Mapping[str, Any]) -> str:
        response = self._call("POST", "/containers/create", params={"name": name}, json=dict(body), ok=(409,))
        if response.status_code == 409:
            raise PermanentError(f"a container named {name!r} already exists on {self.host}: "
                                 f"{_message(response)}")
        for warning in response.json().get("Warnings") or ():
            self.ctx.logger.warning("docker: %s", warning)
        return str(response.json()["Id"])

    def start(self, container: str) -> None:
        self._call("POST", f"/containers/{quote(container, safe='')}/start", ok=(304,))

    def stop(self, container: str, grace_seconds: int = 30) -> None:
        self._call("POST", f"/containers/{quote(container, safe='')}/stop", params={"t": grace_seconds},
                   ok=(304, 404), timeout=httpx.Timeout(grace_seconds + 60.0, connect=10.0))

    def remove(self, container: str, *, volumes: bool = False) -> None:
        """Remove a container (running or not); one already gone is success."""
        self._call("DELETE", f"/containers/{quote(container, safe='')}",
                   params={"force": "true", "v": "true" if volumes else "false"}, ok=(404,))

    def wait(self, container: str, timeout: float) -> int:
        """Wait, at most `timeout` seconds, for the container to stop; its exit code."""
        answer = self._call("POST", f"/containers/{quote(container, safe='')}/wait",
                            params={"condition": "not-running"},
                            timeout=httpx.Timeout(60.0, connect=10.0, read=timeout)).json()
        if (answer.get("Error") or {}).get("Message"):
            raise PermanentError(f"waiting for container {container} failed: {answer['Error']['Message']}")
        return int(answer.get("StatusCode", -1))

    def logs(self, container: str, tail: int = 40) -> str:
        """The last lines the container wrote (stdout and stderr), demultiplexed from Docker's framed stream."""
        raw = self._call("GET", f"/containers/{quote(container, safe='')}/logs",
                         params={"stdout": "true", "stderr": "true", "tail": str(tail)}).content
        return _demultiplex(raw).decode("utf-8", "replace")

    def containers(self, label: str) -> Iterator[dict[str, Any]]:
        """Every container, running or not, carrying the label (`key` or `key=value`)."""
        filters = json.dumps({"label": [label]})
        yield from self._call("GET", "/containers/json", params={"all": "true", "filters": filters}).json()

    # -- networks ---------------------------------------------------------------------------------------
    def network(self, name: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/networks/{quote(name, safe='')}", ok=(404,))
        return None if response.status_code == 404 else dict(response.json())

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        body = {"Name": name, "CheckDuplicate": True, "Driver": "bridge", "Labels": dict(labels)}
        return str(self._call("POST", "/networks/create", json=body).json()["Id"])

    def remove_network(self, name: str) -> None:
        self._call("DELETE", f"/networks/{quote(name, safe='')}", ok=(404,))


def _demultiplex(raw: bytes) -> bytes:
    """The payload of Docker's log stream: 8-byte frame headers (stream, 0, 0, 0, big-endian size) dropped. A
    container with a TTY sends its output unframed, which is returned as it is."""
    out, at = bytearray(), 0
    while at + 8 <= len(raw) and raw[at] in (0, 1, 2) and raw[at + 1:at + 4] == b"\0\0\0":
        size = int.from_bytes(raw[at + 4:at + 8], "big")
        out += raw[at + 8:at + 8 + size]
        at += 8 + size
    return bytes(out) if at else raw


def _json_line(line: str) -> dict[str, Any]:
    try:
        event = json.loads(line) if line.strip() else {}
    except json.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", "")).strip()
    except (json.JSONDecodeError, AttributeError):
        return response.text[:200]


def _tls_context() -> ssl.SSLContext:
    """The docker CLI's TLS: ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH (default ~/.docker)."""
    folder = Path(os.environ.get("DOCKER_CERT_PATH") or Path.home() / ".docker").expanduser()
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    context.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
    return context
