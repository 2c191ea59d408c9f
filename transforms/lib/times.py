"""Times as the records hold them: ISO 8601 strings in UTC, with a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# A document with no date (``newsbeam dedup`` input without "published"): it sorts first, and the
# dedup horizon does not apply to it (it is compared with articles of any date).
UNKNOWN_TIME = "1970-01-01T00:00:00Z"


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with seconds."""
    return datetime.now(UTC).strftime(ISO_FORMAT)


def parse_iso(value: str) -> datetime:
    """An ISO 8601 string (``Z`` or an offset, or naive) as a datetime. Raises ValueError."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
