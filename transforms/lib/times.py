"""Times as the records hold them: ISO 8601 strings in UTC, with a trailing Z."""

from __future__ import annotations

import os
from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# A document with no date (``newsbeam dedup`` input without "published"): it sorts first, and the
# dedup horizon does not apply to it (it is compared with articles of any date).
UNKNOWN_TIME = "1970-01-01T00:00:00Z"


# Set to an ISO 8601 time, the run takes it for "now" everywhere it records or compares a time (fetch
# times, dead letters, due feeds, robots.txt freshness): a replay or a test runs "on another day".
# Waiting (politeness delays, timeouts, Retry-After) keeps the real clock.
CLOCK_VARIABLE = "NEWSBEAM_CLOCK"


def now() -> datetime:
    """The current UTC time, or the time ``NEWSBEAM_CLOCK`` names."""
    fixed = os.environ.get(CLOCK_VARIABLE)
    if fixed:
        try:
            moment = parse_iso(fixed)
        except ValueError as error:
            raise ValueError(f"{CLOCK_VARIABLE}={fixed!r} is not an ISO 8601 time") from error
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


def utc_now() -> str:
    """The current time (``now``) as an ISO 8601 UTC string with seconds."""
    return now().astimezone(UTC).strftime(ISO_FORMAT)


def parse_iso(value: str) -> datetime:
    """An ISO 8601 string (``Z`` or an offset, or naive) as a datetime. Raises ValueError."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
