"""The reference reprint: the Tribune's page and another outlet's republished copy of it."""

from __future__ import annotations

from pipeline.cli import main
from pipeline.siteserver import SiteServer
from tests.pipeline_run import read_outputs
from tests.seedpages import REPRINT_HOST, TRIBUNE_HOST, page, rss, seed_paragraphs, write_site
from transforms.lib.urls import record_id


def test_republished_copy_of_the_tribune_page_is_its_duplicate(shared_dir, tmp_path):
    paragraphs, trailer = seed_paragraphs(shared_dir)
    tribune_title = "US approves anti-personnel mines for Ukraine"
    write_site(tmp_path / "site", TRIBUNE_HOST, {
        "/news/mines.html": page(tribune_title, paragraphs, "Tribune Online", trailer),
        "/rss.xml": rss(TRIBUNE_HOST, [(tribune_title, "/news/mines.html", "Wed, 20 Nov 2024 09:00:00 GMT")]),
    })
    # Another outlet republishes it: own boilerplate, a new headline, a reworded first line.
    copy = list(paragraphs)
    copy[0] = "Washington has cleared the delivery of anti-personnel land mines to Kyiv, officials said on Tuesday."
    write_site(tmp_path / "site", REPRINT_HOST, {
        "/world/2024/11/20/biden-mines.html": page("Biden clears mines for Kyiv", copy, "Daily Reprint",
                                                   ["Markets today", "Weather"]),
        "/rss.xml": rss(REPRINT_HOST, [("Biden clears mines for Kyiv", "/world/2024/11/20/biden-mines.html",
                                        "Wed, 20 Nov 2024 13:30:00 GMT")]),
    })
    output = tmp_path / "out"
    with SiteServer(tmp_path / "site") as server:
        code = main(["run", "--feeds", f"http://{TRIBUNE_HOST}/rss.xml", "--feeds", f"http://{REPRINT_HOST}/rss.xml",
                     "--output", str(output), "--allow_private_networks", "--per_host_delay", "0",
                     *server.connect_to_args()])
    assert code == 0
    out = read_outputs(output)
    tribune_id = record_id(f"http://{TRIBUNE_HOST}/news/mines.html")
    assert [r["id"] for r in out["records"]] == [tribune_id]
    [duplicate] = out["duplicates"]
    assert duplicate["duplicate_of"] == tribune_id
    assert duplicate["dedup"]["kind"] in ("near_verbatim", "edited")
    assert duplicate["dedup"]["attributed_source"] == "BBC"
    assert out["records"][0]["dedup"]["attributed_source"] == "BBC"
    assert out["records"][0]["entities"]
