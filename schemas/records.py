"""The record types that flow between stages, each defined once.

Every type is a ``typing.NamedTuple`` registered with Beam's ``RowCoder``, so
it is a Beam schema: compact, deterministic encoding between workers and
usable by SQL/Dataframe transforms. JSON Schema, BigQuery and Arrow schemas
are derived from these definitions in :mod:`schemas.derive`.

Times are ISO 8601 strings in UTC (``2026-11-18T08:30:00Z``); the derived
schemas type them as timestamps (see ``schemas.derive.TIMESTAMP_FIELDS``).

Data flows one way::

    feed URL (str) -> FetchResult -> FeedEntry -> FetchedPage -> Article
        -> DedupVerdict -> NewsRecord (canonical) | NewsRecord (duplicate)

and every stage may emit a ``DeadLetter`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import apache_beam as beam


class FetchResult(NamedTuple):
    """The outcome of one HTTP fetch that succeeded at the protocol level."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case, e.g. "text/html"
    charset: str | None  # from the Content-Type header, if any
    body: bytes  # decompressed, capped
    fetched_at: str
    etag: str | None
    last_modified: str | None


class FeedStatus(NamedTuple):
    """What one feed fetch found, for the state carried to the next scheduled run."""

    feed_url: str
    status: int  # 200, or 304 when a conditional request found nothing new; 429/503 for a Retry-After failure
    etag: str | None
    last_modified: str | None
    entries: int
    fetched_at: str
    not_before: str | None = None  # the server's Retry-After, when a failed fetch carried one: do not poll before
    truncated: bool = False  # the document ended before its root element closed: entries after the cut are lost


class FeedEntry(NamedTuple):
    """One entry of one feed, normalised."""

    entry_key: str  # unique per (feed, entry): the unit of accounting
    id: str  # record id: derived from the canonical URL
    guid: str | None
    url: str  # the link as the feed gave it
    canonical_url: str
    feed_url: str
    source_domain: str
    title: str | None  # plain text
    published: str  # UTC
    published_from: str  # "published", "updated" or "fetched"
    summary: str | None  # plain text
    content: str | None  # plain text of the full content, when the feed carries it
    author: str | None
    categories: Sequence[str]
    fetched_at: str


class RobotsOutcome(NamedTuple):
    """What one origin's robots.txt says for our product token (see transforms.lib.robots)."""

    origin: str  # "http://host" or "https://host:8443": a robots.txt covers one scheme, host and port
    agent: str  # the product token the rules were chosen for ("newsbeam")
    outcome: str  # "parsed" (2xx), "unavailable" (4xx: all allowed), "unreachable" (5xx/429/network:
    #              all disallowed this run), "refused" (our network policy refused the host)
    status: int | None  # HTTP status of the answer, when there was one
    rules: Sequence[str]  # "allow PATTERN" / "disallow PATTERN" of the group that applies, in file order
    crawl_delay: float | None  # seconds, as the host asked (capped when applied: --max_crawl_delay)
    error: str | None  # why there are no rules
    fetched_at: str
    expires: str  # UTC; after this the robots.txt is fetched again (24 h at most, RFC 9309 2.4)
    source: str  # "fetched" this run, or "state" (cached by an earlier scheduled run)


class PageRequest(NamedTuple):
    """An entry to fetch, with the robots.txt outcome of its origin (None: robots.txt not consulted)."""

    entry: FeedEntry
    robots: RobotsOutcome | None


class FetchedPage(NamedTuple):
    """An entry with its page, or with the reason there is no page."""

    entry: FeedEntry
    html: str | None  # decoded page, None when the fetch failed
    final_url: str | None
    status: int | None
    error: str | None  # why there is no page (used to fall back to the feed)
    fetched_at: str


class Article(NamedTuple):
    """An entry with its extracted body and metadata: the unit of dedup."""

    entry_key: str
    id: str
    guid: str | None
    url: str
    canonical_url: str
    feed_url: str
    source_domain: str
    title: str | None
    author: str | None
    published: str
    published_from: str
    language: str | None
    site_name: str | None
    description: str | None
    summary: str | None
    categories: Sequence[str]
    body: str
    body_source: str  # "page" or "feed"
    body_note: str | None  # why the feed's content was used, when it was
    fetched_at: str


class Entity(NamedTuple):
    """A named entity, merged across its mentions in one record."""

    text: str
    label: str  # spaCy label: PERSON, ORG, GPE, ...
    count: int
    first_offset: int  # character offset of the first mention in ``body``


class DedupInfo(NamedTuple):
    """Why a record is canonical or a duplicate."""

    kind: str  # "canonical", "same_url", "same_guid", "same_text", "near_verbatim", ...
    score: float  # 1.0 for exact matches; similarity otherwise; 0.0 for canonical
    matched_id: str | None  # the record this one was matched against directly
    evidence: Sequence[str]  # human-readable signals, "name=value"
    attributed_source: str | None  # e.g. "BBC" from a trailing "(BBC)"


class NewsRecord(NamedTuple):
    """The pipeline's output: a canonical record or a duplicate."""

    id: str
    url: str
    canonical_url: str
    guid: str | None
    feed_url: str
    source_domain: str
    title: str | None
    author: str | None
    published: str
    published_from: str
    language: str | None
    site_name: str | None
    description: str | None
    body: str | None
    body_source: str | None
    body_note: str | None
    summary: str | None
    categories: Sequence[str]
    entities: Sequence[Entity]
    duplicate_of: str | None
    dedup: DedupInfo
    fetched_at: str
    pipeline_version: str
    story_id: str | None = None  # the story (transforms.stories) this record belongs to; its copies share it


class StoryMember(NamedTuple):
    """A canonical record in a story, with the evidence that joined it."""

    record_id: str
    title: str | None
    source_domain: str
    published: str
    copies: Sequence[str]  # its duplicates' record ids (its reprint cluster)
    similarity: float  # cosine to the story's centroid when it joined (1.0: it started the story)
    shared_names: Sequence[str]  # names and numbers it shared with the story then
    hours_after_first: float | None  # None when either time is unknown


class Story(NamedTuple):
    """A row of the stories table: every report of one event (``transforms.lib.stories``)."""

    story_id: str  # the id of the story's first record
    first_published: str
    last_published: str
    label: str | None  # the most central headline
    records: int  # canonical records (each a reprint cluster or an independent report)
    copies: int
    outlets: Sequence[str]
    reprint_clusters: Sequence[str]  # members with copies
    independent_records: Sequence[str]  # members without copies
    top_entities: Sequence[str]
    members: Sequence[StoryMember]


class DedupNode(NamedTuple):
    """An article as the verdict step sees it: enough to order and name it."""

    entry_key: str
    id: str
    published: str


class DocFeatures(NamedTuple):
    """What the reprint detector compares, computed once per article."""

    node: DedupNode
    source_domain: str
    site_name: str | None
    text_hash: str  # of the normalised body: equal hashes are the same text
    shingles: bytes  # sorted distinct 32-bit hashes of the prose's word 5-shingles, packed little-endian
    #                  (verdicts compare their high 24 bits: fingerprints.compared_shingles)
    narrative: bytes  # the subset of ``shingles`` outside quotation marks (what copies share, quotes do not)
    anchors: Sequence[str]  # names and numbers, lower case, sorted
    sentence_count: int
    sentences: Sequence[str]  # the statements compared by meaning (left empty where only scores are needed)
    attributed_source: str | None


class Match(NamedTuple):
    """A directed match: ``later`` is a copy of ``earlier``."""

    later: DedupNode
    earlier: DedupNode
    kind: str
    score: float
    evidence: Sequence[str]


class SentenceVectors(NamedTuple):
    """An article's sentence embeddings: int8, row-major, 384 columns (see transforms.lib.embeddings)."""

    entry_key: str
    vectors: bytes


class DedupVerdict(NamedTuple):
    """The verdict for one entry, keyed by its entry_key."""

    entry_key: str
    duplicate_of: str | None  # record id of the canonical copy; None when canonical
    info: DedupInfo


class DeadLetter(NamedTuple):
    """An element a stage could not handle, and why."""

    stage: str  # "read_feed_list", "fetch_feed", "parse_feed", "fetch_page", ...
    unit: str  # "feed", "entry" or "host" (robots.txt): entries count in the accounting invariant
    element: str  # JSON (or repr) of the element, truncated
    error_class: str
    reason: str  # short machine-friendly reason, e.g. "http_404", "too_large"
    message: str
    time: str
    url: str | None


class Count(NamedTuple):
    """A named count: one reason, one language."""

    name: str
    count: int


class SourceRun(NamedTuple):
    """One source's figures in one run (``sources-*.jsonl``): the per-source table of the run report and,
    across scheduled runs, the history source health reads (``pipeline.health``)."""

    source_domain: str
    entries: int  # entries that ended as a record, a duplicate or an entry dead letter
    records: int
    duplicates: int
    dead_letters: int  # entry dead letters
    feed_failures: int  # feed dead letters: the source's feed could not be fetched or parsed
    bodies_from_page: int
    bodies_from_feed: int
    thin_pages: int  # a page was fetched but gave no text or a thin body: the feed's text was used
    repeated_page_bodies: int  # page bodies identical to another page body of the source: boilerplate kept
    page_failures: Sequence[Count]  # why pages were not fetched (reasons), fallen back to the feed or dead-lettered
    median_page_body_chars: int | None  # of the bodies extracted from pages
    languages: Sequence[Count]


class DedupCorrection(NamedTuple):
    """A verdict changed after it was emitted (streaming): an earlier copy arrived after its reprint.

    The record ``id`` (``entry_key``) was emitted as canonical, or as a
    duplicate of ``previous_duplicate_of``; it is now a duplicate of ``duplicate_of``.
    """

    id: str
    entry_key: str
    duplicate_of: str
    previous_duplicate_of: str | None  # None: it was emitted as a canonical record
    dedup: DedupInfo
    corrected_at: str


class StoryCorrection(NamedTuple):
    """A record's story changed after it was emitted (streaming, ``transforms.stream_stories``).

    The record ``id`` was emitted with ``previous_story_id`` (None: without a story); it now belongs to
    ``story_id``. ``reason``: ``original_arrived_late`` (a copy went out before its original joined a
    story) or ``dedup_rerooted`` (dedup found the record to be a copy of an article in another story).
    """

    id: str
    story_id: str
    previous_story_id: str | None
    reason: str
    corrected_at: str


ALL_RECORD_TYPES = (
    FetchResult, FeedStatus, FeedEntry, RobotsOutcome, PageRequest, FetchedPage, Article, Entity, DedupInfo, NewsRecord,
    DedupNode, DocFeatures, Match, SentenceVectors, DedupVerdict, DeadLetter, DedupCorrection, StoryMember, Story,
    StoryCorrection,
)

for _record_type in ALL_RECORD_TYPES:
    beam.coders.registry.register_coder(_record_type, beam.coders.RowCoder)
