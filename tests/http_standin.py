"""Serving an in-process stand-in of an HTTP API on a real socket (127.0.0.1, or a unix socket), so that dtm's
clients, dtm run as a subprocess and real command-line clients all reach it. The one way tests serve HTTP.

- `served(handler)`: a function from `httpx.Request` to `httpx.Response` (the GitHub, GitLab, Jenkins... stand-ins'
  `handler`); yields its base URL, http://127.0.0.1:<port>.
- `serve(standin, socket_path=None)`: an object with `handle(method, path, query, body, client) -> (status,
  answer, headers)` (the Docker and DevLake stand-ins): `answer` a JSON-able value, a `str` (sent as text), None
  (no body), `bytes` (sent as a raw stream) or a `Stream` (JSON lines sent one after the other); `path` is
  still percent-encoded, `body` the parsed JSON (None when empty), `client` the request's User-Agent. Yields
  `tcp://127.0.0.1:PORT`, or `unix://PATH` for a socket path.
- `loopback(handler_class)`: any `BaseHTTPRequestHandler` class (a static file server...); yields its port.

The server stops when the block is left, however it is left. (A module of its own, beside tests/conftest.py,
so that every test folder can import it by name.)
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

import httpx

__all__ = ["Handler", "OneAtATime", "Recorded", "StandIn", "Stream", "loopback", "serve", "served"]

Handler = Callable[[httpx.Request], httpx.Response]
_DROPPED = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class StandIn(Protocol):
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, client: str = ""
               ) -> tuple[int, Any, dict[str, str]]: ...


@dataclass
class Stream:
    """Lines of JSON sent one by one, as the Docker engine streams a pull's progress."""

    lines: list[dict[str, Any]]


@dataclass
class Recorded:
    """One request a stand-in received (its path and query parameters), and its answer once given."""

    method: str
    path: str
    params: dict[str, str]
    response: httpx.Response | None = None


class OneAtATime:
    """A stand-in's `handler` (for `httpx.MockTransport` or `served`) that answers one request at a time, since the
    engine calls from several threads, and keeps each answer with its request: the subclass's `_respond`
    appends the request to `requests` (records with a `response` field) and answers it. Subclasses set
    `requests` and `_serving` (a `threading.Lock`) in their `__init__`."""

    requests: list[Any]
    _serving: threading.Lock

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self._serving:
            response = self._respond(request)
            if self.requests:
                self.requests[-1].response = response
        return response

    def _respond(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


class _Adapter(BaseHTTPRequestHandler):
    """Hands each request, as an `httpx.Request`, to the server's `handler` and sends its answer back."""

    server: Any
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:  # a unix socket has no client address
        return "local"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = httpx.Request(self.command, f"{self.server.origin}{self.path}",
                                headers=list(self.headers.items()), content=body)
        response = self.server.handler(request)
        content = response.read()
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _DROPPED:
                self.send_header(name, value)
        if response.status_code not in (204, 304):
            self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(content)))
        self.end_headers()
        if self.command != "HEAD" and response.status_code not in (204, 304):
            self.wfile.write(content)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve


def _standin_handler(standin: StandIn) -> Handler:
    """An httpx handler that asks `standin.handle` and encodes its answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        raw_path, _, raw_query = request.url.raw_path.decode().partition("?")
        raw = request.content
        status, answer, headers = standin.handle(request.method, raw_path,
                                                 parse_qs(raw_query, keep_blank_values=True),
                                                 json.loads(raw) if raw.strip() else None,
                                                 request.headers.get("User-Agent", ""))
        if isinstance(answer, Stream):
            payload = b"".join(json.dumps(line).encode() + b"\r\n" for line in answer.lines)
            content_type = "application/json"
        elif isinstance(answer, bytes):
            payload, content_type = answer, "application/vnd.docker.raw-stream"
        elif isinstance(answer, str):
            payload, content_type = answer.encode(), "text/plain; charset=utf-8"
        elif answer is None:
            payload, content_type = b"", "application/json"
        else:
            payload, content_type = json.dumps(answer).encode(), "application/json"
        typed = {} if status in (204, 304) else {"Content-Type": content_type}
        return httpx.Response(status, headers={**typed, **headers}, content=payload)

    return handler


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def _running(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, name="http-standin", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def loopback(handler_class: Callable[..., BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler_class` served on a free port of 127.0.0.1 while the block runs; yields the port."""
    server = _TCPServer(("127.0.0.1", 0), handler_class)
    with _running(server):
        yield server.server_address[1]


@contextmanager
def served(handler: Handler) -> Iterator[str]:
    """The handler served on a free port of 127.0.0.1 while the block runs; yields the base URL
    (http://127.0.0.1:<port>)."""
    server = _TCPServer(("127.0.0.1", 0), _Adapter)
    server.origin = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    server.handler = handler  # type: ignore[attr-defined]
    with _running(server):
        yield server.origin  # type: ignore[attr-defined]


@contextmanager
def serve(standin: StandIn, socket_path: Path | None = None) -> Iterator[str]:
    """Serve a stand-in; yields its address: `unix://PATH` for a socket path, else `tcp://127.0.0.1:PORT`."""
    server: socketserver.BaseServer
    if socket_path is not None:
        if socket_path.exists():
            os.unlink(socket_path)
        server = _UnixServer(str(socket_path), _Adapter)
        server.origin = "http://localhost"  # type: ignore[attr-defined]
        host = f"unix://{socket_path}"
    else:
        server = _TCPServer(("127.0.0.1", 0), _Adapter)
        server.origin = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
        host = f"tcp://127.0.0.1:{server.server_address[1]}"
    server.handler = _standin_handler(standin)  # type: ignore[attr-defined]
    with _running(server):
        yield host
