from __future__ import annotations

import pytest

from transforms.lib.feedlist import read_feed_list


def test_urls_text_files_and_opml_combine(tmp_path):
    text = tmp_path / "feeds.txt"
    text.write_text("# my feeds\nhttp://a.example/rss\n\nhttps://b.example/atom  # trailing comment\nnot-a-url\n")
    opml = tmp_path / "feeds.opml"
    opml.write_text("""<?xml version="1.0"?><opml version="2.0"><body>
      <outline text="News"><outline text="C" type="rss" xmlUrl="http://c.example/feed"/>
      <outline text="dup" xmlUrl="http://a.example/rss"/></outline>
      <outline text="bad" xmlUrl="ftp://d.example/feed"/><outline text="folder only"/></body></opml>""")
    result = read_feed_list(["http://z.example/rss", str(text), str(opml)])
    assert result.urls == ["http://z.example/rss", "http://a.example/rss", "https://b.example/atom",
                           "http://c.example/feed"]
    assert [(p.value, p.reason) for p in result.problems] == [("not-a-url", "not_http_url"),
                                                              ("ftp://d.example/feed", "not_http_url")]
    assert result.problems[0].line == 5


def test_opml_entities_are_not_expanded(tmp_path):
    opml = tmp_path / "evil.opml"
    opml.write_text('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    '<opml><body><outline xmlUrl="http://a.example/&x;"/></body></opml>')
    result = read_feed_list([str(opml)])
    assert all("root:" not in url for url in result.urls)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither an http"):
        read_feed_list([str(tmp_path / "nope.txt")])
