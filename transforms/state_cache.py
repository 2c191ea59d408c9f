"""A stateful DoFn's decoded index, kept in memory while the state's version token says it is current.

``StreamReprintDedup`` and ``StreamStories`` keep an index in the state of one key as an append-only log of
rows. Decoding the log on every element would cost the whole index each time, so the DoFn keeps the decoded
index and a version token; each write draws a new token into the state. A worker that did not write the
last version (the key moved, or the worker restarted) finds another token and rebuilds from the log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from transforms.deadletters import count

Index = TypeVar("Index")


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
