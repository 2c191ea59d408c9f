"""Scheduled runs with --state: conditional feed requests, entries handled once, a clear error on bad state,
adaptive polling, Retry-After across runs, robots.txt kept in the state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from pipeline.cli import main
from pipeline.scheduled import RunState, next_state
from pipeline.siteserver import SiteServer
from tests.conftest import PROJECT, SAMPLE
from tests.faultserver import fixed
from tests.pipeline_run import read_outputs, read_table
from transforms.lib.polling import PollSettings
from transforms.lib.times import parse_iso

SAMPLE_HOSTS = ("www.coastaltimes.example", "www.dailyherald.example", "www.globalwire.example",
                "www.metrogazette.example", "www.riverbendpost.example")


def run(server: SiteServer, output, state, *extra: str) -> int:
    return main(["run", "--feeds", str(SAMPLE / "feeds.opml"), "--output", str(output), "--state", str(state),
                 "--allow_private_networks", "--per_host_delay", "0", *server.connect_to_args(), *extra])


def current(state, name: str) -> dict:
    generation = (state / "CURRENT").read_text().strip()
    return json.loads((state / "generations" / generation / name).read_text())


def test_second_run_sends_only_conditional_feed_requests_and_writes_nothing(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SAMPLE / "site", site)
    state = tmp_path / "state"
    with SiteServer(site) as server:
        assert run(server, tmp_path / "run1", state) == 0
        first = read_outputs(tmp_path / "run1")
        assert len(first["records"]) == 30 and len(first["duplicates"]) == 5
        assert all(server.requests[f"{host}/robots.txt"] == 1 for host in SAMPLE_HOSTS)  # once per host
        server.requests.clear()
        server.conditional.clear()

        # --poll_all: every feed is asked, although none is due yet (see the next test).
        assert run(server, tmp_path / "run2", state, "--poll_all") == 0
        second = read_outputs(tmp_path / "run2")
        feed_requests = {path for path in server.requests if path.endswith((".xml", ".rdf"))}
        assert set(server.requests) == feed_requests  # no page fetched
        assert set(server.conditional) == feed_requests and len(feed_requests) == 6
        assert second["records"] == [] and second["duplicates"] == []
        assert second["summary"]["feeds"]["not_modified"] == 6

        # A feed changes: one new item; the old items it still lists are seen before, not fetched again.
        feed = site / "www.metrogazette.example" / "feed.xml"
        text = feed.read_text()
        item = ("<item><title>Harbour fair opens</title><link>http://www.metrogazette.example/news/fair.html</link>"
                "<guid>http://www.metrogazette.example/news/fair.html</guid><pubDate>Sun, 22 Nov 2026 18:00:00 GMT"
                "</pubDate><description>" + "The harbour fair in Carrow opened on Sunday with 40 stalls. " * 6
                + "</description></item>")
        feed.write_text(text.replace("<item>", item + "<item>", 1))
        server.requests.clear()
        assert run(server, tmp_path / "run3", state, "--poll_all") == 0
        third = read_outputs(tmp_path / "run3")
    assert [r["url"] for r in third["records"]] == ["http://www.metrogazette.example/news/fair.html"]
    invariant = third["summary"]["invariant"]
    assert invariant["holds"] and invariant["seen_before"] == invariant["entries"] - 1
    pages = [p for p in server.requests if not p.endswith((".xml", ".rdf"))]
    assert pages == ["www.metrogazette.example/news/fair.html"]  # robots.txt came from the state
    assert third["summary"]["robots"]["from_state"] == 1 and third["summary"]["robots"]["fetched"] == 0
    assert set(current(state, "robots.json")["robots"]) == {f"http://{host}" for host in SAMPLE_HOSTS}


def test_a_corrupt_state_is_a_clear_error_not_a_fresh_start(tmp_path, capsys):
    state = tmp_path / "state"
    with SiteServer(SAMPLE / "site") as server:
        assert run(server, tmp_path / "run1", state) == 0
        (state / "CURRENT").write_text("g000042")
        assert run(server, tmp_path / "run2", state) == 2
    assert "not a complete generation" in capsys.readouterr().err


def test_a_run_within_the_minimum_interval_polls_nothing(tmp_path, capsys):
    state = tmp_path / "state"
    with SiteServer(SAMPLE / "site") as server:
        assert run(server, tmp_path / "run1", state) == 0
        feeds = current(state, "feeds.json")["feeds"]
        assert len(feeds) == 6 and {f["poll_interval_seconds"] for f in feeds.values()} == {900}
        server.requests.clear()
        assert run(server, tmp_path / "run2", state) == 0
    assert not server.requests  # not a feed, not a robots.txt, not a page
    summary = read_outputs(tmp_path / "run2")["summary"]
    assert summary["feeds"]["not_due"] == 6 and summary["feeds"]["failed"] == 0
    assert set(summary["feeds_not_due"]) == set(feeds)
    assert {v["why"] for v in summary["feeds_not_due"].values()} == {"interval"}
    assert summary["invariant"]["holds"] and summary["entries"] == 0
    assert "no feed is due yet" in capsys.readouterr().out
    assert current(state, "feeds.json")["feeds"] == feeds  # feeds not polled keep their schedule


def test_failures_back_off_and_retry_after_is_kept_across_runs(fault_server, tmp_path):
    item = ("<item><title>Quay repairs</title><link>{url}</link><guid>{url}</guid><description>"
            + "The quay in Carrow will be repaired over the winter, the harbour board said. " * 5
            + "</description></item>").format(url=fault_server.url("/news/quay"))
    ok = fault_server.route("/ok.xml", fixed(200, f"<rss version='2.0'><channel><title>T</title>{item}</channel>"
                                                  f"</rss>".encode(), "application/rss+xml"))
    down = fault_server.route("/down.xml", fixed(500, b"broken"))
    busy = fault_server.route("/busy.xml", fixed(429, b"slow down", headers={"Retry-After": "7200"}))
    state = tmp_path / "state"

    def scheduled_run(output, *extra: str) -> dict:
        main(["run", "--feeds", ok, "--feeds", down, "--feeds", busy, "--output", str(output), "--state",
              str(state), "--allow_private_networks", "--per_host_delay", "0", "--max_retries", "1",
              "--backoff_seconds", "0.01", "--no_dedup", "--no_entities", *extra])
        return current(state, "feeds.json")["feeds"]

    def due_in(feed: dict, field: str = "next_due") -> float:
        return (parse_iso(feed[field]) - datetime.now(UTC)).total_seconds()

    feeds = scheduled_run(tmp_path / "run1")
    assert feeds[ok]["failures"] == 0 and 800 < due_in(feeds[ok]) <= 900
    assert feeds[down]["failures"] == 1 and feeds[down]["last_status"] == "http_500_after_retries"
    assert 800 < due_in(feeds[down]) <= 900  # the first failure waits the minimum interval
    assert feeds[busy]["last_status"] == "retry_after_too_long"
    assert 7100 < due_in(feeds[busy], "not_before") <= 7200 and feeds[busy]["next_due"] == feeds[busy]["not_before"]
    hits = dict(fault_server.hits)

    feeds = scheduled_run(tmp_path / "run2", "--poll_all")
    assert fault_server.hits["/ok.xml"] == hits["/ok.xml"] + 1
    assert fault_server.hits["/down.xml"] == hits["/down.xml"] + 2  # polled again (a try and a retry)
    assert fault_server.hits["/busy.xml"] == 1  # the server asked for two hours: not even --poll_all asks
    assert feeds[down]["failures"] == 2 and 1700 < due_in(feeds[down]) <= 1800  # backoff doubles
    assert 1700 < due_in(feeds[ok]) <= 1800  # nothing new (its entry was seen): the interval doubles
    summary = read_outputs(tmp_path / "run2")["summary"]
    assert summary["feeds_not_due"] == {busy: {"due": feeds[busy]["not_before"], "why": "retry_after"}}
    assert summary["invariant"]["holds"]


def test_next_state_reads_new_entries_failures_and_robots_from_the_run_tables(tmp_path):
    now = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    tables = {
        "feed_status": [
            {"feed_url": "http://a/news.xml", "status": 200, "etag": '"e"', "last_modified": None, "entries": 2,
             "fetched_at": stamp, "not_before": None},
            {"feed_url": "http://b/quiet.xml", "status": 304, "etag": None, "last_modified": None, "entries": 0,
             "fetched_at": stamp, "not_before": None},
            {"feed_url": "http://c/busy.xml", "status": 503, "etag": None, "last_modified": None, "entries": 0,
             "fetched_at": stamp, "not_before": later}],
        "records": [{"canonical_url": "http://a/1", "url": "http://a/1", "guid": None, "feed_url": "http://a/news.xml",
                     "source_domain": "a", "published": stamp, "published_from": "published", "fetched_at": stamp}],
        "duplicates": [],
        "seen_before": [{"canonical_url": "http://a/2", "url": "http://a/2", "guid": None,
                         "feed_url": "http://a/news.xml", "source_domain": "a", "published": stamp,
                         "published_from": "published", "fetched_at": stamp}],
        "dead_letters": [{"unit": "feed", "stage": "fetch_feed", "url": "http://c/busy.xml",
                          "reason": "retry_after_too_long"}],
        "robots": [
            {"origin": "http://a", "agent": "newsbeam", "outcome": "parsed", "status": 200, "rules": ["disallow /x"],
             "crawl_delay": 2.0, "error": None, "fetched_at": stamp, "expires": "2026-11-25T06:00:00Z",
             "source": "fetched"},
            {"origin": "http://c", "agent": "newsbeam", "outcome": "unreachable", "status": 503, "rules": [],
             "crawl_delay": None, "error": "http_503", "fetched_at": stamp, "expires": stamp, "source": "fetched"}],
    }
    for name, rows in tables.items():
        (tmp_path / f"{name}-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    previous = RunState(
        feeds={"http://b/quiet.xml": {"poll_interval_seconds": 1800}, "http://d/untouched.xml": {"next_due": later}},
        robots={"http://old": {"agent": "newsbeam", "outcome": "unavailable", "expires": stamp}})
    state = next_state(previous, str(tmp_path), 7, now=now, polling=PollSettings(900, 86400))
    assert state.feeds["http://a/news.xml"]["poll_interval_seconds"] == 900  # one new record
    assert state.feeds["http://a/news.xml"]["last_new_entries"] == 1  # the seen_before entry is not news
    assert state.feeds["http://b/quiet.xml"]["poll_interval_seconds"] == 3600
    assert state.feeds["http://c/busy.xml"]["next_due"] == later and state.feeds["http://c/busy.xml"]["failures"] == 1
    assert state.feeds["http://d/untouched.xml"] == {"next_due": later}
    assert set(state.robots) == {"http://a"}  # unreachable is not kept; the old entry expired
    cache = state.robots_cache("newsbeam", now)
    assert cache["http://a"].rules == ["disallow /x"] and cache["http://a"].source == "state"
    assert state.robots_cache("newsbeam", now + timedelta(days=1)) == {} and state.robots_cache("other", now) == {}


def test_a_copy_found_in_a_later_run_is_a_duplicate_of_the_record_already_published(tmp_path):
    """The reprint index is carried in the state: today's copies point at yesterday's record ids."""
    site = tmp_path / "site"
    shutil.copytree(SAMPLE / "site", site)
    state = tmp_path / "state"
    comet = "http://www.dailyherald.example/science/2026/11/22/hollin-ridge-observatory-new-comet.html"
    wire = "http://www.globalwire.example/stories/2026-11-17/dockworkers-strike-halvergate.html"
    copies = {  # new page on another site -> the run-1 page it copies
        "news/world/comet-copy.html": site / "www.dailyherald.example" / comet.split("example/")[1],
        # a copy of a copy: run 1 made the Riverbend page a duplicate of the wire story
        "news/business/strike-copy.html":
            site / "www.riverbendpost.example/2026/11/17/dockworkers-strike-at-port-of-halvergate/index.html",
    }
    horizon = ("--dedup_horizon", "3650")  # the sample's dates are fixed; today's are not
    with SiteServer(site) as server:
        assert run(server, tmp_path / "run1", state, *horizon) == 0
        first = read_outputs(tmp_path / "run1")
        ids = {r["canonical_url"]: r["id"] for r in first["records"]}
        assert current(state, "feeds.json") and (state / "generations").is_dir()
        feed = site / "www.metrogazette.example" / "feed.xml"
        items = ""
        for path, source in copies.items():
            target = site / "www.metrogazette.example" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text())
            link = f"http://www.metrogazette.example/{path}"
            items += (f"<item><title>Copied: {path}</title><link>{link}</link><guid>{link}</guid>"
                      "<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate></item>")
        feed.write_text(feed.read_text().replace("<item>", items + "<item>", 1))
        assert run(server, tmp_path / "run2", state, "--poll_all", *horizon) == 0
        second = read_outputs(tmp_path / "run2")
    assert second["records"] == []
    verdicts = {row["url"].rsplit("/", 1)[-1]: (row["duplicate_of"], row["dedup"]["kind"])
                for row in second["duplicates"]}
    assert verdicts["comet-copy.html"][0] == ids[comet]
    assert verdicts["strike-copy.html"][0] == ids[wire]
    assert all(kind in ("same_text", "near_verbatim", "edited") for _id, kind in verdicts.values())
    # Stories continue through the state: each copy is in its run-1 original's story.
    first_stories = {r["id"]: r["story_id"] for r in first["records"]}
    assert all(row["story_id"] == first_stories[row["duplicate_of"]] for row in second["duplicates"])
    assert second["summary"]["stories"]["continued"] == 2
    # Run 1's 33 articles with bodies (the 404 page's body came from its feed) and run 2's two copies.
    assert second["summary"]["state"]["reprint_articles"] == first["summary"]["state"]["reprint_articles"] + 2


def test_a_killed_run_leaves_the_state_as_it_was_and_the_next_run_proceeds(tmp_path):
    state = tmp_path / "state"
    with SiteServer(SAMPLE / "site") as server:
        assert run(server, tmp_path / "run1", state) == 0
        before = (state / "CURRENT").read_text()
        command = [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(SAMPLE / "feeds.opml"),
                   "--output", str(tmp_path / "killed"), "--state", str(state), "--poll_all",
                   "--allow_private_networks", "--per_host_delay", "0", *server.connect_to_args()]
        process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not (state / "LOCK").exists():  # the run holds the state: kill it mid-run
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before taking the lock"
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=30)
        assert (state / "CURRENT").read_text() == before
        assert (state / "LOCK").exists()  # left behind by the killed run
        assert run(server, tmp_path / "run3", state, "--poll_all") == 0  # its process is gone: the lock is stale
        third = read_outputs(tmp_path / "run3")
    assert (state / "CURRENT").read_text() != before and not (state / "LOCK").exists()
    # The state run 1 left was used as it was: its validators made every feed a 304, and the killed run never
    # committed a generation.
    assert third["records"] == [] and third["summary"]["feeds"]["not_modified"] == 6
    assert (state / "CURRENT").read_text().strip() == "g000002"


def test_two_scheduled_runs_into_one_output_keep_both_runs_records(tmp_path):
    """Each run writes its own run=... folder; ``latest`` names the newest; earlier runs are never touched."""
    site = tmp_path / "site"
    shutil.copytree(SAMPLE / "site", site)
    output, state = tmp_path / "out", tmp_path / "out" / "state"
    with SiteServer(site) as server:
        assert run(server, output, state) == 0
        [first_run] = [p for p in output.iterdir() if p.name.startswith("run=")]
        first_files = {p.name: p.read_bytes() for p in first_run.iterdir()}
        feed = site / "www.metrogazette.example" / "feed.xml"
        item = ("<item><title>Harbour fair opens</title><link>http://www.metrogazette.example/news/fair.html</link>"
                "<description>" + "The harbour fair in Carrow opened on Sunday with 40 stalls. " * 6
                + "</description></item>")
        feed.write_text(feed.read_text().replace("<item>", item + "<item>", 1))
        assert run(server, output, state, "--poll_all") == 0
    run_folders = sorted(p.name for p in output.iterdir() if p.name.startswith("run="))
    assert len(run_folders) == 2 and run_folders[0] == first_run.name
    assert (output / "latest").read_text().strip() == run_folders[1]
    assert {p.name: p.read_bytes() for p in first_run.iterdir()} == first_files  # untouched
    assert len(read_table(first_run, "records")) == 30
    assert [r["url"] for r in read_outputs(output)["records"]] == ["http://www.metrogazette.example/news/fair.html"]
    assert sorted(p.name for p in output.iterdir() if not p.name.startswith("run=")) == ["latest", "state"]


def test_the_demo_twice_keeps_both_runs_says_nothing_was_due_and_takes_run_options(tmp_path, capsys):
    output = tmp_path / "out"
    assert main(["demo", "--output", str(output), "--no_entities"]) == 0
    first = read_outputs(output)
    assert len(first["records"]) == 30
    capsys.readouterr()
    assert main(["demo", "--output", str(output), "--no_entities"]) == 0
    said = capsys.readouterr().out
    assert "no feed is due yet" in said and "--poll_all" in said
    second = read_outputs(output)
    assert second["records"] == [] and second["summary"]["invariant"]["holds"]
    # The flag the hint names works with demo, as does --keep_runs: three runs, the oldest pruned.
    assert main(["demo", "--output", str(output), "--no_entities", "--poll_all", "--keep_runs", "2"]) == 0
    assert "nothing new since the last run" in capsys.readouterr().out
    folders = sorted(p.name for p in output.iterdir() if p.name.startswith("run="))
    assert len(folders) == 2 and (output / "latest").read_text().strip() == folders[-1]
    assert read_outputs(output)["summary"]["feeds"]["not_modified"] == 6


FOLLOW_UP = """<html><head><title>Dunmore mill fire: inspectors let Quarry Lane families home</title>
<meta property="article:published_time" content="2026-11-21T08:00:00Z"></head><body><article>
<h1>Dunmore mill fire: inspectors let Quarry Lane families home</h1>
<p>The 140 residents of Quarry Lane who left their homes when fire tore through the Dunmore Paper Mill
warehouse were allowed back on Saturday morning, after county inspectors found the air safe to breathe.</p>
<p>Fire chief Teresa Okafor said the blaze at the Dunmore mill had been started by an electrical fault in a
storage bay, and that crews from the Riverbend and Esk Valley stations had kept it from the main building.</p>
<p>Families who spent the night in the Riverbend High School gym said they were relieved. The mill's owner said
the warehouse would be rebuilt and that no jobs would be lost while the Dunmore site is repaired.</p>
</article></body></html>"""


def test_a_report_in_a_later_run_joins_the_story_an_earlier_run_started(tmp_path):
    """Today's report of yesterday's event joins yesterday's story (the story index is in the state)."""
    site = tmp_path / "site"
    shutil.copytree(SAMPLE / "site", site)
    state = tmp_path / "state"
    fire = "http://www.coastaltimes.example/news/local/dunmore-paper-mill-fire-20261120.html"
    horizon = ("--dedup_horizon", "3650")
    with SiteServer(site) as server:
        assert run(server, tmp_path / "run1", state, *horizon) == 0
        first = read_outputs(tmp_path / "run1")
        path = "news/local/dunmore-follow-up.html"
        (site / "www.metrogazette.example" / path).parent.mkdir(parents=True, exist_ok=True)
        (site / "www.metrogazette.example" / path).write_text(FOLLOW_UP)
        link = f"http://www.metrogazette.example/{path}"
        feed = site / "www.metrogazette.example" / "feed.xml"
        item = (f"<item><title>Dunmore mill fire: inspectors let Quarry Lane families home</title><link>{link}"
                f"</link><guid>{link}</guid><pubDate>Sat, 21 Nov 2026 08:00:00 GMT</pubDate></item>")
        feed.write_text(feed.read_text().replace("<item>", item + "<item>", 1))
        assert run(server, tmp_path / "run2", state, "--poll_all", *horizon) == 0
        second = read_outputs(tmp_path / "run2")
    fire_story = {r["canonical_url"]: r for r in first["records"]}[fire]["story_id"]
    assert [(r["url"], r["story_id"]) for r in second["records"]] == [(link, fire_story)]
    story = next(s for s in second["stories"] if s["story_id"] == fire_story)
    assert story["records"] == 3 and "metrogazette.example" in story["outlets"]  # run 1's pair and this one
