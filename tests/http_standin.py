"""Serving an in-process stand-in of an HTTP API on a real socket (loopback TCP or a unix socket), so that dtm's
clients, dtm run as a subprocess and real command-line clients all reach it.

A stand-in is any object with `handle(method, path, query, body, client) -> (status, answer, headers)`: `answer` a
JSON-able value, a `str` (sent as text), None (no body) or a `Stream` (JSON lines sent one after the other);
`bytes` (sent as a raw stream), `client` is the request's User-Agent.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

__all__ = ["StandIn", "Stream", "serve"]


class StandIn(Protocol):
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, client: str = ""
               ) -> tuple[int, Any, dict[str, str]]: ...


@dataclass
class Stream:
    """Lines of JSON sent one by one, as the Docker engine streams a pull's progress."""

    lines: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:  # a unix socket has no client address
        return "local"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw.strip() else None
        query = parse_qs(parts.query, keep_blank_values=True)
        status, answer, headers = self.server.standin.handle(self.command, parts.path, query, body,
                                                             self.headers.get("User-Agent", ""))
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
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(payload)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serve(standin: StandIn, socket_path: Path | None = None) -> Iterator[str]:
    """Serve a stand-in; yields its address: `unix://PATH` for a socket path, else `tcp://127.0.0.1:PORT`."""
    server: socketserver.BaseServer
    if socket_path is not None:
        if socket_path.exists():
            os.unlink(socket_path)
        server = _UnixServer(str(socket_path), _Handler)
        host = f"unix://{socket_path}"
    else:
        server = _TCPServer(("127.0.0.1", 0), _Handler)
        host = f"tcp://127.0.0.1:{server.server_address[1]}"
    server.standin = standin  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="http-standin", daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
