"""Nothing lost, nothing misreported: what other parsers' test feeds, bad arguments and interruptions found.

Each test names the item of the issue it covers. Feeds and pages come from a loopback site server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.siteserver import SiteServer
from schemas.records import FetchResult
from tests.conftest import PROJECT
from tests.faultserver import FaultServer, fixed, slow_drip
from tests.pipeline_run import read_outputs, read_table
from tests.seedpages import page, write_site
from transforms.lib.feedparse import FeedParseError, parse_feed, repair_encoding

HOST = "faults.example"
PARAGRAPHS = [f"Paragraph {n}: the harbour board of Carrow met on Monday to discuss item {n} of its budget, and "
              f"{n * 7} residents attended the meeting, officials said." for n in range(6)]


def fetched(body: bytes, url: str = f"http://{HOST}/rss.xml", charset: str | None = None) -> FetchResult:
    return FetchResult(url, url, 200, "application/xml", charset, body, "2026-11-24T12:00:00Z", None, None)


def rss(items: str, declaration: str = "<?xml version='1.0' encoding='utf-8'?>") -> str:
    return (f"{declaration}<rss version='2.0' xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'>"
            f"<channel><title>Faults</title><link>http://{HOST}/</link><description>d</description>{items}"
            "</channel></rss>")


def run_site(tmp_path: Path, files: dict[str, str], *extra: str, feeds: list[str] | None = None) -> dict:
    write_site(tmp_path / "site", HOST, files)
    output = tmp_path / "out"
    with SiteServer(tmp_path / "site") as server:
        code = main(["run", *[arg for url in feeds or [f"http://{HOST}/rss.xml"] for arg in ("--feeds", url)],
                     "--output", str(output), "--allow_private_networks", "--per_host_delay", "0", "--no_entities",
                     "--max_retries", "0", *server.connect_to_args(), *extra])
    return {"code": code, **read_outputs(output), "feed_status": read_table(output, "feed_status")}


# 1. Same URL in several feeds, the fetched copy fails.
def test_a_same_url_group_whose_page_404s_keeps_the_entry_with_feed_text_as_its_record(tmp_path):
    """Two feeds list one URL; the first (earlier) has no text of its own; the page is a 404."""
    bare = rss(f"<item><title>Harbour budget</title><link>http://{HOST}/gone.html</link>"
               "<pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item>")
    with_text = rss(f"<item><title>Harbour budget</title><link>http://{HOST}/gone.html</link>"
                    "<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate>"
                    f"<description>{' '.join(PARAGRAPHS)}</description></item>")
    out = run_site(tmp_path, {"/bare.xml": bare, "/text.xml": with_text},
                   feeds=[f"http://{HOST}/bare.xml", f"http://{HOST}/text.xml"])
    [record] = out["records"]
    assert record["feed_url"] == f"http://{HOST}/text.xml" and record["body_source"] == "feed"
    assert [(d["feed_url"], d["duplicate_of"]) for d in out["duplicates"]] == [(f"http://{HOST}/bare.xml",
                                                                                record["id"])]
    assert out["dead_letters"] == [] and out["summary"]["invariant"]["holds"]


def test_copies_of_an_entry_that_became_a_dead_letter_are_dead_letters_too(tmp_path):
    """Neither entry of the group has text and the page 404s: no record can be made, and no duplicate
    may point at one that does not exist."""
    feeds = {f"/{name}.xml": rss(f"<item><title>Harbour budget</title><link>http://{HOST}/gone.html</link></item>")
             for name in ("one", "two")}
    out = run_site(tmp_path, feeds, feeds=[f"http://{HOST}/one.xml", f"http://{HOST}/two.xml"])
    assert out["records"] == [] and out["duplicates"] == []
    assert sorted(d["reason"] for d in out["dead_letters"]) == ["copy_of_failed_entry", "page_http_404"]
    summary = out["summary"]
    assert summary["invariant"]["holds"] and summary["invariant"]["entries"] == 2


# 2. Plain-text titles are not parsed as HTML.
def test_plain_text_titles_keep_their_angle_brackets():
    feed = rss(f"<item><title>vector&lt;int&gt; in C++</title><link>http://{HOST}/1</link></item>"
               f"<item><title>&lt;title&gt;</title><link>http://{HOST}/2</link></item>"
               f"<item><title>&lt;b&gt;Bold&lt;/b&gt; news</title><link>http://{HOST}/3</link></item>")
    titles = [e.title for e in parse_feed(fetched(feed.encode())).entries]
    assert titles == ["vector<int> in C++", "<title>", "Bold news"]


# 3. A truncated feed is not an empty one.
def test_a_truncated_feed_keeps_the_entries_before_the_cut_and_says_so(tmp_path):
    items = "".join(f"<item><title>Story {n}</title><link>http://{HOST}/{n}.html</link>"
                    f"<description>{PARAGRAPHS[n]}</description></item>" for n in range(3))
    whole = rss(items)
    cut = whole[:whole.index("<item><title>Story 2")] + "<item><title>Sto"
    parsed = parse_feed(fetched(cut.encode()))
    assert [e.title for e in parsed.entries] == ["Story 0", "Story 1"] and parsed.truncated
    assert not parse_feed(fetched(whole.encode())).truncated
    with pytest.raises(FeedParseError) as error:
        parse_feed(fetched(whole[:whole.index("<item>") + 12].encode()))
    assert error.value.reason == "truncated_feed"
    pages = {f"/{n}.html": page(f"Story {n}", [f"Story {n}, {p}" for p in PARAGRAPHS[n:] + PARAGRAPHS[:n]],
                                "Faults", []) for n in range(3)}
    out = run_site(tmp_path, {"/rss.xml": cut, **pages}, "--no_dedup")
    assert len(out["records"]) == 2
    assert [s["truncated"] for s in out["feed_status"]] == [True]


def test_a_feed_cut_before_its_first_entry_is_a_dead_letter_with_the_reason(tmp_path):
    whole = rss(f"<item><title>Story</title><link>http://{HOST}/1.html</link></item>")
    out = run_site(tmp_path, {"/rss.xml": whole[:whole.index("<item>") + 12]})
    assert [d["reason"] for d in out["dead_letters"]] == ["truncated_feed"]
    assert out["code"] == 4  # the only feed failed


# 4. Enclosure-only items, FeedBurner's origLink, UTF-16 without a BOM, UTF-8 declared as windows-1252.
def test_media_items_and_feedburner_links_become_entries():
    feed = rss("<item><title>Episode 1</title>"
               f"<enclosure url='http://{HOST}/ep1.mp3' type='audio/mpeg' length='1'/></item>"
               f"<item><title>By GUID</title><guid isPermaLink='false'>http://{HOST}/guid.html</guid></item>"
               "<item><title>Proxied</title><link>http://feeds.feedburner.com/~r/x/~3/abc/</link>"
               f"<feedburner:origLink>http://{HOST}/original.html</feedburner:origLink></item>")
    parsed = parse_feed(fetched(feed.encode()))
    assert [e.url for e in parsed.entries] == [f"http://{HOST}/ep1.mp3", f"http://{HOST}/guid.html",
                                               f"http://{HOST}/original.html"]
    assert parsed.bad_entries == []


def test_utf16_without_a_bom_and_utf8_declared_as_windows_1252_read_correctly():
    feed = rss(f"<item><title>Caf\u00e9 owners \u2014 a story</title><link>http://{HOST}/1</link></item>",
               declaration="")
    for encoding in ("utf-16-le", "utf-16-be"):
        titles = [e.title for e in parse_feed(fetched(feed.encode(encoding))).entries]
        assert titles == ["Caf\u00e9 owners \u2014 a story"]
    declared = rss(f"<item><title>Caf\u00e9 owners</title><link>http://{HOST}/1</link></item>",
                   declaration="<?xml version='1.0' encoding='windows-1252'?>")
    assert [e.title for e in parse_feed(fetched(declared.encode("utf-8"))).entries] == ["Caf\u00e9 owners"]
    real_cp1252 = declared.encode("cp1252")  # what the declaration says: left alone
    assert repair_encoding(real_cp1252, None) == real_cp1252
    assert [e.title for e in parse_feed(fetched(real_cp1252)).entries] == ["Caf\u00e9 owners"]


# 6. Arguments are checked before any work starts.
@pytest.mark.parametrize("arguments, message", [
    (["--dedup_horizon", "-3"], "--dedup_horizon must be > 0"),
    (["--fetch_concurrency", "0"], "--fetch_concurrency must be >= 1"),
    (["--entity_chars", "0"], "--entity_chars must be >= 1"),
    (["--ouptut", "x"], "unknown option --ouptut (did you mean --output?)"),
])
def test_bad_arguments_get_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"http://{HOST}/rss.xml\n")
    assert main(["run", "--feeds", str(feeds), "--output", str(tmp_path / "out"), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists()


# 7. A feed list that yields no usable feed.
def test_a_broken_opml_file_is_an_error_that_says_so(tmp_path, capsys):
    broken = tmp_path / "feeds.opml"
    broken.write_text("this is not XML at all\nnor this\n")
    assert main(["run", "--feeds", str(broken), "--output", str(tmp_path / "out")]) == 2
    assert "not an OPML document" in capsys.readouterr().err


def test_a_feed_list_of_garbage_lines_exits_non_zero(tmp_path):
    garbage = tmp_path / "feeds.txt"
    garbage.write_text("not a url\nftp://also.not/usable\n")
    assert main(["run", "--feeds", str(garbage), "--output", str(tmp_path / "out"), "--no_entities"]) == 4
    dead = read_table(tmp_path / "out", "dead_letters")
    assert len(dead) == 2


# 8. An unwritable --output.
def test_an_unwritable_output_is_refused_in_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"http://{HOST}/rss.xml\n")
    assert main(["run", "--feeds", str(feeds), "--output", str(blocker / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert "cannot be written" in error and len(error.splitlines()) == 1


# 9. newsbeam dedup and a line that is not UTF-8.
def test_dedup_dead_letters_a_line_that_is_not_utf8(tmp_path):
    source = tmp_path / "docs.jsonl"
    good = json.dumps({"id": "a", "text": " ".join(PARAGRAPHS)}).encode()
    source.write_bytes(good + b"\n" + b'{"id": "b", "text": "caf\xe9 \xff"}\n')
    output = tmp_path / "verdicts.jsonl"
    assert main(["dedup", "--input", str(source), "--output", str(output)]) == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["a"]
    dead = [json.loads(line) for line in (tmp_path / "verdicts.jsonl.dead_letters.jsonl").read_text().splitlines()]
    assert [d["reason"] for d in dead] == ["not_utf8"]


# 10. Ctrl-C during a batch run.
def test_ctrl_c_prints_one_line_exits_130_and_leaves_the_output_as_it_was(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "records-00000-of-00001.jsonl").write_text('{"id": "earlier run"}\n')
    (output / "notes.txt").write_text("not newsbeam's")
    before = sorted((p.name, p.read_bytes()) for p in output.iterdir())
    items = "".join(f"<item><title>Slow {n}</title><link>http://127.0.0.1:PORT/slow{n}</link><description>{PARAGRAPHS[0]}</description>"
                    "</item>" for n in range(4))
    with FaultServer() as server:
        feed = rss(items.replace("PORT", str(server.port)))
        server.route("/rss.xml", fixed(200, feed.encode(), "application/rss+xml"))
        for n in range(4):
            server.route(f"/slow{n}", slow_drip(seconds=60, interval=1.0))
        command = [sys.executable, "-m", "pipeline", "run", "--feeds", server.url("/rss.xml"), "--output",
                   str(output), "--allow_private_networks", "--no_entities", "--total_timeout", "120"]
        process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(server.hits[f"/slow{n}"] for n in range(4)):
            time.sleep(0.2)
        assert any(server.hits[f"/slow{n}"] for n in range(4)), "the run never reached the pages"
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()[-2000:]
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) <= 2 and "interrupted" in lines[-1], lines[-20:]
    assert sorted((p.name, p.read_bytes()) for p in output.iterdir()) == before


# 5. The reprint index carried by scheduled runs is cut by event time, not by the day the run happens.
def test_the_carried_reprint_index_does_not_depend_on_the_day_it_is_built():
    from datetime import UTC, datetime

    from pipeline.scheduled import next_reprint_index

    def row(record_id: str, published: str, body: str) -> dict:
        return {"id": record_id, "url": f"http://{HOST}/{record_id}", "canonical_url": f"http://{HOST}/{record_id}",
                "feed_url": f"http://{HOST}/rss.xml", "source_domain": HOST, "title": record_id, "author": None,
                "published": published, "published_from": "published", "language": "en", "site_name": None,
                "description": None, "summary": None, "categories": [], "body": body, "body_source": "page",
                "body_note": None, "fetched_at": published, "duplicate_of": None, "dedup": {"kind": "canonical"}}

    rows = [row("old", "2024-05-01T06:00:00Z", "\n\n".join(PARAGRAPHS)),
            row("older", "2024-04-01T06:00:00Z", "\n\n".join(f"Other story, {p}" for p in PARAGRAPHS)),
            row("recent", "2024-05-02T06:00:00Z", "\n\n".join(f"Third story, {p}" for p in PARAGRAPHS))]
    built = [next_reprint_index(None, rows, 7, now=datetime(*day, tzinfo=UTC)) for day in
             ((2024, 5, 2), (2026, 12, 1))]
    kept = [sorted(index.articles) for index in built]
    assert kept[0] == kept[1] == ["old", "recent"]  # "older" is a month before the newest: past the horizon


def test_a_record_whose_entities_fail_stays_a_record():
    """Item 1, after dedup: a canonical record is never turned into a dead letter by a failed enrichment
    (its duplicates point at it); it keeps its place without entities."""
    from apache_beam.ml.inference.base import PredictionResult

    from tests.builders import entry
    from transforms.entities import InferenceFailure, _with_entities
    from transforms.lib.records import CANONICAL, record_from_entry

    record = record_from_entry(entry(content=" ".join(PARAGRAPHS)), None, CANONICAL)
    outputs = list(_with_entities((record, PredictionResult(record.body, InferenceFailure("ValueError: boom")))))
    assert [(out.tag, out.value) for out in outputs] == [("main", record._replace(entities=[]))]


def test_which_entry_of_a_same_url_group_becomes_the_record_does_not_depend_on_fetch_times():
    """Undated entries carry their feed's fetch time, which differs between feeds and runs: the record is
    the same entry whichever feed was fetched first."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from tests.builders import entry
    from tests.conftest import beam_test_pipeline
    from transforms.dedup import ExactEntryDedup

    def entries(first_fetch: str, second_fetch: str):
        one = entry(published_from="fetched")._replace(entry_key="k-one", feed_url="http://w.example/one.xml",
                                                       published=first_fetch, fetched_at=first_fetch)
        two = entry(published_from="fetched")._replace(entry_key="k-two", feed_url="http://w.example/two.xml",
                                                       published=second_fetch, fetched_at=second_fetch)
        return [one, two]

    for fetches in (("2026-11-24T00:00:01Z", "2026-11-24T00:00:02Z"), ("2026-11-25T00:00:02Z",
                                                                       "2026-11-25T00:00:01Z")):
        with beam_test_pipeline() as p:
            out = p | beam.Create(entries(*fetches)) | ExactEntryDedup()
            assert_that(out["unique"] | beam.Map(lambda e: e.entry_key), equal_to(["k-one"]), label="Unique")
            assert_that(out["duplicates"] | beam.Map(lambda e: e.entry_key), equal_to(["k-two"]), label="Dups")


def test_over_loopback_titles_media_items_origlink_and_utf16_feeds_become_the_right_records(tmp_path):
    """Items 2 and 4 through the whole pipeline: the feed is served as UTF-16 without a BOM."""
    items = (f"<item><title>vector&lt;int&gt; in C++</title><link>http://{HOST}/cpp.html</link></item>"
             "<item><title>Episode 1</title><description>" + " ".join(PARAGRAPHS) + "</description>"
             f"<enclosure url='http://{HOST}/ep1.mp3' type='audio/mpeg' length='1'/></item>"
             "<item><title>Proxied</title><link>http://feeds.feedburner.example/~r/x/~3/abc/</link>"
             f"<feedburner:origLink>http://{HOST}/original.html</feedburner:origLink></item>")
    write_site(tmp_path / "site", HOST, {
        "/cpp.html": page("vector<int> in C++", [f"C++ story, {p}" for p in PARAGRAPHS], "Faults", []),
        "/original.html": page("Proxied", [f"Original story, {p}" for p in PARAGRAPHS], "Faults", []),
        "/ep1.mp3": "ID3 not a page",
    })
    (tmp_path / "site" / HOST / "rss.xml").write_bytes(rss(items, declaration="").encode("utf-16-le"))
    out = run_site(tmp_path, {}, "--no_dedup")  # the three bodies share the test's paragraphs
    by_url = {r["url"]: r for r in out["records"]}
    assert sorted(by_url) == [f"http://{HOST}/cpp.html", f"http://{HOST}/ep1.mp3", f"http://{HOST}/original.html"]
    assert by_url[f"http://{HOST}/cpp.html"]["title"] == "vector<int> in C++"
    assert by_url[f"http://{HOST}/ep1.mp3"]["body_source"] == "feed"
    assert "Original story" in by_url[f"http://{HOST}/original.html"]["body"]
    assert out["summary"]["invariant"]["holds"]
