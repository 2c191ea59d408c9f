"""What a scheduled run carries to the next: feed validators and the entries already handled.

Read from the current generation of a ``StateStore`` before a run, rebuilt
from the run's own output tables after it (``feed_status``, ``dead_letters``,
``records``, ``duplicates``), and committed as the next generation. Bounded
by the dedup horizon: entries published longer ago are forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.state import StateStore
from transforms.dedup import guid_key
from transforms.lib.times import ISO_FORMAT
from transforms.lib.urls import record_id

FEEDS_FILE = "feeds.json"
SEEN_FILE = "seen.json"
STATE_FORMAT = 1


@dataclass
class RunState:
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)  # feed URL -> validators and health
    seen: dict[str, str] = field(default_factory=dict)  # "url:..." / "guid:..." key -> last run that saw it (UTC)

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
    for name, document in ((FEEDS_FILE, feeds), (SEEN_FILE, seen)):
        if document.get("format") != STATE_FORMAT:
            raise ValueError(f"state file {name}: format {document.get('format')!r}, expected {STATE_FORMAT}")
    return RunState(feeds["feeds"], seen["seen"])


def _rows(output: str, table: str) -> list[dict[str, Any]]:
    rows = []
    for result in FileSystems.match([FileSystems.join(output, f"{table}-*.jsonl")]):
        for metadata in result.metadata_list:
            with FileSystems.open(metadata.path) as handle:
                rows += [json.loads(line) for line in handle.read().decode("utf-8").splitlines() if line.strip()]
    return rows


def next_state(previous: RunState, output: str, horizon_days: float, now: datetime | None = None) -> RunState:
    """The state after a run, from what the run wrote."""
    now = now or datetime.now(UTC)
    stamp = now.strftime(ISO_FORMAT)
    feeds = {url: dict(feed) for url, feed in previous.feeds.items()}
    for status in _rows(output, "feed_status"):
        feed = feeds.setdefault(status["feed_url"], {})
        feed.update(last_status=status["status"], last_fetched=status["fetched_at"], failures=0)
        if status["status"] == 200:
            feed.update(etag=status["etag"], last_modified=status["last_modified"])
            if status["entries"]:
                feed["last_entries"] = status["entries"]
    for dead in _rows(output, "dead_letters"):
        if dead["unit"] == "feed" and dead["url"]:
            feed = feeds.setdefault(dead["url"], {})
            feed.update(last_status=dead["reason"], last_failed=stamp, failures=int(feed.get("failures", 0)) + 1)
    # An entry is remembered while feeds keep listing it, and for the horizon after they stop.
    seen = dict(previous.seen)
    for row in _rows(output, "records") + _rows(output, "duplicates") + _rows(output, "seen_before"):
        seen[f"url:{row['canonical_url']}"] = stamp
        key = guid_key_of(row)
        if key:
            seen[key] = stamp
    cutoff = (now - timedelta(days=horizon_days)).strftime(ISO_FORMAT)
    seen = {k: v for k, v in seen.items() if v >= cutoff}
    return RunState(feeds, seen)


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
        FEEDS_FILE: json.dumps({"format": STATE_FORMAT, "feeds": state.feeds}, indent=1, sort_keys=True).encode(),
        SEEN_FILE: json.dumps({"format": STATE_FORMAT, "seen": state.seen}, sort_keys=True).encode(),
    }
