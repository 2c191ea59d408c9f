"""``newsbeam dedup`` and ``newsbeam stories``: the dedup stage (and stories after it), through Beam, on
documents given as JSON lines.

Input lines: ``{"id", "url", "title", "text", "published" (ISO 8601, optional), "source" (optional)}``.
``dedup`` writes one line per usable input document: ``{"id", "duplicate_of", "cluster_id", "kind",
"score"}`` with the caller's ids unchanged. ``stories`` writes ``{"id", "story_id", "duplicate_of"}`` per
document and the stories table (``Story`` rows) beside it. Unusable lines go to the dead-letter file with
the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC
from typing import Any

import apache_beam as beam
from apache_beam import coders

from schemas.records import Article, NewsRecord
from transforms.deadletters import count, dead_letter
from transforms.dedup import Deduplicate
from transforms.lib.stories import DEFAULT, StoryThresholds
from transforms.lib.times import ISO_FORMAT, UNKNOWN_TIME, parse_iso
from transforms.lib.urls import source_domain
from transforms.sinks import to_json_line
from transforms.stories import AssignStories
from transforms.tagging import DEAD_LETTERS, MAIN, split, tag


class BadDocument(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse_document(line: str | bytes) -> Article:
    """One input line -> the Article the dedup stage compares. Raises BadDocument."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadDocument("not_utf8", f"the line is not UTF-8: {error}") from None
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadDocument("bad_json", f"not JSON: {error}") from None
    if not isinstance(doc, dict):
        raise BadDocument("bad_json", "a line must be a JSON object")
    doc_id, text = doc.get("id"), doc.get("text")
    if not isinstance(doc_id, str) or not doc_id:
        raise BadDocument("no_id", "missing or non-string 'id'")
    if not isinstance(text, str) or not text.strip():
        raise BadDocument("no_text", f"document {doc_id!r} has no 'text'")
    url = doc.get("url") if isinstance(doc.get("url"), str) else ""
    source = doc.get("source") if isinstance(doc.get("source"), str) else None
    published, published_from = parse_time(doc.get("published"), doc_id)
    return Article(
        entry_key=doc_id, id=doc_id, guid=None, url=url, canonical_url=url, feed_url="",
        source_domain=source_domain(url) if url else (source or ""), title=doc.get("title") or None, author=None,
        published=published, published_from=published_from, language=None, site_name=source, description=None,
        summary=None, categories=[], body=text, body_source="input", body_note=None, fetched_at=UNKNOWN_TIME,
    )


def parse_time(value: Any, doc_id: str) -> tuple[str, str]:
    if value in (None, ""):
        return UNKNOWN_TIME, "unknown"
    try:
        parsed = parse_iso(str(value))
    except ValueError:
        raise BadDocument("bad_published", f"document {doc_id!r}: 'published' is not ISO 8601: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(ISO_FORMAT), "published"


class ParseDocumentFn(beam.DoFn):
    def process(self, line: bytes) -> Iterable[Any]:
        if not line.strip():
            return
        try:
            article = parse_document(line)
        except BadDocument as error:
            yield tag(DEAD_LETTERS, dead_letter("read_documents", "entry", line.decode("utf-8", "replace"), error))
            return
        count("entries.in")
        yield tag(MAIN, article)


def _one_per_id(item: tuple[str, Iterable[Article]]) -> Iterable[Any]:
    """Ids must be unique: the first copy (by text) is kept, the others are dead letters."""
    _doc_id, articles = item
    ordered = sorted(articles, key=lambda a: (a.body, a.published, a.url))
    yield tag(MAIN, ordered[0])
    for extra in ordered[1:]:
        error = BadDocument("duplicate_id", f"id {extra.id!r} appears more than once in the input")
        yield tag(DEAD_LETTERS, dead_letter("read_documents", "entry", extra, error))


def verdict_line(record: NewsRecord) -> str:
    return json.dumps({
        "id": record.id,
        "duplicate_of": record.duplicate_of,
        "cluster_id": record.duplicate_of or record.id,
        "kind": record.dedup.kind,
        "score": record.dedup.score,
    })


def story_line(record: NewsRecord) -> str:
    return json.dumps({"id": record.id, "story_id": record.story_id, "duplicate_of": record.duplicate_of})


def _verdicts(p: beam.Pipeline, input_path: str, horizon_days: float) -> tuple[dict[str, beam.PCollection],
                                                                                   list[beam.PCollection]]:
    # Lines are read as bytes and decoded one by one: a line that is not UTF-8 is a dead letter, not a crash.
    lines = p | "ReadDocuments" >> beam.io.ReadFromText(input_path, coder=coders.BytesCoder())
    parsed = split(lines | "ParseDocuments" >> beam.ParDo(ParseDocumentFn()), "Parsed", MAIN, DEAD_LETTERS,
                   types={MAIN: Article})
    unique = split(
        parsed[MAIN]
        | "ById" >> beam.Map(lambda a: (a.id, a))
        | "GroupById" >> beam.GroupByKey()
        | "OnePerId" >> beam.FlatMap(_one_per_id), "Unique", MAIN, DEAD_LETTERS, types={MAIN: Article})
    empty = p | "NoFeedMatches" >> beam.Create([])
    dedup = {"articles": unique[MAIN], "entry_duplicates": empty, "entry_matches": empty} | "Dedup" >> Deduplicate(
        horizon_days)
    return dedup, [parsed[DEAD_LETTERS], unique[DEAD_LETTERS], dedup["dead_letters"]]


def _write_dead_letters(dead_letters: list[beam.PCollection], dead_letter_path: str) -> None:
    (
        dead_letters
        | "AllDeadLetters" >> beam.Flatten()
        | "DeadLetterLines" >> beam.Map(to_json_line)
        | "WriteDeadLetters" >> beam.io.WriteToText(dead_letter_path, shard_name_template="", num_shards=1)
    )


def build_dedup(p: beam.Pipeline, input_path: str, output_path: str, dead_letter_path: str,
                horizon_days: float) -> None:
    dedup, dead_letters = _verdicts(p, input_path, horizon_days)
    (
        (dedup["canonical"], dedup["duplicates"])
        | "AllVerdicts" >> beam.Flatten()
        | "VerdictLines" >> beam.Map(verdict_line)
        | "WriteVerdicts" >> beam.io.WriteToText(output_path, shard_name_template="", num_shards=1)
    )
    _write_dead_letters(dead_letters, dead_letter_path)


def build_stories(p: beam.Pipeline, input_path: str, output_path: str, table_path: str, dead_letter_path: str,
                  horizon_days: float, thresholds: StoryThresholds = DEFAULT) -> None:
    dedup, dead_letters = _verdicts(p, input_path, horizon_days)
    stories = {"records": dedup["canonical"], "duplicates": dedup["duplicates"]} | "Stories" >> AssignStories(
        thresholds)
    (
        (stories["records"], stories["duplicates"])
        | "AllDocuments" >> beam.Flatten()
        | "StoryLines" >> beam.Map(story_line)
        | "WriteStoryIds" >> beam.io.WriteToText(output_path, shard_name_template="", num_shards=1)
    )
    (
        stories["stories"]
        | "StoryRows" >> beam.Map(to_json_line)
        | "WriteStories" >> beam.io.WriteToText(table_path, shard_name_template="", num_shards=1)
    )
    _write_dead_letters([*dead_letters, stories["dead_letters"]], dead_letter_path)
