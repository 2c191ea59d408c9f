"""A static multi-site HTTP server on loopback: serves ``ROOT/HOST/PATH`` by the Host header.

Used by ``newsbeam demo`` (the bundled sample) and by the tests. Query
strings are ignored, a path ending in ``/`` serves ``index.html``, a missing
file is a 404. Responses carry an ETag (of the content) and Last-Modified
(the file's time) and answer a matching conditional request with 304, as a
well-behaved news site does. It counts requests per path (and conditional
ones), for tests that check what was fetched.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
    ".opml": "text/x-opml",
    ".txt": "text/plain; charset=utf-8",
}
SPECIAL_CONTENT_TYPES = {"atom.xml": "application/atom+xml"}


class SiteServer:
    """``with SiteServer(root) as server:`` serves on ``server.port`` until the block ends."""

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0):
        self.root = Path(root).resolve()
        self.requests: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="site-server", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def hosts(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def connect_to_specs(self, site_port: int = 80) -> list[str]:
        """``HOST:PORT:127.0.0.1:THIS_PORT`` for every site: what ``--connect_to`` takes."""
        return [f"{host}:{site_port}:127.0.0.1:{self.port}" for host in self.hosts()]

    def connect_to_args(self, site_port: int = 80) -> list[str]:
        """``--connect_to`` options sending every site's host name to this server."""
        return [f"--connect_to={spec}" for spec in self.connect_to_specs(site_port)]

    def __enter__(self) -> "SiteServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle on, the body waits for the
            # client's delayed ACK (40 ms a request on Linux).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                path = unquote(urlsplit(self.path).path)
                with server._lock:
                    server.requests[f"{host}{path}"] += 1
                file = server.file_for(host, path)
                if file is None:
                    self._send(404, b"not found\n", "text/plain")
                    return
                body = file.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                modified = email.utils.formatdate(file.stat().st_mtime, usegmt=True)
                validators = {"ETag": etag, "Last-Modified": modified}
                conditional = self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since")
                if conditional:
                    with server._lock:
                        server.conditional[f"{host}{path}"] += 1
                if self.headers.get("If-None-Match") == etag or (
                        not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == modified):
                    self._send(304, b"", content_type_for(file), validators)
                    return
                self._send(200, body, content_type_for(file), validators)

            def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
                      ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def file_for(self, host: str, path: str) -> Path | None:
        if path.endswith("/"):
            path += "index.html"
        candidate = (self.root / host / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root / host) or not candidate.is_file():
            return None
        return candidate


def content_type_for(file: Path) -> str:
    return SPECIAL_CONTENT_TYPES.get(file.name) or CONTENT_TYPES.get(file.suffix, "application/octet-stream")
