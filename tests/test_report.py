"""report.html: what it says about a run, that it loads nothing, and that a real browser renders it cleanly."""

from __future__ import annotations

import os
import re

import pytest
from lxml import html as lxml_html

from pipeline.cli import main
from tests.browser import find_chromium, render
from tests.pipeline_run import read_outputs, run_dir


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("report")
    assert main(["demo", "--output", str(output), "--no_entities"]) == 0
    return run_dir(output), read_outputs(output)


def test_the_report_accounts_for_every_entry_per_source_and_per_cluster(demo_run):
    folder, outputs = demo_run
    page = lxml_html.fromstring((folder / "report.html").read_text(encoding="utf-8"))
    text = page.text_content()
    inv = outputs["summary"]["invariant"]
    assert (f"entries {inv['entries']} = records {inv['records']} + duplicates {inv['duplicates']} + seen before "
            f"{inv['seen_before']} + dead letters {inv['dead_letters']}") in " ".join(text.split())
    sources_table = page.xpath("//h2[@id='sources']/following::table[1]")[0]
    rows = {row.xpath("string(td[1])"): row for row in sources_table.xpath(".//tbody/tr")}
    by_source = {}
    for record in outputs["records"] + outputs["duplicates"]:
        by_source[record["source_domain"]] = by_source.get(record["source_domain"], 0) + 1
    assert set(rows) == set(by_source)
    for source, entries in by_source.items():  # no dead letters in the sample: entries = records + duplicates
        assert int(rows[source].xpath("string(td[2])")) == entries
    # Every duplicate of a record of this run appears under its cluster, with its evidence.
    reprints = page.xpath("//h2[@id='reprints']/following-sibling::*")
    listed = " ".join(node.text_content() for node in reprints)
    for duplicate in outputs["duplicates"]:
        assert duplicate["dedup"]["kind"] in listed
    assert "paraphrase" in listed and "credits=" in listed
    assert len(page.xpath("//svg")) >= 3  # accounting, sources, reprints (+ time when metrics exist)


def test_the_report_is_self_contained(demo_run):
    folder, _outputs = demo_run
    source = (folder / "report.html").read_text(encoding="utf-8")
    page = lxml_html.fromstring(source)
    assert page.xpath("//script | //link | //img | //iframe | //object | //embed") == []
    loaded = [value for value in page.xpath("//@src | //@srcset | //@data") if value]
    assert loaded == [] and not re.search(r"url\((?!#)|@import", source)  # url(#id): a chart's own clip path
    ids = page.xpath("//@id")
    assert len(ids) == len(set(ids))  # several charts on one page: no id clash between them
    # Links go to the articles, for a reader to follow; nothing else refers outside the page.
    outside = {href for href in page.xpath("//a/@href") if not href.startswith("#")}
    articles = {r["url"] for r in read_outputs(folder.parent)["records"] + read_outputs(folder.parent)["duplicates"]}
    assert outside <= articles


needs_chromium = pytest.mark.skipif(
    find_chromium() is None and not os.environ.get("NEWSBEAM_REQUIRE_CHROMIUM"),
    reason="no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")


@needs_chromium
def test_the_console_check_sees_a_broken_page(tmp_path):
    """The check below is only worth something if it would see an error: a page that throws is caught."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>")
    dom, console = render(broken)
    assert "<p>x</p>" in dom and any("undefinedFunction" in message for message in console)


@needs_chromium
def test_the_report_renders_in_headless_chromium_without_console_errors(demo_run, tmp_path):
    folder, _outputs = demo_run
    screenshot = tmp_path / "report.png"
    dom, console = render(folder / "report.html", screenshot=screenshot)
    assert console == []
    rendered = lxml_html.fromstring(dom)
    assert [h.text_content() for h in rendered.xpath("//h2")] == ["Accounting", "Sources", "Reprints", "Stories",
                                                                   "Time"]
    assert len(rendered.xpath("//svg")) >= 3
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a page of text and charts, not a blank


def test_the_report_shows_the_largest_stories_with_their_members(demo_run):
    folder, outputs = demo_run
    page = lxml_html.fromstring((folder / "report.html").read_text(encoding="utf-8"))
    headings = [h.text_content() for h in page.xpath("//h2[@id='stories']/following-sibling::h4")]
    several = [s for s in outputs["stories"] if s["records"] + s["copies"] > 1]
    assert several and len(headings) == min(len(several), 10)
    largest = max(several, key=lambda s: (s["records"], s["copies"]))
    assert headings[0].startswith(largest["label"]) and f"{largest['records']} reports" in headings[0]
