"""A whole run against a server that misbehaves in every way at once: it finishes, accounts for every
entry, ends each case where it should, and keeps its memory bounded."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tests.builders import entry
from tests.conftest import PROJECT, beam_test_pipeline
from tests.faultserver import fixed, gzip_bomb, redirect, reset, sequence, slow_drip, truncated
from tests.pipeline_run import read_outputs, run_dir
from transforms.lib.http import FetchSettings
from transforms.pages import FetchPages

ARTICLE = ("<html lang='en'><body><nav>Home | World</nav><article><h1>{title}</h1>"
           + "".join(f"<p>{{word}} Paragraph {n}: the council of Carrow met on Monday to discuss item {n} of the "
                     f"harbour budget, and {n * 7} residents attended, officials said.</p>" for n in range(8))
           + "</article><footer>(c) Site</footer></body></html>")
SUMMARY = "Feed summary: the council of Carrow discussed the harbour budget on Monday, officials said. " * 4
MAX_SECONDS = 120
MAX_RSS_MB = 1500

# path -> (handler, has a feed summary, expected outcome)
#   ("page", None) record from the page; ("feed", reason) record from the feed's text after the page failed;
#   ("dead", reason) dead letter at extract.
CASES = {
    "/flaky": (sequence(fixed(500, b"oops"), fixed(200, ARTICLE.format(title="Flaky", word="a").encode())), True,
               ("page", None)),
    "/limited": (sequence(fixed(429, b"", headers={"Retry-After": "1"}),
                          fixed(200, ARTICLE.format(title="Limited", word="b").encode())), True, ("page", None)),
    "/reset": (sequence(reset, fixed(200, ARTICLE.format(title="Reset", word="c").encode())), True, ("page", None)),
    "/latin1": (fixed(200, ARTICLE.format(title="Caf\u00e9", word="caf\u00e9").encode("cp1252"),
                      "text/html; charset=utf-8"), True, ("page", None)),
    "/truncated": (truncated, True, ("feed", "truncated_after_retries")),
    "/drip": (slow_drip(seconds=30, interval=0.5), True, ("feed", "deadline_exceeded")),
    "/loop": (redirect("/loop"), True, ("feed", "redirect_loop")),
    "/bomb": (gzip_bomb(200_000_000), True, ("feed", "too_large_decoded")),
    "/huge": (fixed(200, b"<html><body>" + b"<p>x</p>" * 1_000_000 + b"</body></html>"), True, ("feed", "too_large")),
    "/image": (fixed(200, b"\x89PNG\r\n", "image/png"), True, ("feed", "not_html")),
    "/gone": (fixed(404, b"gone"), False, ("dead", "page_http_404")),
}
METADATA_URL = "http://169.254.169.254/latest/meta-data/"


def rss(items: list[tuple[str, str, bool]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Tue, 18 Nov 2026 0{i % 10}:00:00 GMT</pubDate>"
        + (f"<description>{SUMMARY}</description>" if summary else "") + "</item>"
        for i, (title, link, summary) in enumerate(items))
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Hostile</title>{body}</channel></rss>".encode()


def test_a_run_against_a_hostile_server(fault_server, tmp_path):
    items = [(path.strip("/"), fault_server.url(path), summary) for path, (_h, summary, _o) in CASES.items()]
    items.append(("metadata", METADATA_URL, False))
    for path, (handler, _summary, _outcome) in CASES.items():
        fault_server.route(path, handler)
    feeds = {
        "/feed.xml": fixed(200, rss(items), "application/rss+xml"),
        "/entity-bomb.xml": fixed(200, ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 10_000 + '">]>'
                                        "<rss version='2.0'><channel><title>" + "&a;" * 5_000
                                        + "</title></channel></rss>").encode(), "application/xml"),
        "/gzipped.xml": fixed(200, gzip.compress(rss([("gz", fault_server.url("/flaky"), True)])), "application/xml"),
        "/not-a-feed.html": fixed(200, b"<html><body><p>Just a page</p></body></html>", "text/html"),
        "/missing.xml": fixed(404, b"no"),
    }
    for path, handler in feeds.items():
        fault_server.route(path, handler)
    output = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline", "run", "--output", str(output), "--allow_private_networks",
               "--per_host_delay", "0", "--per_host_concurrency", "8", "--total_timeout", "3", "--read_timeout", "2",
               "--max_retries", "2", "--backoff_seconds", "0.1", "--max_bytes", "2000000",
               "--max_decoded_bytes", "5000000"]
    for path in feeds:
        command += ["--feeds", fault_server.url(path)]
    started = time.monotonic()
    # Linux carries a process's peak RSS across fork and exec, so a child of this (large) test process would
    # report at least the test process's own size: a small launcher in between measures the run alone.
    launcher = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, status, usage = os.wait4(p.pid, 0);"
                " print(f'PEAK_RSS_KB {usage.ru_maxrss}'); sys.exit(os.waitstatus_to_exitcode(status))")
    process = subprocess.run([sys.executable, "-c", launcher, *command], cwd=PROJECT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, check=False)
    elapsed = time.monotonic() - started
    log = process.stdout
    peak_rss_mb = int(log.rsplit("PEAK_RSS_KB ", 1)[1].split()[0]) / 1024
    print(f"hostile run: {elapsed:.1f} s, peak RSS {peak_rss_mb:.0f} MB\n{log}")
    assert process.returncode == 0, log
    assert elapsed < MAX_SECONDS and peak_rss_mb < MAX_RSS_MB, (elapsed, peak_rss_mb)

    out = read_outputs(output)
    assert out["summary"]["invariant"]["holds"]
    records = {r["url"]: r for r in out["duplicates"]}
    records.update({r["url"]: r for r in out["records"]})  # a URL in two feeds: the canonical copy
    dead = {d["url"]: d for d in out["dead_letters"]}
    for path, (_handler, _summary, (where, reason)) in CASES.items():
        url = fault_server.url(path)
        if where == "page":
            assert records[url]["body_source"] == "page", path
        elif where == "feed":
            assert records[url]["body_source"] == "feed" and reason in records[url]["body_note"], (path, records[url])
        else:
            assert dead[url]["stage"] == "extract" and dead[url]["reason"] == reason, path
    assert "caf\u00e9" in records[fault_server.url("/latin1")]["body"]  # mislabelled cp1252 decoded
    assert dead[METADATA_URL]["reason"] == "page_blocked_address"  # refused even with private networks allowed
    feed_dead = {d["url"]: d["reason"] for d in out["dead_letters"] if d["unit"] == "feed"}
    assert feed_dead == {fault_server.url("/entity-bomb.xml"): "entity_expansion",
                         fault_server.url("/not-a-feed.html"): "not_a_feed",
                         fault_server.url("/missing.xml"): "http_404"}
    hits = fault_server.hits  # named in the messages: a failure here seen once in a full run, not reproduced
    assert hits["/flaky"] == 2, hits  # the gzipped feed's copy of /flaky is a same-URL duplicate, not refetched
    assert hits["/gone"] == 1 and hits["/loop"] <= 7, hits


def test_loopback_pages_are_refused_without_the_flag(fault_server):
    page = fault_server.route("/internal", fixed(200, b"<html><body>secret</body></html>"))
    settings = FetchSettings(allow_private_networks=False)
    with beam_test_pipeline() as p:
        out = p | beam.Create([entry()._replace(url=page)]) | FetchPages(settings, concurrency=2)
        assert_that(out["pages"] | beam.Map(lambda pg: (pg.html, pg.error.split(":")[0])),
                    equal_to([(None, "blocked_address")]))
    assert fault_server.hits["/internal"] == 0


def test_summary_reports_dead_letters_by_stage_and_reason(tmp_path, fault_server):
    feed = fault_server.route("/feed.xml", fixed(200, rss([("gone", fault_server.url("/gone"), False)]),
                                                 "application/rss+xml"))
    fault_server.route("/gone", fixed(404, b""))
    output = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "--feeds", feed, "--output", str(output),
                             "--allow_private_networks", "--per_host_delay", "0"], cwd=PROJECT, capture_output=True,
                            text=True)
    summary = json.loads((run_dir(output) / "run_summary.json").read_text())
    assert summary["dead_letters"]["entry"] == {"extract": {"page_http_404": 1}}
    assert "dead       entry at extract: page_http_404 1" in result.stdout
    # Every element given to the extract stage was dead-lettered: visible, and a non-zero exit.
    assert summary["failed_stages"] == ["extract"] and result.returncode == 4
