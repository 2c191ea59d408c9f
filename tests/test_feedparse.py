from __future__ import annotations

import pytest

from schemas.records import FetchResult
from transforms.lib.feedparse import FeedParseError, neutralise_dtd, parse_feed

FETCHED_AT = "2026-11-24T12:00:00Z"


def fetched(body: str | bytes, url: str = "http://feeds.example/rss.xml", content_type: str = "application/xml"):
    data = body.encode("utf-8") if isinstance(body, str) else body
    return FetchResult(url, url, 200, content_type, None, data, FETCHED_AT, None, None)


RSS20 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Herald</title><link>http://herald.example/</link><description>d</description>
<item><title>&lt;script&gt;alert(1)&lt;/script&gt;Mayor &lt;b&gt;wins&lt;/b&gt; vote</title>
<link>http://Herald.example/a.html?utm_source=rss#comments</link>
<guid isPermaLink="false">herald-1</guid><pubDate>Tue, 18 Nov 2026 10:30:00 +0200</pubDate>
<description>&lt;p&gt;The &lt;i&gt;mayor&lt;/i&gt; won.&lt;/p&gt;</description>
<content:encoded><![CDATA[<p>Full text.</p><p>Second paragraph.</p><script>evil()</script>]]></content:encoded>
<author>desk@herald.example (Ann Lee)</author><category>Politics</category><category>Local</category></item>
<item><title>No date</title><link>/relative/b.html</link></item>
<item><title>Script link</title><link>javascript:alert(1)</link></item>
<item><title>No link at all</title><description>text only</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom site</title><id>urn:x</id><updated>2026-11-19T00:00:00Z</updated>
<entry><title type="html">Talks &amp;amp; dams</title><id>tag:atom.example,2026:1</id>
<link rel="alternate" href="http://atom.example/1.html"/><updated>2026-11-19T09:00:00Z</updated>
<author><name>Bo Ek</name></author><content type="html">&lt;p&gt;Atom body&lt;/p&gt;</content></entry>
</feed>"""

RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://rdf.example/"><title>RDF</title><link>http://rdf.example/</link><description>d</description>
<items><rdf:Seq><rdf:li rdf:resource="http://rdf.example/x.html"/></rdf:Seq></items></channel>
<item rdf:about="http://rdf.example/x.html"><title>RDF item</title><link>http://rdf.example/x.html</link>
<dc:date>2026-11-20T06:00:00+01:00</dc:date><dc:creator>Cy Dee</dc:creator></item>
</rdf:RDF>"""


def test_rss20_entries_are_normalised():
    feed = parse_feed(fetched(RSS20))
    assert feed.version == "rss20"
    first = feed.entries[0]
    assert first.title == "Mayor wins vote"  # plain text: no markup, no script
    assert first.canonical_url == "http://herald.example/a.html"
    assert first.published == "2026-11-18T08:30:00Z" and first.published_from == "published"
    assert first.summary == "The mayor won."
    assert first.content == "Full text.\n\nSecond paragraph."
    assert first.author == "Ann Lee"
    assert first.categories == ["Local", "Politics"]
    assert first.guid == "herald-1" and first.source_domain == "herald.example"
    assert first.feed_url == "http://feeds.example/rss.xml" and first.fetched_at == FETCHED_AT


def test_relative_links_resolve_and_missing_dates_fall_back_to_fetch_time():
    second = parse_feed(fetched(RSS20)).entries[1]
    assert second.url == "http://feeds.example/relative/b.html"
    assert second.published == FETCHED_AT and second.published_from == "fetched"


def test_entries_without_a_usable_link_are_reported_not_dropped():
    feed = parse_feed(fetched(RSS20))
    assert len(feed.entries) == 2
    assert sorted(bad.reason for bad in feed.bad_entries) == ["no_link", "no_link"]


def test_atom_uses_updated_when_there_is_no_published():
    entry = parse_feed(fetched(ATOM)).entries[0]
    assert (entry.title, entry.author, entry.content) == ("Talks & dams", "Bo Ek", "Atom body")
    assert entry.published == "2026-11-19T09:00:00Z" and entry.published_from == "updated"
    assert entry.guid == "tag:atom.example,2026:1"


def test_rss10_rdf():
    feed = parse_feed(fetched(RDF))
    assert feed.version == "rss10"
    entry = feed.entries[0]
    assert (entry.title, entry.author, entry.published) == ("RDF item", "Cy Dee", "2026-11-20T05:00:00Z")


def test_rss091_is_read():
    body = """<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
    "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel><title>Old</title>
    <link>http://old.example/</link><description>d</description><language>en</language>
    <item><title>Old item</title><link>http://old.example/1</link></item></channel></rss>"""
    feed = parse_feed(fetched(body))
    assert feed.version.startswith("rss091") and feed.entries[0].url == "http://old.example/1"


def test_the_same_item_twice_in_one_feed_gets_two_entry_keys():
    item = "<item><title>T</title><link>http://d.example/1</link><guid>g1</guid></item>"
    body = f"<rss version='2.0'><channel><title>x</title>{item}{item}</channel></rss>"
    entries = parse_feed(fetched(body)).entries
    assert len(entries) == 2 and entries[0].entry_key != entries[1].entry_key
    assert entries[0].id == entries[1].id


def test_not_a_feed_raises():
    with pytest.raises(FeedParseError):
        parse_feed(fetched(b"\x00\x01 binary junk", content_type="application/octet-stream"))


def test_entity_expansion_is_neutralised():
    bomb = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 10_000 + '">]>'
            "<rss version='2.0'><channel><title>&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;</title>"
            "<item><title>&a;&a;&a;&a;&a;&a;</title><link>http://e.example/1</link></item></channel></rss>")
    assert b"<!ENTITY" not in neutralise_dtd(bomb.encode())
    feed = parse_feed(fetched(bomb))
    assert all(len(e.title or "") <= 1000 for e in feed.entries)  # expanded, then capped


def test_simple_internal_entities_are_expanded():
    body = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY id "tag:example.com,"><!ENTITY ext SYSTEM '
            '"file:///etc/passwd">]><rss version="2.0"><channel><title>t</title><item><title>&ext;x</title>'
            '<link>http://e.example/1</link><guid isPermaLink="false">&id;2006:/blog/</guid></item></channel></rss>')
    entry = parse_feed(fetched(body)).entries[0]
    assert entry.guid == "tag:example.com,2006:/blog/"
    assert "root:" not in (entry.title or "")


def test_an_entity_bomb_is_refused_with_a_reason():
    bomb = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 10_000 + '">]>'
            "<rss version='2.0'><channel><title>" + "&a;" * 1_000 + "</title></channel></rss>")
    with pytest.raises(FeedParseError) as error:
        parse_feed(fetched(bomb))
    assert error.value.reason == "entity_expansion"
