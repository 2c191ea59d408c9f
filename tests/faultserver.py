"""A programmable HTTP server on 127.0.0.1 for fetcher tests: each path is a behaviour.

``server.route(path, handler)`` registers ``handler(request) -> None``, where
``request`` is the ``BaseHTTPRequestHandler``; helpers below build the usual
behaviours (fixed response, a sequence of statuses, slow drip, reset...).
``server.hits[path]`` counts requests, ``server.times[path]`` their start times.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Handler = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # resets and broken pipes are what this server is for


class FaultServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: dict[str, int] = defaultdict(int)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.max_active: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle on, the body waits for the
            # client's delayed ACK (40 ms a request on Linux).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                with server._lock:
                    server.hits[path] += 1
                    server.times[path].append(time.monotonic())
                    server.active[path] += 1
                    server.max_active[path] = max(server.max_active[path], server.active[path])
                try:
                    handler = server.routes.get(path)
                    if handler is None:
                        respond(self, 404, b"no such route\n", "text/plain")
                    else:
                        handler(self)
                finally:
                    with server._lock:
                        server.active[path] -= 1

            def log_message(self, *args: object) -> None:
                pass

        return Request


def respond(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "text/html",
            headers: dict[str, str] | None = None) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def fixed(status: int, body: bytes, content_type: str = "text/html", headers: dict[str, str] | None = None,
          delay: float = 0.0) -> Handler:
    def handler(request: BaseHTTPRequestHandler) -> None:
        if delay:
            time.sleep(delay)
        respond(request, status, body, content_type, headers)
    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one repeats."""
    calls = {"n": 0}
    lock = threading.Lock()

    def handler(request: BaseHTTPRequestHandler) -> None:
        with lock:
            index = min(calls["n"], len(handlers) - 1)
            calls["n"] += 1
        handlers[index](request)
    return handler


def reset(request: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP RST before answering."""
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.connection.close()
    request.close_connection = True


def truncated(request: BaseHTTPRequestHandler) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.send_header("Content-Length", "100000")
    request.end_headers()
    request.wfile.write(b"<html><body><p>only the beginning")
    request.wfile.flush()
    request.close_connection = True


def slow_drip(seconds: float, interval: float = 1.0) -> Handler:
    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.end_headers()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                request.wfile.write(b"x")
                request.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass
        request.close_connection = True
    return handler


def redirect(location: str, status: int = 302) -> Handler:
    return fixed(status, b"", headers={"Location": location})


def gzip_bomb(decompressed_size: int) -> Handler:
    body = gzip.compress(b"\0" * decompressed_size, compresslevel=9)
    return fixed(200, body, "text/html", {"Content-Encoding": "gzip"})
