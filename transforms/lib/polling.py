"""Adaptive polling of feeds between scheduled runs: when is a feed due again?

Plain functions over the per-feed dict a scheduled run keeps in its state
(``feeds.json``, see ``pipeline/scheduled.py``). The fields they read and
write, all readable in the file:

- ``poll_interval_seconds``: the feed's current interval while it answers:
  ``min_interval`` after a poll that found new entries, doubled (up to
  ``max_interval``) after a poll that found none (304, or only entries
  already seen);
- ``failures``: consecutive failed polls; the wait after a failure is
  ``min_interval * 2 ** (failures - 1)``, up to ``max_interval``, and the
  feed's interval is left as it was for when it recovers;
- ``not_before``: the server's ``Retry-After`` from a failed poll (capped at
  ``max_interval``); no run polls the feed earlier, not even ``--poll_all``;
- ``next_due``: UTC time from which a run polls the feed again.

Times are ISO 8601 UTC strings, as everywhere in newsbeam; ``now`` is always
passed in, so the rules are tested without waiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from transforms.lib.times import ISO_FORMAT, parse_iso

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class PollSettings:
    min_interval: float = 15 * 60.0  # --min_poll_interval
    max_interval: float = 24 * 3600.0  # --max_poll_interval


def parse_duration(text: str) -> float:
    """Seconds from "900", "90s", "15m", "24h" or "1d" (argparse ``type=``)."""
    match = _DURATION_RE.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use seconds, or a number with s, m, h or d)")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def _clamp(seconds: float, settings: PollSettings) -> float:
    return max(settings.min_interval, min(settings.max_interval, seconds))


def interval_after_poll(previous: float | None, new_entries: int, settings: PollSettings) -> float:
    """A feed that answered: back to the minimum when it had news, twice as long when it had none."""
    if new_entries > 0:
        return settings.min_interval
    return _clamp(2 * (previous or settings.min_interval), settings)


def wait_after_failures(failures: int, settings: PollSettings) -> float:
    """Exponential backoff: the first failure waits ``min_interval``, each further one twice as long."""
    return _clamp(settings.min_interval * 2 ** max(0, min(failures, 64) - 1), settings)


def _iso(moment: datetime) -> str:
    return moment.strftime(ISO_FORMAT)


def after_success(feed: dict[str, Any], new_entries: int, now: datetime, settings: PollSettings) -> dict[str, Any]:
    """The feed's polling fields after a poll that answered (200 or 304) with ``new_entries`` new entries."""
    interval = interval_after_poll(feed.get("poll_interval_seconds"), new_entries, settings)
    updated = {k: v for k, v in feed.items() if k != "not_before"}
    updated.update(poll_interval_seconds=int(interval), last_new_entries=new_entries, failures=0,
                   next_due=_iso(now + timedelta(seconds=interval)))
    return updated


def after_failure(feed: dict[str, Any], reason: str, now: datetime, settings: PollSettings,
                  not_before: str | None = None) -> dict[str, Any]:
    """The feed's polling fields after a failed poll (``not_before``: the server's Retry-After, if any)."""
    failures = int(feed.get("failures", 0)) + 1
    due = now + timedelta(seconds=wait_after_failures(failures, settings))
    updated = {k: v for k, v in feed.items() if k != "not_before"}
    if not_before:
        # A Retry-After of a year would silence the feed for a year: it is honoured up to max_interval.
        capped = min(parse_iso(not_before), now + timedelta(seconds=settings.max_interval))
        updated["not_before"] = _iso(capped)
        due = max(due, capped)
    updated.update(failures=failures, last_status=reason, last_failed=_iso(now), next_due=_iso(due))
    return updated


def why_not_due(feed: dict[str, Any] | None, now: datetime, poll_all: bool = False) -> dict[str, str] | None:
    """None when the feed may be polled at ``now``; otherwise ``{"due": ISO time, "why": ...}``.

    ``why`` is "retry_after" (the server asked us to wait: honoured even with ``--poll_all``) or
    "interval" (its adaptive interval has not passed).
    """
    if not feed:
        return None
    stamp = _iso(now)
    not_before = feed.get("not_before")
    if not_before and not_before > stamp:
        return {"due": not_before, "why": "retry_after"}
    next_due = feed.get("next_due")
    if not poll_all and next_due and next_due > stamp:
        return {"due": next_due, "why": "interval"}
    return None
