"""Stage 6b: records and their duplicates -> the same, each with its ``story_id``, and the stories table.

``AssignStories`` takes ``{"records": NewsRecord (canonical), "duplicates":
NewsRecord}`` and returns ``{"records", "duplicates"}`` (the same elements
with ``story_id`` set), ``"stories"`` (``Story`` rows of the stories that
took a member in this run, earlier runs' members included), ``"index"`` (one
element: the story index after this run, bytes, for a scheduled run's state)
and ``"dead_letters"``.

Each canonical record is a ``StoryUnit``: the sentence vector of its title
and first sentences (``SentenceVectorModelHandler`` through ``ApplyModel``,
batched), the names of its first sentences and its entities. All units of a
run then meet in one place (a single-key ``CoGroupByKey``, so any runner,
DaskRunner included, gives the same stories) and join stories in
publication order on top of the index earlier runs left
(``transforms.lib.stories``). Copies take their canonical record's story.

Nothing here makes a dead letter: a record whose vector fails is compared by
names alone (``stories.embedding_failed``), and a copy whose original is in
no story (it aged out of the index) keeps ``story_id`` None
(``stories.copies_without_story``). The ``dead_letters`` output is there so
that the stage has the shape of every other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import PredictionResult

from schemas.records import NewsRecord, Story
from transforms.batching import ApplyModel
from transforms.deadletters import count
from transforms.lib.embeddings import DIMENSIONS
from transforms.lib.stories import DEFAULT, StoryIndex, StoryThresholds, StoryUnit, order_key, story_names, story_text
from transforms.sentence_vectors import SentenceVectorModelHandler
from transforms.tagging import MAIN, split, tag

STORIES, INDEX = "stories", "index"
NO_VECTOR = bytes(DIMENSIONS)  # int8 zeros: similarity 0 to every story, so only names can join it
ONE_KEY = "stories"


def story_unit(record: NewsRecord) -> StoryUnit:
    """A record as stories see it, without its vector yet."""
    body = record.body or ""
    entities: dict[str, int] = {}
    for entity in record.entities or ():
        entities[entity.text] = entities.get(entity.text, 0) + entity.count
    top = tuple(name for name, _ in sorted(entities.items(), key=lambda e: (-e[1], e[0])))
    return StoryUnit(record.id, record.published, record.title, record.source_domain, NO_VECTOR,
                     story_names(body), top)


def with_text(unit: StoryUnit, record: NewsRecord) -> tuple[StoryUnit, list[str]]:
    return unit, [story_text(record.title, record.body or "") or "-"]


def with_vector(item: tuple[StoryUnit, PredictionResult]) -> StoryUnit:
    unit, result = item
    if result.inference is None:
        count("stories.embedding_failed")
        return unit
    return unit._replace(vector=result.inference)


def _record_id(unit: StoryUnit) -> str:
    return unit.record_id


class AssignFn(beam.DoFn):
    """All of a run's units and copy links -> (record id, story id) pairs, story rows, the new index."""

    def __init__(self, thresholds: StoryThresholds, prior_index_path: str | None):
        self._thresholds = thresholds
        self._prior_index_path = prior_index_path

    def _prior(self) -> StoryIndex:
        if not self._prior_index_path or not FileSystems.exists(self._prior_index_path):
            return StoryIndex(self._thresholds)
        with FileSystems.open(self._prior_index_path) as handle:
            return StoryIndex.from_bytes(handle.read(), self._thresholds)

    def process(self, item: tuple[str, dict[str, Iterable[Any]]]) -> Iterable[Any]:
        _key, grouped = item
        index = self._prior()
        earlier = len(index)
        units = sorted(grouped["units"], key=order_key)
        started = {u.record_id for u in units}
        touched: set[str] = set()
        for unit in units:
            assignment = index.add(unit)
            touched.add(assignment.story_id)
            yield tag(MAIN, (unit.record_id, assignment.story_id))
        for copy_id, canonical_id in sorted(grouped["copies"]):
            story_id = index.add_copy(canonical_id, copy_id)
            if story_id is None:
                count("stories.copies_without_story")
                continue
            touched.add(story_id)
            yield tag(MAIN, (copy_id, story_id))
        rows = index.rows(touched)
        count("stories.stories", len(rows))
        new = sum(1 for row in rows if row.story_id in started)
        count("stories.new", new)
        count("stories.continued", len(rows) - new)  # stories of earlier runs that took a member now
        count("stories.index_stories", len(index))
        count("stories.index_stories_before", earlier)
        for row in rows:
            yield tag(STORIES, row)
        yield tag(INDEX, index.to_bytes())


def _story_id_onto(item: tuple[str, dict[str, list[Any]]]) -> Iterable[Any]:
    _id, grouped = item
    story_ids = list(grouped["story"])
    story_id = story_ids[0] if story_ids else None
    for record in grouped["records"]:
        if story_id is None:
            count("stories.records_without_story")
        yield tag("records", record._replace(story_id=story_id))
    for duplicate in grouped["duplicates"]:
        yield tag("duplicates", duplicate._replace(story_id=story_id))


class AssignStories(beam.PTransform):
    def __init__(self, thresholds: StoryThresholds = DEFAULT, portable: bool = False,
                 prior_index_path: str | None = None, model_path: str | None = None):
        """``prior_index_path``: the story index earlier scheduled runs left in the state (or None)."""
        super().__init__()
        self._thresholds = thresholds
        self._portable = portable
        self._prior_index_path = prior_index_path
        self._handler = SentenceVectorModelHandler(model_path)

    def expand(self, inputs: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        records, duplicates = inputs["records"], inputs["duplicates"]
        units = (records
                 | "StoryText" >> beam.Map(lambda r: with_text(story_unit(r), r))
                 | "StoryVectors" >> ApplyModel(self._handler, self._portable, batch_size=16, key_fn=_record_id)
                 | "Units" >> beam.Map(with_vector))
        copies = duplicates | "CopyLinks" >> beam.Map(lambda d: (ONE_KEY, (d.id, d.duplicate_of)))
        assigned = split(
            {"units": units | "OneKey" >> beam.Map(lambda u: (ONE_KEY, u)), "copies": copies}
            | "AllUnits" >> beam.CoGroupByKey()
            | "Assign" >> beam.ParDo(AssignFn(self._thresholds, self._prior_index_path)),
            "Assigned", MAIN, STORIES, INDEX, types={STORIES: Story})
        joined = (
            {"records": records | "RecordsById" >> beam.Map(lambda r: (r.id, r)),
             "duplicates": duplicates | "DuplicatesById" >> beam.Map(lambda d: (d.id, d)),
             "story": assigned[MAIN]}
            | "ById" >> beam.CoGroupByKey()
            | "StoryIdOnto" >> beam.FlatMap(_story_id_onto)
        )
        joined = split(joined, "WithStoryIds", "records", "duplicates",
                       types={"records": NewsRecord, "duplicates": NewsRecord})
        return {
            "records": joined["records"],
            "duplicates": joined["duplicates"],
            "stories": assigned[STORIES],
            "index": assigned[INDEX],
            "dead_letters": records.pipeline | "NoStoryDeadLetters" >> beam.Create([]),
        }
