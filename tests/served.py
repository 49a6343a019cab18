"""Serving an in-process stand-in (a function from `httpx.Request` to `httpx.Response`) over real HTTP on
127.0.0.1, for tests that run the installed `dtm` command in a process of its own.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Handler = Callable[[httpx.Request], httpx.Response]
_DROPPED = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@contextmanager
def served(handler: Handler) -> Iterator[str]:
    """The handler served on a free port of 127.0.0.1 while the block runs; yields the base URL
    (http://127.0.0.1:<port>). The server is shut down when the block is left, however it is left."""

    class Adapter(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            host, port = self.server.server_address[:2]
            request = httpx.Request(self.command, f"http://{host}:{port}{self.path}",
                                    headers=list(self.headers.items()), content=body)
            response = handler(request)
            content = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.multi_items():
                if name.lower() not in _DROPPED:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Adapter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
