"""Feed bytes -> normalised ``FeedEntry`` values (feedparser does the parsing, never the fetching)."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

import feedparser

from schemas.records import FeedEntry, FetchResult
from transforms.lib.text import clean_whitespace, html_to_text
from transforms.lib.times import ISO_FORMAT
from transforms.lib.urls import BadUrl, canonical_url, is_http_url, record_id, source_domain

MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 500_000

# An internal DTD subset is where entity-expansion attacks live: feedparser's
# fallback parser expands internal entities without limit. Simple internal
# entities are legitimate in some feeds, so they are expanded here under a cap
# on growth; external and parameter entities are dropped; the DTD goes. The
# DOCTYPE line itself (RSS 0.91's, say) is kept so version detection works.
_INTERNAL_SUBSET_RE = re.compile(rb"(<!DOCTYPE[^\[>]*)\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)
_INTERNAL_ENTITY_RE = re.compile(rb"""<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"]*)"|'([^']*)')\s*>""")
_PREDEFINED = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
MAX_ENTITY_GROWTH = 1_000_000  # bytes an expansion may add to a feed
class FeedParseError(ValueError):
    """Bytes that are not a feed feedparser can read."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class BadEntry(ValueError):
    """An entry that cannot become a FeedEntry (no usable link, say)."""

    def __init__(self, reason: str, message: str, entry: dict[str, Any]):
        super().__init__(message)
        self.reason = reason
        self.entry = entry


class ParsedFeed(NamedTuple):
    version: str  # feedparser's name for the format, e.g. "rss20", "atom10"
    title: str | None
    entries: list[FeedEntry]
    bad_entries: list[BadEntry]
    truncated: bool = False  # the document ends before its root element closes: entries after the cut are lost


def neutralise_dtd(body: bytes, max_growth: int = MAX_ENTITY_GROWTH) -> bytes:
    """Expand simple internal entities (growth capped), drop every other declaration and the DTD subset.

    Raises FeedParseError("entity_expansion") when expansion would add more than ``max_growth`` bytes.
    """
    entities: dict[bytes, bytes] = {}
    match = _INTERNAL_SUBSET_RE.search(body)
    if match:
        for name, double, single in _INTERNAL_ENTITY_RE.findall(match.group(2)):
            if name not in _PREDEFINED:
                entities[name] = double or single
        body = body[:match.start()] + match.group(1) + b">" + body[match.end():]
    body = _ENTITY_DECL_RE.sub(b"", body)
    if not entities:
        return body
    budget = {"left": max_growth}
    pattern = re.compile(rb"&(" + b"|".join(re.escape(n) for n in entities) + rb");")

    def expand(ref: re.Match[bytes]) -> bytes:
        value = entities[ref.group(1)]
        budget["left"] -= len(value)
        if budget["left"] < 0:
            raise FeedParseError("entity_expansion", f"internal entities would add more than {max_growth} bytes")
        return value

    for _ in range(3):  # entities defined through other entities, a few levels deep
        entities = {name: pattern.sub(expand, value) for name, value in entities.items()}
    return pattern.sub(expand, body)


def parse_bytes(result: FetchResult) -> feedparser.FeedParserDict:
    """feedparser's own result for fetched bytes, DTD neutralised, with the response's headers."""
    headers = {"content-location": result.final_url} if result.final_url else {}
    body = repair_encoding(result.body, result.charset)
    if result.content_type:
        headers["content-type"] = result.content_type + (f"; charset={result.charset}" if result.charset else "")
    return feedparser.parse(neutralise_dtd(body), response_headers=headers, sanitize_html=True,
                            resolve_relative_uris=True)


_XML_DECLARATION_RE = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._-]+)(["'])""")
_SINGLE_BYTE_CHARSETS = frozenset({b"windows-1252", b"cp1252", b"iso-8859-1", b"latin-1", b"latin1", b"us-ascii",
                                   b"iso-8859-15"})


def repair_encoding(body: bytes, header_charset: str | None) -> bytes:
    """Two encodings feedparser misreads, made explicit (both seen in other parsers' test suites):

    - UTF-16 with no byte-order mark and no declaration: every other byte of an XML document is NUL;
      re-encoded as UTF-8;
    - UTF-8 bytes declared as windows-1252 / ISO-8859-1 in the XML declaration with no charset from the
      server: decoding them as declared gives mojibake (``CafÃ©``). Bytes that are valid UTF-8 and not plain
      ASCII are almost never meant as cp1252, so the declaration is corrected to UTF-8.
    """
    head = body[:200]
    if not body.startswith((b"\xff\xfe", b"\xfe\xff")) and len(head) >= 8:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return _reencode(body, "utf-16-le")
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return _reencode(body, "utf-16-be")
    match = _XML_DECLARATION_RE.match(body)
    if not header_charset and match and match.group(2).lower() in _SINGLE_BYTE_CHARSETS and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        return match.group(1) + b"utf-8" + match.group(3) + body[match.end():]
    return body


def _reencode(body: bytes, encoding: str) -> bytes:
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return body
    return re.sub(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[A-Za-z0-9._-]+""", r"\1utf-8", text).encode("utf-8")


def parse_feed(result: FetchResult) -> ParsedFeed:
    """Parse a fetched feed into entries, plus the entries that could not be used."""
    parsed = parse_bytes(result)
    truncated = is_truncated(result.body, parsed)
    if not parsed.entries and not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        raise FeedParseError("not_a_feed", f"no feed found in {result.url}: {problem or 'unknown format'}")
    entries: list[FeedEntry] = []
    bad: list[BadEntry] = []
    seen_keys: dict[str, int] = {}
    for raw in parsed.entries:
        try:
            entry = normalise_entry(raw, result.url, result.fetched_at)
        except BadEntry as error:
            bad.append(error)
            continue
        repeat = seen_keys.get(entry.entry_key, 0)
        seen_keys[entry.entry_key] = repeat + 1
        if repeat:  # the same item listed twice in one feed: still one input entry each
            entry = entry._replace(entry_key=f"{entry.entry_key}~{repeat}")
        entries.append(entry)
    if truncated and not entries:  # the cut came before the first complete entry: nothing could be read
        raise FeedParseError("truncated_feed", f"{result.url} ends before its first entry is complete: "
                                               f"{parsed.get('bozo_exception')}")
    feed_title = html_to_text(parsed.feed.get("title"), MAX_TITLE_CHARS) or None
    return ParsedFeed(parsed.get("version") or "unknown", feed_title, entries, bad, truncated)


_ROOT_CLOSE_RE = re.compile(rb"</\s*(?:[\w-]+:)?(rss|feed|rdf|channel)\s*>\s*$", re.IGNORECASE)


def is_truncated(body: bytes, parsed: feedparser.FeedParserDict) -> bool:
    """A document that the XML parser found broken and that does not end by closing its root element:
    cut off in transfer or by a server, rather than ill-formed in its middle."""
    if not parsed.get("bozo"):
        return False
    tail = repair_encoding(body, None)[-400:].rstrip(b"\x00 \t\r\n")
    return not _ROOT_CLOSE_RE.search(tail)


def normalise_entry(raw: dict[str, Any], feed_url: str, fetched_at: str) -> FeedEntry:
    """One feedparser entry as a FeedEntry. Raises BadEntry when it has no usable link."""
    guid = (raw.get("id") or "").strip() or None
    link = _entry_link(raw, guid)
    if link is None:
        raise BadEntry("no_link", f"entry has no http(s) link (guid {guid!r}) in {feed_url}", _describe(raw))
    try:
        canonical = canonical_url(link)
    except BadUrl as error:
        raise BadEntry("bad_link", str(error), _describe(raw)) from None
    published, published_from = _entry_time(raw, fetched_at)
    key_source = "\n".join([feed_url, guid or "", link])
    return FeedEntry(
        entry_key=hashlib.sha256(key_source.encode("utf-8")).hexdigest()[:20],
        id=record_id(canonical),
        guid=guid,
        url=link,
        canonical_url=canonical,
        feed_url=feed_url,
        source_domain=source_domain(canonical),
        title=text_field(raw, "title", MAX_TITLE_CHARS),
        published=published,
        published_from=published_from,
        summary=text_field(raw, "summary", MAX_SUMMARY_CHARS),
        content=_entry_content(raw),
        author=html_to_text(_entry_author(raw), MAX_TITLE_CHARS)[:MAX_TITLE_CHARS] or None,
        categories=sorted({t.get("term", "").strip() for t in raw.get("tags", []) if t.get("term", "").strip()}),
        fetched_at=fetched_at,
    )


_HTML_TAG_RE = re.compile(r"</?(a|b|i|u|em|strong|p|br|span|div|script|style|img|font|small|big|sub|sup|code|pre|"
                          r"ul|ol|li|h[1-6]|iframe|object|embed)\b[^>]*>", re.IGNORECASE)
_MARKUP_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


def text_field(raw: dict[str, Any], name: str, limit: int) -> str | None:
    """A text construct as plain text: markup is parsed only where feedparser says the field is HTML (a
    plain-text title such as ``vector<int> in C++`` keeps its angle brackets)."""
    value = raw.get(name)
    if not value:
        return None
    kind = (raw.get(f"{name}_detail") or {}).get("type", "text/html")
    # RSS titles are often escaped HTML that feedparser's guess calls plain text (it does for <script>):
    # common HTML tags still make it markup; other angle brackets (vector<int>, <title>) are text.
    markup = kind in _MARKUP_TYPES or _HTML_TAG_RE.search(value)
    text = html_to_text(value, limit) if markup else clean_whitespace(value[:limit])
    return text[:limit] or None


def _entry_link(raw: dict[str, Any], guid: str | None) -> str | None:
    """The article's URL: FeedBurner's original link over its proxy, then the link, then a URL-shaped GUID,
    then an enclosure (podcast and media items have no link of their own)."""
    candidates = [raw.get("feedburner_origlink"), raw.get("link")]
    candidates += [link.get("href") for link in raw.get("links", []) if link.get("rel", "alternate") == "alternate"]
    if guid:
        candidates.append(guid)
    candidates += [link.get("href") for link in raw.get("links", []) if link.get("rel") == "enclosure"]
    candidates += [enclosure.get("href") for enclosure in raw.get("enclosures", [])]
    for candidate in candidates:
        if candidate and is_http_url(candidate):
            return candidate.strip()
    return None


def _entry_time(raw: dict[str, Any], fetched_at: str) -> tuple[str, str]:
    for name in ("published", "updated", "created"):
        parsed = raw.get(f"{name}_parsed")
        iso = _struct_to_iso(parsed)
        if iso:
            return iso, "updated" if name == "created" else name
    return fetched_at, "fetched"


def _struct_to_iso(value: time.struct_time | None) -> str | None:
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC).strftime(ISO_FORMAT)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_content(raw: dict[str, Any]) -> str | None:
    texts = [html_to_text(c.get("value"), MAX_CONTENT_CHARS) for c in raw.get("content", []) if c.get("value")]
    longest = max(texts, key=len, default="")
    return longest[:MAX_CONTENT_CHARS] or None


# RSS authors are often "email (Name)"; feedparser's own split of that mangles some names.
_EMAIL_THEN_NAME_RE = re.compile(r"^\s*[^\s@()]+@[^\s()]+\s*\((.+)\)\s*$")
_NAME_THEN_EMAIL_RE = re.compile(r"^\s*(.+?)\s*[(<][^\s@()<>]+@[^\s()<>]+[)>]\s*$")


def _entry_author(raw: dict[str, Any]) -> str | None:
    author = (raw.get("author") or "").strip()
    for pattern in (_EMAIL_THEN_NAME_RE, _NAME_THEN_EMAIL_RE):
        match = pattern.match(author)
        if match:
            return match.group(1).strip()
    detail = raw.get("author_detail") or {}
    return author or detail.get("name") or None


def _describe(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: str(raw.get(k))[:300] for k in ("id", "link", "title") if raw.get(k)}
