"""Streaming input and output: Pub/Sub work messages in; Pub/Sub topics and windowed files out.

``ParseWork``: ``PCollection[PubsubMessage]`` (or ``bytes``) ->
    ``{"feeds": str, "entries": FeedEntry, "dead_letters": DeadLetter}``
    (message shapes: ``transforms.lib.messages``). A malformed message is a
    dead letter of unit ``message`` with its reason; it is acknowledged like
    any other, so it never blocks the subscription.

``PublishTable``: ``PCollection[NewsRecord | DedupCorrection | DeadLetter | Story | StoryCorrection]``
    -> one Pub/Sub message per element: JSON body, attributes ``type``, ``id``,
    ``source_domain``, ``story_id`` and ``duplicate_of`` when set (dead letters:
    ``stage``, ``reason``; stories: ``story_id``, ``records``; story
    corrections: ``id``, ``story_id``, ``reason``).

``WriteWindowedTable``: elements -> ``NAME-<window start>-<window end>-<pane>.jsonl``
    under a folder: one file per window of ``window_seconds`` that saw
    elements, written whole after the window closes (GroupByKey per window,
    then a temporary file renamed). Elements are windowed by the time they
    are written, not by publication time, so none is late for its window and
    no file is rewritten. (Beam's ``fileio.WriteToFiles`` writes a file per
    bundle on DirectRunner; ``WriteToText`` puts brackets and spaces in
    windowed file names.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.transforms import window
from apache_beam.typehints import KV

from schemas.records import DeadLetter, DedupCorrection, FeedEntry, Story, StoryCorrection
from transforms.deadletters import StageDoFn, count
from transforms.lib.messages import parse_message
from transforms.lib.times import utc_now
from transforms.sinks import to_json_line
from transforms.tagging import DEAD_LETTERS, MAIN, split, tag

FEEDS = "feeds"
# Beam's local Pub/Sub reader blocks up to 30 s in an empty pull, and cancel() waits for it: a local
# launcher publishes messages with this attribute while cancelling, and the parser drops them.
WAKE_ATTRIBUTE = "newsbeam_wake"


class ParseWorkFn(StageDoFn):
    stage = "read_message"
    unit = "message"

    def url_of(self, element: Any) -> str | None:
        return None

    def handle(self, message: Any) -> Iterable[Any]:
        data, attributes = (message.data, message.attributes) if isinstance(message, PubsubMessage) else (message, {})
        if (attributes or {}).get(WAKE_ATTRIBUTE):
            count("messages.wake")  # published by a local launcher to stop the reader promptly
            return
        count("messages.in")
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
    if isinstance(element, StoryCorrection):
        return "story_correction"
    if isinstance(element, Story):
        return "story"
    if isinstance(element, DeadLetter):
        return "dead_letter"
    return "record" if element.duplicate_of is None else "duplicate"


def message_attributes(kind: str, fields: dict[str, Any]) -> dict[str, str]:
    """A published row's attributes, from its type and its fields (a written row or ``element._asdict()``)."""
    attributes = {"type": kind}
    if kind == "dead_letter":
        attributes.update(stage=fields["stage"], reason=fields["reason"])
        return attributes
    if kind == "story":
        attributes.update(story_id=fields["story_id"], records=str(fields["records"]))
        return attributes
    if kind == "story_correction":
        attributes.update(id=fields["id"], story_id=fields["story_id"], reason=fields["reason"])
        return attributes
    attributes.update(id=fields["id"], source_domain=fields.get("source_domain") or "")
    if fields.get("story_id"):
        attributes["story_id"] = fields["story_id"]
    if fields.get("duplicate_of"):
        attributes["duplicate_of"] = fields["duplicate_of"]
    if kind == "correction":
        attributes = {k: v for k, v in attributes.items() if v}
    return attributes


def to_pubsub_message(element: Any) -> PubsubMessage:
    return PubsubMessage(to_json_line(element).encode("utf-8"), message_attributes(message_type(element),
                                                                                    element._asdict()))


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


def _compact_time(timestamp: Any) -> str:
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y%m%dT%H%M%SZ")


class _WriteWindowFn(beam.DoFn):
    """All of one window's rows -> one file, written under a temporary name then renamed."""

    def __init__(self, prefix: str):
        self._prefix = prefix

    def process(self, item: tuple[str, Iterable[str]], win=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam) -> Iterable[str]:
        _key, rows = item
        final = f"{self._prefix}-{_compact_time(win.start)}-{_compact_time(win.end)}-{pane.index:03d}.jsonl"
        temporary = f"{final}.tmp-{uuid.uuid4().hex}"
        with FileSystems.create(temporary) as handle:
            handle.write("".join(f"{row}\n" for row in rows).encode("utf-8"))
        FileSystems.rename([temporary], [final])
        count("out.window_files")
        yield final


class WriteWindowedTable(beam.PTransform):
    def __init__(self, output: str, name: str, window_seconds: int):
        super().__init__()
        self._prefix = FileSystems.join(output, name)
        self._window_seconds = window_seconds

    def expand(self, elements: beam.PCollection) -> beam.PCollection:
        return (elements
                | "AtWriteTime" >> beam.Map(_stamp_now)
                | "Window" >> beam.WindowInto(window.FixedWindows(self._window_seconds))
                | "ToJson" >> beam.Map(lambda element: ("rows", to_json_line(element))).with_output_types(
                    KV[str, str])
                | "GroupWindow" >> beam.GroupByKey()
                | "WriteWindow" >> beam.ParDo(_WriteWindowFn(self._prefix)))


__all__ = ["ParseWork", "PublishTable", "WriteWindowedTable", "message_attributes", "message_type",
           "to_pubsub_message"]
