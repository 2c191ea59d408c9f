"""What the stateful streaming DoFns (``transforms.stream_dedup``, ``transforms.stream_stories``) share.

``LoggedIndexCache``: a DoFn's decoded index, kept in memory while the state's version token says it is
current. Both keep an index in the state of one key as an append-only log of rows. Decoding the log on every
element would cost the whole index each time, so the DoFn keeps the decoded index and a version token; each
write draws a new token into the state. A worker that did not write the last version (the key moved, or the
worker restarted) finds another token and rebuilds from the log.

``days`` and ``watermark_iso``: event-time durations and timer times as the records write times.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from apache_beam.utils.timestamp import Duration, Timestamp

from transforms.deadletters import count
from transforms.lib.times import ISO_FORMAT

Index = TypeVar("Index")


def days(count_of_days: float) -> Duration:
    return Duration(seconds=int(count_of_days * 86400))


def watermark_iso(timestamp: Timestamp) -> str | None:
    """A timer's time as an ISO 8601 UTC string; None at the end of time (a finished stream's last timers)."""
    try:
        return timestamp.to_utc_datetime().strftime(ISO_FORMAT)
    except (ValueError, OverflowError):
        return None


class LoggedIndexCache(Generic[Index]):
    def __init__(self, new_index: Callable[[], Index], rebuilt_counter: str):
        self._new_index = new_index  # the empty index; ``apply(row)`` replays one decoded log row into it
        self._rebuilt_counter = rebuilt_counter
        self._cache: dict[str, tuple[str, Index]] = {}

    def read(self, key: str, log: Any, version: Any) -> Index:
        token = version.read()
        cached = self._cache.get(key)
        if cached is not None and token is not None and cached[0] == token:
            return cached[1]
        index = self._new_index()
        for row in log.read():
            index.apply(json.loads(row))
        count(self._rebuilt_counter)
        return index

    def saved(self, key: str, index: Index, version: Any) -> None:
        token = uuid.uuid4().hex
        version.write(token)
        self._cache[key] = (token, index)
