"""Work messages: the three shapes, and a reason for everything else."""

from __future__ import annotations

import json

import pytest

from schemas.records import FeedEntry
from transforms.lib.feedparse import normalise_entry
from transforms.lib.messages import PUSHED, BadMessage, parse_message

NOW = "2026-11-25T12:00:00Z"


def parse(body) -> str | FeedEntry:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_message(data, {}, NOW)


def test_feed_url_message_names_a_feed():
    assert parse({"feed_url": " https://news.example/rss.xml "}) == "https://news.example/rss.xml"


def test_pushed_url_is_an_entry_with_the_feeds_id():
    entry = parse({"url": "https://news.example/a?utm_source=x", "feed_url": "https://news.example/rss",
                   "title": "<b>Title</b>", "published": "2026-11-25T10:00:00+01:00"})
    assert entry.canonical_url == "https://news.example/a"
    assert entry.title == "Title" and entry.published == "2026-11-25T09:00:00Z"
    assert entry.published_from == "published" and entry.fetched_at == NOW
    from_feed = normalise_entry({"link": "https://news.example/a?utm_source=x", "guidislink": False},
                                "https://news.example/rss", NOW)
    assert (entry.id, entry.entry_key) == (from_feed.id, from_feed.entry_key)


def test_pushed_url_without_a_feed_says_so():
    entry = parse({"url": "https://news.example/b"})
    assert entry.feed_url == f"{PUSHED}https://news.example/b" and entry.published_from == "fetched"


def test_full_entry():
    entry = parse({"entry": {"link": "https://news.example/c", "guid": "tag:news.example,2026:c",
                             "summary": "S", "content": "<p>Body text</p>", "author": "A. Writer",
                             "categories": ["World", "Politics"], "updated": "2026-11-24T08:00:00Z"},
                   "feed_url": "https://news.example/rss"})
    assert entry.guid == "tag:news.example,2026:c" and entry.content == "Body text"
    assert entry.categories == ["Politics", "World"] and entry.published_from == "updated"
    assert entry.feed_url == "https://news.example/rss"


@pytest.mark.parametrize(("body", "reason"), [
    (b"\xff\xfe", "not_utf8"),
    (b"{not json", "not_json"),
    ([1, 2], "not_object"),
    ({"colour": "blue"}, "unknown_message"),
    ({"feed_url": "ftp://news.example/rss"}, "bad_url"),
    ({"feed_url": 42}, "bad_url"),
    ({"url": "javascript:alert(1)"}, "bad_url"),
    ({"url": "https://news.example/a", "feed_url": "file:///etc/passwd"}, "bad_url"),
    ({"entry": "https://news.example/a"}, "bad_entry"),
    ({"entry": {"url": "https://news.example/a", "title": ["x"]}}, "bad_entry"),
    ({"entry": {"url": "https://news.example/a", "published": "yesterday"}}, "bad_time"),
    (b"{" + b" " * 1_000_001 + b"}", "too_large"),
])
def test_bad_messages_have_reasons(body, reason):
    with pytest.raises(BadMessage) as raised:
        parse(body)
    assert raised.value.reason == reason
