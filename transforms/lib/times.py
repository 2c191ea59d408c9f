"""Times as the records hold them: ISO 8601 strings in UTC, with a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with seconds."""
    return datetime.now(UTC).strftime(ISO_FORMAT)


def parse_iso(value: str) -> datetime:
    """An ISO 8601 string (``Z`` or an offset, or naive) as a datetime. Raises ValueError."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
