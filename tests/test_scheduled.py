"""Scheduled runs with --state: conditional feed requests, entries handled once, a clear error on bad state."""

from __future__ import annotations

import shutil

from pipeline.cli import main
from pipeline.siteserver import SiteServer
from tests.conftest import SAMPLE
from tests.pipeline_run import read_outputs


def run(server: SiteServer, output, state) -> int:
    return main(["run", "--feeds", str(SAMPLE / "feeds.opml"), "--output", str(output), "--state", str(state),
                 "--allow_private_networks", "--per_host_delay", "0", *server.connect_to_args()])


def test_second_run_sends_only_conditional_feed_requests_and_writes_nothing(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SAMPLE / "site", site)
    state = tmp_path / "state"
    with SiteServer(site) as server:
        assert run(server, tmp_path / "run1", state) == 0
        first = read_outputs(tmp_path / "run1")
        assert len(first["records"]) == 30 and len(first["duplicates"]) == 5
        server.requests.clear()
        server.conditional.clear()

        assert run(server, tmp_path / "run2", state) == 0
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
        assert run(server, tmp_path / "run3", state) == 0
        third = read_outputs(tmp_path / "run3")
    assert [r["url"] for r in third["records"]] == ["http://www.metrogazette.example/news/fair.html"]
    invariant = third["summary"]["invariant"]
    assert invariant["holds"] and invariant["seen_before"] == invariant["entries"] - 1
    pages = [p for p in server.requests if not p.endswith((".xml", ".rdf"))]
    assert pages == ["www.metrogazette.example/news/fair.html"]


def test_a_corrupt_state_is_a_clear_error_not_a_fresh_start(tmp_path, capsys):
    state = tmp_path / "state"
    with SiteServer(SAMPLE / "site") as server:
        assert run(server, tmp_path / "run1", state) == 0
        (state / "CURRENT").write_text("g000042")
        assert run(server, tmp_path / "run2", state) == 2
    assert "not a complete generation" in capsys.readouterr().err
