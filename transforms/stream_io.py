"""Streaming input and output: Pub/Sub work messages in; Pub/Sub topics and windowed files out.

``ParseWork``: ``PCollection[PubsubMessage]`` (or ``bytes``) ->
    ``{"feeds": str, "entries": FeedEntry, "dead_letters": DeadLetter}``
    (message shapes: ``transforms.lib.messages``). A malformed message is a
    dead letter of unit ``message`` with its reason; it is acknowledged like
    any other, so it never blocks the subscription.

``PublishTable``: ``PCollection[NewsRecord | DedupCorrection | DeadLetter]`` -> one
    Pub/Sub message per element: JSON body, attributes ``type``, ``id``,
    ``source_domain`` and ``duplicate_of`` when set (dead letters: ``stage``,
    ``reason``).

``WriteWindowedTable``: elements -> ``NAME-<window start>-<window end>-*.jsonl``
    under a folder, one set of files per window of ``window_seconds``,
    written by Beam's ``fileio.WriteToFiles``. Elements are windowed by the
    time they are written (not by publication time), so no element is ever
    late for its window: each window's files are final when written.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.transforms import window

from schemas.records import DeadLetter, DedupCorrection, FeedEntry
from transforms.deadletters import StageDoFn, count
from transforms.lib.messages import parse_message
from transforms.lib.times import utc_now
from transforms.sinks import to_json_line
from transforms.tagging import DEAD_LETTERS, MAIN, split, tag

FEEDS = "feeds"


class ParseWorkFn(StageDoFn):
    stage = "read_message"
    unit = "message"

    def url_of(self, element: Any) -> str | None:
        return None

    def handle(self, message: Any) -> Iterable[Any]:
        count("messages.in")
        data, attributes = (message.data, message.attributes) if isinstance(message, PubsubMessage) else (message, {})
        work = parse_message(data, attributes, utc_now())
        if isinstance(work, FeedEntry):
            count("entries.in")
            count("messages.entries")
            yield work
        else:
            count("messages.feeds")
            yield tag(FEEDS, work)


class ParseWork(beam.PTransform):
    def expand(self, messages: beam.PCollection) -> dict[str, beam.PCollection]:
        parsed = split(messages | "ParseMessages" >> beam.ParDo(ParseWorkFn()), "Work", MAIN, FEEDS, DEAD_LETTERS,
                       types={MAIN: FeedEntry, FEEDS: str, DEAD_LETTERS: DeadLetter})
        return {"entries": parsed[MAIN], "feeds": parsed[FEEDS], "dead_letters": parsed[DEAD_LETTERS]}


def message_type(element: Any) -> str:
    if isinstance(element, DedupCorrection):
        return "correction"
    if isinstance(element, DeadLetter):
        return "dead_letter"
    return "record" if element.duplicate_of is None else "duplicate"


def to_pubsub_message(element: Any) -> PubsubMessage:
    kind = message_type(element)
    attributes = {"type": kind}
    if isinstance(element, DeadLetter):
        attributes.update(stage=element.stage, reason=element.reason)
    else:
        attributes.update(id=element.id, source_domain=getattr(element, "source_domain", "") or "")
        if element.duplicate_of:
            attributes["duplicate_of"] = element.duplicate_of
        if isinstance(element, DedupCorrection):
            attributes = {k: v for k, v in attributes.items() if v}
    return PubsubMessage(to_json_line(element).encode("utf-8"), attributes)


class PublishTable(beam.PTransform):
    def __init__(self, topic: str):
        super().__init__()
        self._topic = topic

    def expand(self, elements: beam.PCollection) -> beam.pvalue.PDone:
        return (elements
                | "ToMessages" >> beam.Map(to_pubsub_message)
                | "Publish" >> beam.io.WriteToPubSub(self._topic, with_attributes=True))


def _stamp_now(element: Any) -> window.TimestampedValue:
    return window.TimestampedValue(element, time.time())


class WriteWindowedTable(beam.PTransform):
    def __init__(self, output: str, name: str, window_seconds: int):
        super().__init__()
        self._output, self._name, self._window_seconds = output, name, window_seconds

    def expand(self, elements: beam.PCollection) -> Any:
        return (elements
                | "AtWriteTime" >> beam.Map(_stamp_now)
                | "Window" >> beam.WindowInto(window.FixedWindows(self._window_seconds))
                | "ToJson" >> beam.Map(to_json_line)
                | "WriteFiles" >> fileio.WriteToFiles(
                    path=self._output, shards=1,
                    file_naming=fileio.default_file_naming(prefix=self._name, suffix=".jsonl")))


__all__ = ["ParseWork", "PublishTable", "WriteWindowedTable", "message_type", "to_pubsub_message"]
