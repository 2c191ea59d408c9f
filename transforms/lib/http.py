"""The one HTTP fetcher, used for feeds and for pages.

Plain, blocking, thread-safe: a ``Fetcher`` is created once per worker (in a
DoFn's ``setup``) and called from a thread pool. It pools connections, limits
concurrency and spacing per host, retries transient faults with backoff
(honouring ``Retry-After``), caps bytes on the wire and after decompression,
enforces a total deadline per request, and refuses non-public addresses
unless told otherwise. Every failure is a ``FetchError`` with a short
``reason`` that ends up in the dead letters.
"""

from __future__ import annotations

import email.utils
import random
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from schemas.records import FetchResult
from transforms.lib.netpolicy import BlockedAddressError, ConnectTo, address_refusal, resolve
from transforms.lib.times import utc_now
from transforms.lib.urls import ALLOWED_SCHEMES

PIPELINE_VERSION = "0.1.0"
DEFAULT_USER_AGENT = f"newsbeam/{PIPELINE_VERSION} (news feed and article fetcher)"

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Feeds come with many labels (text/html included, on misconfigured servers);
# refuse only what cannot be a feed.
NOT_FEED_TYPE_PREFIXES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")

GZIP_MAGIC = b"\x1f\x8b"
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchSettings:
    """Limits and politeness, all explicit. Defaults suit a production crawl."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # per attempt, so a slow drip cannot hold a worker
    max_bytes: int = 10 * 1024 * 1024  # on the wire
    max_decoded_bytes: int = 20 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    max_retries: int = 3
    backoff_seconds: float = 1.0  # first retry waits this long, then doubles
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for
    per_host_concurrency: int = 2
    per_host_delay: float = 0.0  # minimum seconds between request starts to one host
    allow_private_networks: bool = False
    connect_to: tuple[ConnectTo, ...] = field(default_factory=tuple)


class FetchError(Exception):
    """A fetch that did not give a usable response."""

    def __init__(self, reason: str, message: str, *, status: int | None = None, transient: bool = False,
                 retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason  # e.g. "http_404", "too_large", "blocked_address"
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


class HostLimiter:
    """Per-host concurrency and minimum spacing between request starts.

    ``slot(host, delay)`` may ask for a longer spacing for one host (a robots.txt
    ``Crawl-delay``): the spacing after that request is ``max(delay, the
    limiter's own)``. The override travels with each request rather than living
    here because this limiter is shared by every run in the process (tests run
    many), while a host's robots.txt is one run's knowledge.
    """

    def __init__(self, concurrency: int, delay: float):
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay)
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    def slot(self, host: str, delay: float | None = None) -> "_HostSlot":
        with self._lock:
            semaphore = self._semaphores.setdefault(host, threading.BoundedSemaphore(self._concurrency))
        return _HostSlot(self, host, semaphore, delay)

    def hold(self, host: str, seconds: float) -> None:
        """The next request to ``host`` starts ``seconds`` from now at the earliest (a Crawl-delay just read
        from the host's robots.txt applies to the request that follows it too)."""
        with self._lock:
            self._next_start[host] = max(self._next_start.get(host, 0.0), time.monotonic() + max(0.0, seconds))

    def _wait_turn(self, host: str, delay: float | None = None) -> None:
        spacing = self._delay if delay is None else max(self._delay, delay)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + spacing
        if start > now:
            time.sleep(start - now)


class _HostSlot:
    def __init__(self, limiter: HostLimiter, host: str, semaphore: threading.BoundedSemaphore,
                 delay: float | None = None):
        self._limiter, self._host, self._semaphore, self._delay = limiter, host, semaphore, delay

    def __enter__(self) -> None:
        self._semaphore.acquire()
        self._limiter._wait_turn(self._host, self._delay)

    def __exit__(self, *exc: object) -> None:
        self._semaphore.release()


# One limiter per process and per setting, so every stage of a run (feeds,
# pages) shares the same per-host budget.
_LIMITERS: dict[tuple[int, float], HostLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(concurrency: int, delay: float) -> HostLimiter:
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault((concurrency, delay), HostLimiter(concurrency, delay))


def _checked_connection_class(base: type, settings: FetchSettings) -> type:
    """A urllib3 connection class that resolves, checks and connects itself."""

    def _new_conn(self: HTTPConnection) -> socket.socket:
        host = self._dns_host.rstrip(".")
        candidates = resolve(host, self.port, settings.connect_to)
        refusal, last = None, host
        for address, port in candidates:
            refusal = address_refusal(address, settings.allow_private_networks)
            if refusal is None:
                sock = socket.create_connection((address, port), timeout=self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            last = address
        raise BlockedAddressError(host, last, refusal or "no address")

    return type(f"Checked{base.__name__}", (base,), {"_new_conn": _new_conn})


class Fetcher:
    """Fetch URLs under the limits of a ``FetchSettings``. Thread-safe."""

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        self.limiter = shared_limiter(settings.per_host_concurrency, settings.per_host_delay)
        self._host_delays: dict[str, float] = {}  # host -> seconds between requests (robots.txt Crawl-delay)
        self._pool = urllib3.PoolManager(num_pools=256, maxsize=max(1, settings.per_host_concurrency), block=False)
        http_conn = _checked_connection_class(HTTPConnection, settings)
        https_conn = _checked_connection_class(HTTPSConnection, settings)
        self._pool.pool_classes_by_scheme = {
            "http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }

    def close(self) -> None:
        self._pool.clear()

    def set_host_delay(self, host: str, seconds: float) -> None:
        """Keep at least ``seconds`` between request starts to ``host`` (with this fetcher), on top of
        ``per_host_delay``; for a robots.txt Crawl-delay, already capped by the caller."""
        self._host_delays[host.lower()] = max(0.0, seconds)

    def fetch(self, url: str, kind: str = "page", headers: Mapping[str, str] | None = None) -> FetchResult:
        """GET ``url``, following redirects; ``kind`` is "page", "feed" or "robots" (any content type).

        Raises FetchError. A 304 (after a conditional request) is returned,
        not raised, with an empty body.
        """
        attempt = 0
        while True:
            try:
                return self._fetch_following_redirects(url, kind, headers or {})
            except FetchError as error:
                if not error.transient or attempt >= self.settings.max_retries:
                    if error.transient:
                        error.reason = f"{error.reason}_after_retries"
                    raise
                wait = self.settings.backoff_seconds * (2 ** attempt) * (1 + 0.1 * random.random())
                if error.retry_after is not None:
                    if error.retry_after > self.settings.max_retry_after:
                        raise FetchError("retry_after_too_long", f"{error} (Retry-After {error.retry_after:.0f}s)",
                                         status=error.status, retry_after=error.retry_after) from None
                    wait = max(wait, error.retry_after)
                time.sleep(wait)
                attempt += 1

    def _fetch_following_redirects(self, url: str, kind: str, headers: Mapping[str, str]) -> FetchResult:
        visited: list[str] = []
        current = url
        while True:
            _check_scheme(current)
            if current in visited:
                raise FetchError("redirect_loop", f"redirect loop: {' -> '.join(visited + [current])}"[:500])
            if len(visited) > self.settings.max_redirects:
                raise FetchError("too_many_redirects", f"more than {self.settings.max_redirects} redirects from {url}")
            visited.append(current)
            response = self._fetch_once(current, kind, headers)
            if isinstance(response, str):  # a redirect target
                current = response
                continue
            return response._replace(url=url)

    def _fetch_once(self, url: str, kind: str, headers: Mapping[str, str]) -> FetchResult | str:
        settings = self.settings
        request_headers = {
            "User-Agent": settings.user_agent,
            "Accept-Encoding": "gzip, deflate",
            "Accept": _ACCEPT[kind],
            **headers,
        }
        host = urlsplit(url).hostname or ""
        with self.limiter.slot(host, self._host_delays.get(host)):
            deadline = time.monotonic() + settings.total_timeout
            try:
                response = self._pool.request(
                    "GET", url, headers=request_headers, redirect=False, retries=False,
                    preload_content=False, decode_content=False,
                    timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
                )
            except BlockedAddressError as exc:
                raise FetchError("blocked_address", str(exc)) from None
            except socket.gaierror as exc:
                raise FetchError("dns_error", f"cannot resolve {host}: {exc}") from None
            except Urllib3Error as exc:
                raise _connection_error(exc) from None
            try:
                outcome = self._read_response(url, kind, response, deadline)
            except BaseException:
                # The body may be partly unread (refused on its headers, over a cap, past the
                # deadline): back in the pool, the next request on it would read those bytes.
                response.close()
                raise
            finally:
                response.release_conn()
            return outcome

    def _read_response(self, url: str, kind: str, response: urllib3.BaseHTTPResponse, deadline: float
                       ) -> FetchResult | str:
        status = response.status
        if status in REDIRECT_STATUSES:
            location = response.headers.get("Location")
            response.drain_conn()
            if not location:
                raise FetchError("bad_redirect", f"HTTP {status} without Location from {url}", status=status)
            return urljoin(url, location.strip())
        if status == 304:
            return self._result(url, response, b"")
        if status >= 400:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            response.drain_conn()
            raise FetchError(f"http_{status}", f"HTTP {status} from {url}", status=status,
                             transient=status in TRANSIENT_STATUSES, retry_after=retry_after)
        content_type, _charset = _content_type(response.headers.get("Content-Type", ""))
        _check_content_type(url, kind, content_type)
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.settings.max_bytes:
            raise FetchError("too_large",
                             f"Content-Length {length} exceeds the {self.settings.max_bytes}-byte cap: {url}")
        raw = self._read_capped(url, response, deadline)
        encoding = response.headers.get("Content-Encoding", "")
        if not encoding and raw[:2] == GZIP_MAGIC:
            encoding = "gzip"  # a gzipped file served without Content-Encoding (a .xml.gz, say)
        body = _decompress(url, raw, encoding, self.settings.max_decoded_bytes)
        return self._result(url, response, body)

    def _read_capped(self, url: str, response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError("deadline_exceeded",
                                     f"body not complete within {self.settings.total_timeout:.0f}s: {url}")
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.settings.max_bytes:
                    raise FetchError("too_large", f"more than {self.settings.max_bytes} bytes on the wire: {url}")
                chunks.append(chunk)
        except ReadTimeoutError:
            raise FetchError("read_timeout", f"no data for {self.settings.read_timeout:.0f}s: {url}",
                             transient=True) from None
        except ProtocolError as exc:
            raise FetchError("truncated", f"connection broken mid-body ({exc}): {url}", transient=True) from None
        except Urllib3Error as exc:
            raise _connection_error(exc) from None
        return b"".join(chunks)

    def _result(self, url: str, response: urllib3.BaseHTTPResponse, body: bytes) -> FetchResult:
        content_type, charset = _content_type(response.headers.get("Content-Type", ""))
        return FetchResult(
            url=url,
            final_url=url,
            status=response.status,
            content_type=content_type,
            charset=charset,
            body=body,
            fetched_at=utc_now(),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )


_ACCEPT = {
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/rdf+xml,application/xml;q=0.9,"
            "text/xml;q=0.9,text/x-opml;q=0.8,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise FetchError("bad_scheme", f"only http and https are fetched, not {scheme or '(none)'!r}: {url[:200]}")


def _content_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip().strip("\"'").lower()
    return media.strip().lower(), charset


def _check_content_type(url: str, kind: str, content_type: str) -> None:
    if kind == "page":
        if content_type not in PAGE_TYPES:
            raise FetchError("not_html", f"content type {content_type or '(none)'!r} is not HTML: {url}")
    elif kind == "robots":
        return  # servers label robots.txt every which way; RFC 9309 parses whatever a 2xx carries
    elif content_type.startswith(NOT_FEED_TYPE_PREFIXES):
        raise FetchError("not_a_feed", f"content type {content_type!r} cannot be a feed: {url}")


def _decompress(url: str, raw: bytes, encoding: str, cap: int) -> bytes:
    """Undo Content-Encoding with a cap on the output: a gzip bomb stops at ``cap``."""
    data = raw
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            decoder = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
        else:
            raise FetchError("bad_encoding", f"unsupported Content-Encoding {coding!r}: {url}")
        try:
            out = decoder.decompress(data, cap + 1)
        except zlib.error as exc:
            raise FetchError("bad_encoding", f"cannot decode {coding} body ({exc}): {url}") from None
        if len(out) > cap or decoder.unconsumed_tail:
            raise FetchError("too_large_decoded", f"more than {cap} bytes after {coding} decompression: {url}")
        data = out
    if len(data) > cap:
        raise FetchError("too_large_decoded", f"more than {cap} bytes: {url}")
    return data


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _connection_error(exc: Exception) -> FetchError:
    text = str(exc)
    cause = exc
    while cause.__context__ is not None and not isinstance(cause, BlockedAddressError):
        cause = cause.__context__
    if isinstance(cause, BlockedAddressError):
        return FetchError("blocked_address", str(cause))
    if isinstance(cause, socket.gaierror) or "NameResolutionError" in type(exc).__name__:
        return FetchError("dns_error", text[:300])
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return FetchError("connect_timeout", text[:300], transient=True)
    if "reset" in text.lower():
        return FetchError("connection_reset", text[:300], transient=True)
    return FetchError("connection_error", text[:300], transient=True)
