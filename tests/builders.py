"""Small constructors for test records."""

from __future__ import annotations

from schemas.records import Article, DocFeatures, FeedEntry
from transforms.lib.fingerprints import article_features


def entry(content=None, summary=None, published_from="published") -> FeedEntry:
    return FeedEntry("k1", "id1", None, "http://w.example/a", "http://w.example/a", "http://w.example/rss",
                     "w.example", "Feed title", "2026-11-17T06:00:00Z", published_from, summary, content, None, [],
                     "2026-11-24T00:00:00Z")


def article(key: str, body: str, published: str, url: str) -> Article:
    return Article(key, f"id-{key}", None, url, url, "http://f/rss", url.split("/")[2], key, None, published,
                   "published", "en", None, None, None, [], body, "page", None, "2026-11-24T00:00:00Z")


def features(key: str, body: str, published: str = "2026-11-17T06:00:00Z") -> DocFeatures:
    return article_features(article(key, body, published, f"http://x.example/{key}"))
