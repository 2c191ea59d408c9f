"""Building output records from articles, entries and verdicts."""

from __future__ import annotations

from schemas.records import Article, DedupInfo, FeedEntry, NewsRecord
from transforms.lib.fingerprints import attributed_source
from transforms.lib.http import PIPELINE_VERSION

CANONICAL = DedupInfo("canonical", 0.0, None, [], None)


def record_from_article(article: Article, duplicate_of: str | None, info: DedupInfo) -> NewsRecord:
    info = info._replace(attributed_source=info.attributed_source or attributed_source(article.body))
    return NewsRecord(
        id=article.id,
        url=article.url,
        canonical_url=article.canonical_url,
        guid=article.guid,
        feed_url=article.feed_url,
        source_domain=article.source_domain,
        title=article.title,
        author=article.author,
        published=article.published,
        published_from=article.published_from,
        language=article.language,
        site_name=article.site_name,
        description=article.description,
        body=article.body,
        body_source=article.body_source,
        body_note=article.body_note,
        summary=article.summary,
        categories=article.categories,
        entities=[],
        duplicate_of=duplicate_of,
        dedup=info,
        fetched_at=article.fetched_at,
        pipeline_version=PIPELINE_VERSION,
    )


def record_from_entry(entry: FeedEntry, duplicate_of: str | None, info: DedupInfo) -> NewsRecord:
    """A duplicate known from the feed alone (same URL or GUID): its page is not fetched."""
    return NewsRecord(
        id=entry.id,
        url=entry.url,
        canonical_url=entry.canonical_url,
        guid=entry.guid,
        feed_url=entry.feed_url,
        source_domain=entry.source_domain,
        title=entry.title,
        author=entry.author,
        published=entry.published,
        published_from=entry.published_from,
        language=None,
        site_name=None,
        description=None,
        body=None,
        body_source=None,
        body_note="not fetched: exact duplicate by URL or GUID",
        summary=entry.summary,
        categories=entry.categories,
        entities=[],
        duplicate_of=duplicate_of,
        dedup=info,
        fetched_at=entry.fetched_at,
        pipeline_version=PIPELINE_VERSION,
    )
