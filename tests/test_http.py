"""The fetcher against a real HTTP server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import gzip
import threading
import time

import pytest

from tests.faultserver import fixed, gzip_bomb, redirect, reset, sequence, slow_drip, truncated
from transforms.lib.http import Fetcher, FetchError, FetchSettings, HostLimiter

PAGE = b"<html><body><p>hello</p></body></html>"


def fetcher(**overrides) -> Fetcher:
    settings = dict(allow_private_networks=True, backoff_seconds=0.05, connect_timeout=2, read_timeout=2,
                    total_timeout=5, per_host_concurrency=4)
    settings.update(overrides)
    return Fetcher(FetchSettings(**settings))


def test_plain_fetch_and_headers(fault_server):
    seen = {}

    def handler(request):
        seen["ua"] = request.headers["User-Agent"]
        seen["accept"] = request.headers["Accept"]
        fixed(200, PAGE, "text/html; charset=ISO-8859-1", {"ETag": '"v1"'})(request)

    url = fault_server.route("/page", handler)
    result = fetcher().fetch(url)
    assert (result.status, result.body, result.content_type, result.charset, result.etag) == (
        200, PAGE, "text/html", "iso-8859-1", '"v1"')
    assert seen["ua"].startswith("newsbeam/") and "text/html" in seen["accept"]


def test_loopback_is_refused_unless_allowed(fault_server):
    url = fault_server.route("/page", fixed(200, PAGE))
    with pytest.raises(FetchError) as refused:
        fetcher(allow_private_networks=False).fetch(url)
    assert refused.value.reason == "blocked_address" and "loopback" in str(refused.value)
    assert fault_server.hits["/page"] == 0  # refused before connecting


def test_redirect_to_private_address_is_refused_after_the_hop(fault_server):
    # A public name is not available offline, so the hop is checked via connect_to:
    # the first host maps to loopback but is allowed only through the rule's own check.
    url = fault_server.route("/hop", redirect("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(FetchError) as refused:
        fetcher().fetch(url)
    assert refused.value.reason == "blocked_address" and "metadata" in str(refused.value)


def test_only_http_and_https(fault_server):
    url = fault_server.route("/js", redirect("javascript:alert(1)"))
    with pytest.raises(FetchError) as error:
        fetcher().fetch(url)
    assert error.value.reason == "bad_scheme"
    with pytest.raises(FetchError):
        fetcher().fetch("file:///etc/passwd")


def test_5xx_is_retried_then_succeeds(fault_server):
    url = fault_server.route("/flaky", sequence(fixed(500, b"oops"), fixed(503, b"busy"), fixed(200, PAGE)))
    assert fetcher().fetch(url).body == PAGE
    assert fault_server.hits["/flaky"] == 3


def test_retries_are_bounded(fault_server):
    url = fault_server.route("/down", fixed(502, b"bad gateway"))
    with pytest.raises(FetchError) as error:
        fetcher(max_retries=2).fetch(url)
    assert error.value.reason == "http_502_after_retries" and fault_server.hits["/down"] == 3


def test_404_is_permanent(fault_server):
    url = fault_server.route("/gone", fixed(404, b"nope"))
    with pytest.raises(FetchError) as error:
        fetcher().fetch(url)
    assert error.value.reason == "http_404" and fault_server.hits["/gone"] == 1


def test_retry_after_is_honoured(fault_server):
    url = fault_server.route("/limited", sequence(fixed(429, b"slow down", headers={"Retry-After": "1"}),
                                                  fixed(200, PAGE)))
    assert fetcher().fetch(url).body == PAGE
    first, second = fault_server.times["/limited"]
    assert second - first >= 0.95


def test_long_retry_after_is_not_waited_for(fault_server):
    url = fault_server.route("/later", fixed(429, b"", headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(FetchError) as error:
        fetcher(max_retry_after=30).fetch(url)
    assert error.value.reason == "retry_after_too_long" and time.monotonic() - started < 2


def test_connection_reset_is_retried(fault_server):
    url = fault_server.route("/reset", sequence(reset, fixed(200, PAGE)))
    assert fetcher().fetch(url).body == PAGE


def test_truncated_body_is_a_transient_error(fault_server):
    url = fault_server.route("/cut", truncated)
    with pytest.raises(FetchError) as error:
        fetcher(max_retries=1).fetch(url)
    assert error.value.reason == "truncated_after_retries" and fault_server.hits["/cut"] == 2


def test_slow_drip_hits_the_total_deadline(fault_server):
    url = fault_server.route("/drip", slow_drip(seconds=10, interval=0.2))
    started = time.monotonic()
    with pytest.raises(FetchError) as error:
        fetcher(total_timeout=1.0, read_timeout=5).fetch(url)
    assert error.value.reason == "deadline_exceeded"
    assert time.monotonic() - started < 3


def test_redirects_are_followed_capped_and_loops_detected(fault_server):
    fault_server.route("/final", fixed(200, PAGE))
    url = fault_server.route("/r1", redirect("/r2"))
    fault_server.route("/r2", redirect("/final", status=301))
    result = fetcher().fetch(url)
    assert result.body == PAGE and result.final_url.endswith("/final") and result.url == url

    loop = fault_server.route("/loop-a", redirect("/loop-b"))
    fault_server.route("/loop-b", redirect("/loop-a"))
    with pytest.raises(FetchError) as error:
        fetcher().fetch(loop)
    assert error.value.reason == "redirect_loop"

    for n in range(10):
        fault_server.route(f"/chain{n}", redirect(f"/chain{n + 1}"))
    with pytest.raises(FetchError) as error:
        fetcher(max_redirects=3).fetch(fault_server.url("/chain0"))
    assert error.value.reason == "too_many_redirects"


def test_size_caps_on_the_wire_and_after_decompression(fault_server):
    big = fault_server.route("/big", fixed(200, b"x" * 200_000))
    with pytest.raises(FetchError) as error:
        fetcher(max_bytes=100_000).fetch(big)
    assert error.value.reason == "too_large"

    bomb = fault_server.route("/bomb", gzip_bomb(50_000_000))
    with pytest.raises(FetchError) as error:
        fetcher(max_decoded_bytes=1_000_000).fetch(bomb)
    assert error.value.reason == "too_large_decoded"

    zipped = fault_server.route("/zipped", fixed(200, gzip.compress(PAGE), headers={"Content-Encoding": "gzip"}))
    assert fetcher().fetch(zipped).body == PAGE


def test_content_types_for_pages_and_feeds(fault_server):
    image = fault_server.route("/img", fixed(200, b"\x89PNG", "image/png"))
    with pytest.raises(FetchError) as error:
        fetcher().fetch(image, kind="page")
    assert error.value.reason == "not_html"
    with pytest.raises(FetchError) as error:
        fetcher().fetch(image, kind="feed")
    assert error.value.reason == "not_a_feed"
    xml = fault_server.route("/feed", fixed(200, b"<rss/>", "text/xml"))
    assert fetcher().fetch(xml, kind="feed").body == b"<rss/>"


def test_per_host_concurrency_is_limited(fault_server):
    url = fault_server.route("/slow", fixed(200, PAGE, delay=0.3))
    shared = fetcher(per_host_concurrency=2)
    threads = [threading.Thread(target=shared.fetch, args=(url,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fault_server.hits["/slow"] == 6
    assert fault_server.max_active["/slow"] == 2


def test_per_host_minimum_delay():
    limiter = HostLimiter(concurrency=4, delay=0.2)
    starts = []

    def one():
        with limiter.slot("a.example"):
            starts.append(time.monotonic())

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.18
    with limiter.slot("b.example"):  # another host is not delayed by the first
        pass


def test_a_crawl_delay_widens_one_hosts_spacing_and_holds_after_robots_txt(fault_server):
    limiter = HostLimiter(concurrency=4, delay=0.0)
    starts = []
    for _ in range(3):
        with limiter.slot("slow.example", 0.25):  # a Crawl-delay: max(0.25, the limiter's 0)
            starts.append(time.monotonic())
    assert min(b - a for a, b in zip(starts, starts[1:])) >= 0.23
    before = time.monotonic()
    with limiter.slot("fast.example"):  # other hosts keep the limiter's own spacing
        pass
    limiter.hold("fast.example", 0.3)  # a Crawl-delay just read from its robots.txt
    with limiter.slot("fast.example"):
        assert time.monotonic() - before >= 0.28
    # Fetcher.set_host_delay applies to that host's requests through the shared limiter.
    client = fetcher(per_host_delay=0.0, per_host_concurrency=3)
    url = fault_server.route("/paced", fixed(200, PAGE))
    client.set_host_delay("127.0.0.1", 0.2)
    for _ in range(3):
        client.fetch(url)
    gaps = [b - a for a, b in zip(fault_server.times["/paced"], fault_server.times["/paced"][1:])]
    assert min(gaps) >= 0.18


def _headers_then_late_body(content_type: str, body: bytes, delay: float):
    """Answer with headers at once and the body ``delay`` seconds later, keeping the connection open."""
    def handler(request) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.flush()
        time.sleep(delay)
        request.wfile.write(body)
    return handler


@pytest.mark.parametrize("refusal", ["not_html", "too_large"])
def test_a_refused_body_does_not_leak_into_the_next_request_on_the_connection(fault_server, refusal):
    """A response refused on its headers leaves its body unread: the connection must not go back to
    the pool, or the next request on it reads that late body as its status line (seen under load)."""
    body = b"ID3 not a page " * 8
    content_type = "audio/mpeg" if refusal == "not_html" else "text/html"
    refused = fault_server.route("/refused", _headers_then_late_body(content_type, body, 0.3))
    page = fault_server.route("/page", fixed(200, PAGE))
    client = fetcher(per_host_concurrency=1, max_retries=0, max_bytes=len(body) - 1)
    with pytest.raises(FetchError) as error:
        client.fetch(refused)
    assert error.value.reason == refusal
    assert client.fetch(page).body == PAGE
