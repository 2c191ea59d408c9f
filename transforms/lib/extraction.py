"""Article body and metadata from a page (trafilatura), with the feed as fallback.

Settings were chosen by measurement on the article-extraction benchmark
(``bench/extraction_settings.py``; figures in the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import trafilatura

from schemas.records import Article, FetchedPage
from transforms.lib.text import clean_whitespace


@dataclass(frozen=True)
class ExtractSettings:
    include_comments: bool = False  # comments are not the article
    include_tables: bool = True
    favor_precision: bool = True  # F1 0.964, the best of the settings measured (README)
    fast: bool = False
    # trafilatura's own size cap does not apply to strings; pages are cut here.
    max_html_chars: int = 5_000_000
    # A page body shorter than this is "thin": the feed's content is used if longer.
    min_body_chars: int = 250


# trafilatura reports a language only when asked to filter by one; the page's
# own declaration is the cheap, reliable source.
_HTML_LANG_RE = re.compile(r"""<html[^>]*?\slang\s*=\s*["']?([A-Za-z]{2,3})\b""", re.IGNORECASE)


def declared_language(html: str) -> str | None:
    """The primary language subtag of ``<html lang=...>``, lower case."""
    match = _HTML_LANG_RE.search(html[:5000])
    return match.group(1).lower() if match else None


class Extracted(NamedTuple):
    body: str
    title: str | None
    author: str | None
    date: str | None  # YYYY-MM-DD
    site_name: str | None
    language: str | None
    description: str | None


class NoText(ValueError):
    """Neither the page nor the feed gave any text."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def extract_page(html: str, url: str, settings: ExtractSettings) -> Extracted | None:
    """trafilatura on one page; None when it finds no main text."""
    document = trafilatura.bare_extraction(
        html[: settings.max_html_chars],
        url=url,
        with_metadata=True,
        include_comments=settings.include_comments,
        include_tables=settings.include_tables,
        favor_precision=settings.favor_precision,
        fast=settings.fast,
    )
    if document is None or not (document.text or "").strip():
        return None
    return Extracted(
        body=clean_whitespace((document.text or "").replace("\n", "\n\n")),
        title=document.title or None,
        author=document.author or None,
        date=document.date or None,
        site_name=document.sitename or None,
        language=document.language or declared_language(html),
        description=document.description or None,
    )


# Why a body came from the feed (``Article.body_note``); per-source figures read them back (transforms.sources).
NOTE_NOT_FETCHED = "page not fetched"  # then ": REASON: message"
NOTE_NO_TEXT = "page had no extractable text"
NOTE_THIN = "page body thin"  # then " (N chars)"


def build_article(page: FetchedPage, settings: ExtractSettings) -> Article:
    """The article for a fetched page: the page's body, or the feed's when the page fails or is thin.

    Raises NoText when there is no text at all.
    """
    entry = page.entry
    extracted = extract_page(page.html, page.final_url or entry.url, settings) if page.html else None
    feed_text = entry.content or entry.summary or ""
    page_body = extracted.body if extracted else ""
    if len(page_body) >= settings.min_body_chars or (page_body and len(page_body) >= len(feed_text)):
        body, body_source, note = page_body, "page", None
    elif feed_text:
        body, body_source = feed_text, "feed"
        if page.error:
            note = f"{NOTE_NOT_FETCHED}: {page.error}"
        elif not page_body:
            note = NOTE_NO_TEXT
        else:
            note = f"{NOTE_THIN} ({len(page_body)} chars)"
    else:
        # The page's own failure is the reason worth reporting: "page_http_404", "page_blocked_address"...
        reason = f"page_{page.error.split(':', 1)[0]}" if page.error else "no_text"
        raise NoText(reason, f"no text for {entry.url}: {page.error or 'empty page and empty feed entry'}")
    meta = extracted or Extracted("", None, None, None, None, None, None)
    published, published_from = entry.published, entry.published_from
    if published_from == "fetched" and meta.date:
        published, published_from = f"{meta.date}T00:00:00Z", "page"
    return Article(
        entry_key=entry.entry_key,
        id=entry.id,
        guid=entry.guid,
        url=entry.url,
        canonical_url=entry.canonical_url,
        feed_url=entry.feed_url,
        source_domain=entry.source_domain,
        title=entry.title or meta.title,
        author=entry.author or meta.author,
        published=published,
        published_from=published_from,
        language=meta.language,
        site_name=meta.site_name,
        description=meta.description,
        summary=entry.summary,
        categories=entry.categories,
        body=body,
        body_source=body_source,
        body_note=note,
        fetched_at=page.fetched_at,
    )
