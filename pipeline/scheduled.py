"""What a scheduled run carries to the next: feed validators and polling times, the entries already
handled, and robots.txt rules.

Read from the current generation of a ``StateStore`` before a run, rebuilt
from the run's own output tables after it (``feed_status``, ``dead_letters``,
``records``, ``duplicates``, ``seen_before``, ``robots``), and committed as the
next generation. Bounded: entries are forgotten after the dedup horizon,
robots.txt rules when they expire (24 h at most).

Files: ``feeds.json`` (per feed: validators, last status, failures, polling
interval, ``next_due``, ``not_before``; see ``transforms.lib.polling``),
``seen.json``, ``robots.json`` (per origin: outcome, rules, crawl delay,
``expires``), ``sources.json`` (per source, its recent runs' figures:
``pipeline.health``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline import health
from pipeline.state import StateStore
from pipeline.summary import read_rows
from schemas.records import Article, DedupNode, RobotsOutcome
from transforms.dedup import guid_key
from transforms.lib.fingerprints import article_features
from transforms.lib.polling import PollSettings, after_failure, after_success, why_not_due
from transforms.lib.reprint_index import ReprintIndex
from transforms.lib.robots import CACHEABLE
from transforms.lib.stories import StoryIndex
from transforms.lib.times import ISO_FORMAT
from transforms.lib.times import now as clock_now  # `now` names a parameter here
from transforms.lib.urls import record_id
from transforms.lib.verdicts import EXACT_KINDS
from transforms.sinks import STORY_INDEX_FILE

FEEDS_FILE = "feeds.json"
SEEN_FILE = "seen.json"
ROBOTS_FILE = "robots.json"
SOURCES_FILE = "sources.json"
REPRINTS_FILE = "reprints.idx"  # the reprint index of recent articles (transforms.lib.reprint_index, zlib JSON)
STORIES_FILE = "stories.idx"  # the stories of recent days (transforms.lib.stories, zlib JSON)
STATE_FORMAT = 1
# What robots.json keeps of a RobotsOutcome (origin is the key; source is always "state" when read back).
ROBOTS_FIELDS = ("agent", "outcome", "status", "rules", "crawl_delay", "error", "fetched_at", "expires")


@dataclass
class RunState:
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)  # feed URL -> validators, health, polling
    seen: dict[str, str] = field(default_factory=dict)  # "url:..." / "guid:..." key -> last run that saw it (UTC)
    robots: dict[str, dict[str, Any]] = field(default_factory=dict)  # origin -> robots.txt outcome (ROBOTS_FIELDS)
    reprints: bytes | None = None  # the reprint index of articles from earlier runs, within the horizon
    reprints_path: str | None = None  # where the current generation holds it (workers load it from there)
    reprint_articles: int = 0  # articles in that index (for the run summary)
    stories: bytes | None = None  # the story index of earlier runs (stories with a report in the last keep_days)
    stories_path: str | None = None  # where the current generation holds it (the stories stage reads it there)
    story_count: int = 0  # stories in that index (for the run summary)
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # source -> recent runs (health)
    health_flags: list[dict[str, str]] = field(default_factory=list)  # sources this run flagged (not stored)

    def not_due(self, urls: list[str], now: datetime, poll_all: bool = False) -> dict[str, dict[str, str]]:
        """The feeds a run at ``now`` leaves alone: ``{url: {"due": ISO time, "why": "interval"|"retry_after"}}``."""
        waiting = {}
        for url in urls:
            why = why_not_due(self.feeds.get(url), now, poll_all)
            if why is not None:
                waiting[url] = why
        return waiting

    def robots_cache(self, agent: str, now: datetime) -> dict[str, RobotsOutcome]:
        """robots.txt outcomes still fresh at ``now`` for product token ``agent``: not fetched again."""
        stamp = now.strftime(ISO_FORMAT)
        cache = {}
        for origin, kept in self.robots.items():
            if kept.get("agent") == agent and kept.get("outcome") in CACHEABLE and kept.get("expires", "") > stamp:
                cache[origin] = RobotsOutcome(origin=origin, source="state", **{k: kept.get(k) for k in ROBOTS_FIELDS})
        return cache

    def conditional_headers(self) -> dict[str, dict[str, str]]:
        headers = {}
        for url, feed in self.feeds.items():
            h = {}
            if feed.get("etag"):
                h["If-None-Match"] = feed["etag"]
            if feed.get("last_modified"):
                h["If-Modified-Since"] = feed["last_modified"]
            if h:
                headers[url] = h
        return headers

    def seen_sets(self) -> tuple[frozenset[str], frozenset[str]]:
        urls = frozenset(k[4:] for k in self.seen if k.startswith("url:"))
        guids = frozenset(k for k in self.seen if k.startswith("guid:"))
        return urls, guids


def load(store: StateStore) -> RunState:
    feeds = store.read_json(FEEDS_FILE, default={"format": STATE_FORMAT, "feeds": {}})
    seen = store.read_json(SEEN_FILE, default={"format": STATE_FORMAT, "seen": {}})
    # Generations written before robots.txt was kept have no robots.json: nothing cached.
    robots = store.read_json(ROBOTS_FILE, default={"format": STATE_FORMAT, "robots": {}})
    sources = store.read_json(SOURCES_FILE, default={"format": STATE_FORMAT, "sources": {}})  # (newer file)
    for name, document in ((FEEDS_FILE, feeds), (SEEN_FILE, seen), (ROBOTS_FILE, robots), (SOURCES_FILE, sources)):
        if document.get("format") != STATE_FORMAT:
            raise ValueError(f"state file {name}: format {document.get('format')!r}, expected {STATE_FORMAT}")
    return RunState(feeds["feeds"], seen["seen"], robots["robots"], store.read(REPRINTS_FILE),
                    store.path_of(REPRINTS_FILE), stories=store.read(STORIES_FILE),
                    stories_path=store.path_of(STORIES_FILE), sources=sources["sources"])


def next_state(previous: RunState, output: str, horizon_days: float, now: datetime | None = None,
               polling: PollSettings | None = None) -> RunState:
    """The state after a run, from what the run wrote. Feeds the run did not poll keep their state."""
    now = now or clock_now()
    polling = polling or PollSettings()
    stamp = now.strftime(ISO_FORMAT)
    records = read_rows(output, "records") + read_rows(output, "duplicates")
    # "New entries" of a feed: its entries that became a record or a duplicate this run. Entries seen by an
    # earlier run are in seen_before instead, and dead-lettered ones are not news (they are retried anyway).
    new_entries: dict[str, int] = {}
    for row in records:
        new_entries[row["feed_url"]] = new_entries.get(row["feed_url"], 0) + 1
    feeds = {url: dict(feed) for url, feed in previous.feeds.items()}
    failed = {dead["url"]: dead["reason"] for dead in read_rows(output, "dead_letters")
              if dead["unit"] == "feed" and dead["url"] and dead["stage"] != "read_feed_list"}
    not_before: dict[str, str] = {}
    for status in read_rows(output, "feed_status"):
        url = status["feed_url"]
        if status.get("not_before"):  # a failed fetch that carried Retry-After (also a dead letter)
            not_before[url] = status["not_before"]
            continue
        if url in failed:  # fetched but not parsed: the dead letter below says why
            continue
        feed = feeds.setdefault(url, {})
        feed.update(last_status=status["status"], last_fetched=status["fetched_at"])
        if status["status"] == 200:
            feed.update(etag=status["etag"], last_modified=status["last_modified"])
            if status["entries"]:
                feed["last_entries"] = status["entries"]
        feeds[url] = after_success(feed, new_entries.get(url, 0), now, polling)
    for url, reason in failed.items():
        feeds[url] = after_failure(feeds.get(url, {}), reason, now, polling, not_before.get(url))
    # An entry is remembered while feeds keep listing it, and for the horizon after they stop.
    seen = dict(previous.seen)
    for row in records + read_rows(output, "seen_before"):
        seen[f"url:{row['canonical_url']}"] = stamp
        key = guid_key_of(row)
        if key:
            seen[key] = stamp
    cutoff = (now - timedelta(days=horizon_days)).strftime(ISO_FORMAT)
    seen = {k: v for k, v in seen.items() if v >= cutoff}
    # robots.txt: what this run fetched replaces what was kept; only parsed and 4xx outcomes are kept (an
    # unreachable robots.txt is asked again next run), and only until they expire.
    robots = dict(previous.robots)
    for row in read_rows(output, "robots"):
        if row["source"] == "fetched":
            robots[row["origin"]] = {k: row[k] for k in ROBOTS_FIELDS}
    robots = {origin: kept for origin, kept in robots.items()
              if kept.get("outcome") in CACHEABLE and kept.get("expires", "") > stamp}
    reprints = next_reprint_index(previous.reprints, records, horizon_days, now)
    forget = (now - timedelta(days=health.FORGET_AFTER_DAYS)).strftime(ISO_FORMAT)
    sources = health.next_history(previous.sources, read_rows(output, "sources"), stamp, forget)
    stories = next_story_index(previous.stories, output, records, now)
    return RunState(feeds, seen, robots, reprints.to_bytes(), reprint_articles=len(reprints),
                    stories=stories.to_bytes() if stories is not None else None,
                    story_count=len(stories) if stories is not None else 0, sources=sources,
                    health_flags=health.flags(sources, stamp))


def next_story_index(previous: bytes | None, output: str, rows: list[dict[str, Any]], now: datetime
                     ) -> StoryIndex | None:
    """The story index the run wrote (earlier runs' stories plus its own), or the previous one when the run
    had no stories stage or no records; stories with no report within ``keep_days`` of the newest
    publication (event time, as for the reprint index; a date in the future does not count) are dropped."""
    path = FileSystems.join(output, STORY_INDEX_FILE)
    if FileSystems.exists(path):
        with FileSystems.open(path) as handle:
            index = StoryIndex.from_bytes(handle.read())
    elif previous:
        index = StoryIndex.from_bytes(previous)
    else:
        return None
    ceiling = (now + timedelta(days=1)).strftime(ISO_FORMAT)
    newest = max((row["published"] for row in rows if row.get("published") and row["published"] <= ceiling),
                 default=None)
    if newest is not None:
        index.expire(newest)
    return index


def next_reprint_index(previous: bytes | None, rows: list[dict[str, Any]], horizon_days: float,
                       now: datetime) -> ReprintIndex:
    """Earlier runs' index plus this run's articles (records and reprints with bodies), minus those past the horizon.

    Each article is indexed under its record id, with its canonical copy as root, so a copy that a later run
    finds is a duplicate of the record id this run published.
    """
    index = ReprintIndex.from_bytes(previous) if previous else ReprintIndex(horizon_days)
    index.horizon_days = horizon_days
    rows = [row for row in rows if row.get("body") and (row.get("dedup") or {}).get("kind") not in EXACT_KINDS]
    # (no body: nothing to compare; an exact duplicate is the same article under another feed, already indexed)
    published = {row["id"]: row["published"] for row in rows if row.get("duplicate_of") is None}
    for row in sorted(rows, key=lambda r: (r.get("duplicate_of") is not None, r["published"], r["id"])):
        features = article_features(_article_of(row))
        root = None
        if row.get("duplicate_of") is not None:
            root_id = row["duplicate_of"]
            prior_root = index.root_of(root_id)
            root = prior_root or DedupNode(root_id, root_id, published.get(root_id, row["published"]))
        index.add(features, root)
    # Evicted by event time, as the stream does with its watermark: the newest publication the index holds,
    # minus the horizon. The same input then gives the same verdicts whatever day it runs (a wall-clock cut
    # emptied the demo's index once its sample was a week old). A date in the future does not count.
    newest = max((a.node.published for a in index.articles.values()), default=None)
    ceiling = (now + timedelta(days=1)).strftime(ISO_FORMAT)
    if newest is not None:
        index.evict_beyond_horizon(min(newest, ceiling))
    return index


def _article_of(row: dict[str, Any]) -> Article:
    return Article(
        entry_key=row["id"], id=row["id"], guid=row.get("guid"), url=row["url"], canonical_url=row["canonical_url"],
        feed_url=row["feed_url"], source_domain=row["source_domain"], title=row.get("title"), author=row.get("author"),
        published=row["published"], published_from=row["published_from"], language=row.get("language"),
        site_name=row.get("site_name"), description=row.get("description"), summary=row.get("summary"),
        categories=row.get("categories") or [], body=row["body"], body_source=row.get("body_source") or "page",
        body_note=row.get("body_note"), fetched_at=row["fetched_at"])


def guid_key_of(row: dict[str, Any]) -> str | None:
    """The same GUID key the feed-level dedup uses, from a written record."""
    from schemas.records import FeedEntry

    if not row.get("guid"):
        return None
    entry = FeedEntry("", record_id(row["canonical_url"]), row["guid"], row["url"], row["canonical_url"],
                      row["feed_url"], row["source_domain"], None, row["published"], row["published_from"], None,
                      None, None, [], row["fetched_at"])
    return guid_key(entry)


def files(state: RunState) -> dict[str, bytes]:
    return {
        **({REPRINTS_FILE: state.reprints} if state.reprints else {}),
        **({STORIES_FILE: state.stories} if state.stories else {}),
        FEEDS_FILE: json.dumps({"format": STATE_FORMAT, "feeds": state.feeds}, indent=1, sort_keys=True).encode(),
        SEEN_FILE: json.dumps({"format": STATE_FORMAT, "seen": state.seen}, sort_keys=True).encode(),
        ROBOTS_FILE: json.dumps({"format": STATE_FORMAT, "robots": state.robots}, indent=1, sort_keys=True).encode(),
        SOURCES_FILE: json.dumps({"format": STATE_FORMAT, "sources": state.sources}, sort_keys=True).encode(),
    }
