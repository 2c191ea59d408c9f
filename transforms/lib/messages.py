"""Work messages for the streaming pipeline: Pub/Sub message bytes -> a feed URL or a ``FeedEntry``.

Three shapes, JSON objects (UTF-8):

- ``{"feed_url": URL}``: poll this feed now;
- ``{"url": URL, "feed_url": URL?, "title": ..., "published": ISO 8601?}``: one article,
  as a WebSub-style push names it;
- ``{"entry": {"url" or "link": URL, "guid"/"id", "title", "published", "updated", "summary",
  "content", "author", "categories": [...], "feed_url"}}``: a full entry, as another system read it.

Entries go through the same normalisation as feed entries
(``transforms.lib.feedparse.normalise_entry``): a pushed article has the
id the same article read from its feed has, and the same entry key when the
message names the feed and the GUID. Anything else raises ``BadMessage``
with a machine-friendly reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.records import FeedEntry
from transforms.lib.feedparse import BadEntry, normalise_entry
from transforms.lib.times import parse_iso
from transforms.lib.urls import is_http_url

MAX_MESSAGE_BYTES = 1_000_000
PUSHED = "pushed:"  # feed_url of an article pushed without one: says where it came from


class BadMessage(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse_message(data: bytes, attributes: Mapping[str, str] | None, received_at: str) -> str | FeedEntry:
    """A feed URL to poll, or an entry to process. Raises ``BadMessage``."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise BadMessage("too_large", f"message of {len(data)} bytes (limit {MAX_MESSAGE_BYTES})")
    try:
        body = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadMessage("not_utf8", f"message is not UTF-8: {error}") from None
    except ValueError as error:
        raise BadMessage("not_json", f"message is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadMessage("not_object", f"message is JSON {type(body).__name__}, expected an object")
    attributes = attributes or {}
    if "entry" in body:
        entry = body["entry"]
        if not isinstance(entry, dict):
            raise BadMessage("bad_entry", "'entry' must be an object")
        return _entry(entry, body.get("feed_url") or entry.get("feed_url") or attributes.get("feed_url"),
                      received_at)
    if "url" in body:
        return _entry(body, body.get("feed_url") or attributes.get("feed_url"), received_at)
    if "feed_url" in body:
        feed_url = body["feed_url"]
        if not isinstance(feed_url, str) or not is_http_url(feed_url):
            raise BadMessage("bad_url", f"feed_url is not an http(s) URL: {str(feed_url)[:200]!r}")
        return feed_url.strip()
    raise BadMessage("unknown_message", f"expected one of 'feed_url', 'url', 'entry'; got keys {sorted(body)[:10]}")


def _entry(fields: dict[str, Any], feed_url: Any, received_at: str) -> FeedEntry:
    link = fields.get("url") or fields.get("link")
    if not isinstance(link, str) or not is_http_url(link):
        raise BadMessage("bad_url", f"entry url is not an http(s) URL: {str(link)[:200]!r}")
    if feed_url is not None and (not isinstance(feed_url, str) or not is_http_url(feed_url)):
        raise BadMessage("bad_url", f"feed_url is not an http(s) URL: {str(feed_url)[:200]!r}")
    raw: dict[str, Any] = {"link": link, "guidislink": False}
    for name in ("title", "summary", "author"):
        value = fields.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise BadMessage("bad_entry", f"entry {name} must be a string")
            raw[name] = value
    guid = fields.get("guid", fields.get("id"))
    if guid is not None:
        raw["id"] = str(guid)
    if isinstance(fields.get("content"), str):
        raw["content"] = [{"value": fields["content"]}]
    categories = fields.get("categories") or []
    if not isinstance(categories, list):
        raise BadMessage("bad_entry", "entry categories must be a list")
    raw["tags"] = [{"term": str(c)} for c in categories]
    for name in ("published", "updated"):
        if fields.get(name) is not None:
            try:
                raw[f"{name}_parsed"] = parse_iso(str(fields[name])).utctimetuple()
            except ValueError:
                raise BadMessage("bad_time", f"entry {name} is not ISO 8601: {str(fields[name])[:100]!r}") from None
    try:
        return normalise_entry(raw, (feed_url or "").strip() or f"{PUSHED}{link.strip()}", received_at)
    except BadEntry as error:
        raise BadMessage(error.reason, str(error)) from None
