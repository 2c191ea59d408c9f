"""Stories: every report of one event in one group, above reprint clusters.

Reprint detection asks "is this a copy of that article?"; a story asks
"are these articles about the same event?". The unit here is a reprint
cluster, given by its canonical record (``StoryUnit``): its copies always
share its story. Units are visited in publication order (ties by record id),
the order a stream meets them, and each joins the best story open to it or
starts one (single-pass clustering, as in topic detection and tracking):

- **meaning**: the cosine between the unit's vector (title and first
  sentences, all-MiniLM-L6-v2) and the story's centroid (the mean of its
  members' vectors);
- **names**: the share of the unit's names and numbers (``anchor_terms`` of
  its first sentences: capitalised words, acronyms, figures; no language
  model, so Spanish and English reports of one flood share "Valencia",
  "Paiporta", "95") that the story's members already carry, weighed by
  ``name_weight``;
- **time**: a unit joins only a story with a report within ``window_days``
  of it, and no story spans more than ``max_span_days``: two statements by
  one minister a week apart are two stories, however alike.

A unit joins the story of highest ``similarity + name_weight * overlap``
when that is at least ``join_score``. A story's id is the id of the record
that started it, so it stays the same across runs (``StoryIndex`` is what a
scheduled run or a stream carries in its state). The thresholds were chosen
on half of ``reprints-dev``'s events with the dates hidden (content alone
must tell events apart) and reported on the other half
(``bench/eval_stories.py``).
"""

from __future__ import annotations

import base64
import json
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable
from datetime import UTC
from typing import NamedTuple

import numpy as np

from schemas.records import Story, StoryMember
from transforms.lib.embeddings import DIMENSIONS, as_matrix
from transforms.lib.fingerprints import anchor_terms
from transforms.lib.prose import prose_paragraphs
from transforms.lib.sentences import split_sentences
from transforms.lib.times import UNKNOWN_TIME, parse_iso

LEAD_SENTENCES = 3  # the story vector reads the title and these
NAME_SENTENCES = 12  # names come from this many first sentences: a long page's tail (links, comments) adds noise
MAX_SHARED_NAMES_SHOWN = 8
TOP_ENTITIES = 10
FORMAT_VERSION = 1


class StoryThresholds(NamedTuple):
    join_score: float = 0.575  # chosen on all reprints-dev events, dates hidden (bench/eval_stories.py)
    name_weight: float = 0.5
    window_days: float = 3.0
    max_span_days: float = 14.0
    max_members: int = 500  # a story this large takes no more members (a new one starts)
    keep_days: float = 7.0  # what a scheduled run's state keeps: stories with a report this recent


DEFAULT = StoryThresholds()


class StoryUnit(NamedTuple):
    """A canonical record as stories see it; its copies share its story."""

    record_id: str
    time: str  # publication time, ISO 8601 UTC; UNKNOWN_TIME: no time bound
    title: str | None
    source_domain: str
    vector: bytes  # int8, DIMENSIONS long (transforms.lib.embeddings)
    names: tuple[str, ...]
    entities: tuple[str, ...] = ()  # the record's named entities, most mentioned first, for the story's label
    copies: tuple[str, ...] = ()


class Assignment(NamedTuple):
    record_id: str
    story_id: str
    similarity: float  # to the story's centroid when joining; 1.0 for the record that started it
    shared_names: tuple[str, ...]


def story_text(title: str | None, body: str) -> str:
    """What the story vector reads: the title and the first prose sentences."""
    sentences = split_sentences("\n".join(prose_paragraphs(body)), max_sentences=LEAD_SENTENCES)
    lead = " ".join(sentences) or body[:500]
    return f"{title}. {lead}" if title else lead


def story_names(body: str) -> tuple[str, ...]:
    return tuple(anchor_terms(split_sentences("\n".join(prose_paragraphs(body)), max_sentences=NAME_SENTENCES)))


def _days(time: str) -> float | None:
    if time == UNKNOWN_TIME:
        return None
    moment = parse_iso(time)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() / 86400.0


def order_key(unit: StoryUnit) -> tuple[bool, str, str]:
    """Dated units first, by time: an undated one (``newsbeam stories`` input without "published") has no
    time bound, and starting stories from it would let them grow past any window."""
    return (unit.time == UNKNOWN_TIME, unit.time, unit.record_id)


class _Story:
    __slots__ = ("centroid_sum", "evidence", "first", "last", "members", "names", "row", "story_id")

    def __init__(self, story_id: str, row: int):
        self.story_id = story_id
        self.row = row  # its row in StoryIndex's arrays
        self.first: float | None = None
        self.last: float | None = None
        self.centroid_sum = np.zeros(DIMENSIONS, dtype=np.float32)
        self.names: Counter[str] = Counter()
        self.members: list[StoryUnit] = []
        self.evidence: list[Assignment] = []

    def centroid(self) -> np.ndarray:
        norm = float(np.linalg.norm(self.centroid_sum))
        return self.centroid_sum / norm if norm else self.centroid_sum


class StoryIndex:
    """The stories met so far, in memory; ``add`` one unit at a time, in publication order.

    Every story is a row of a few arrays (centroid, first and last day, size, distinct names) and every
    name has a postings list of the stories that carry it, so scoring a unit against all open stories is
    two vector operations, not a Python loop over stories.
    """

    def __init__(self, thresholds: StoryThresholds = DEFAULT):
        self.thresholds = thresholds
        self._stories: list[_Story] = []
        self._by_id: dict[str, _Story] = {}
        self._story_of: dict[str, str] = {}  # record id (canonical or copy) -> story id
        self._centroids = np.zeros((0, DIMENSIONS), dtype=np.float32)  # unit length
        self._first = np.zeros(0)  # days since the epoch; NaN: no dated member
        self._last = np.zeros(0)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._name_counts = np.zeros(0, dtype=np.int64)
        self._postings: dict[str, array] = {}  # name -> rows of the stories that carry it

    def __len__(self) -> int:
        return len(self._stories)

    def story_of(self, record_id: str) -> str | None:
        return self._story_of.get(record_id)

    def add(self, unit: StoryUnit) -> Assignment:
        """The story ``unit`` joins (or starts). A record already in the index keeps its story."""
        known = self._story_of.get(unit.record_id)
        if known is not None:
            for copy in unit.copies:
                self.add_copy(unit.record_id, copy)
            return Assignment(unit.record_id, known, 1.0, ())
        best = self.best_story(unit)
        if best is None:
            story = self._new_story(unit.record_id)
            assignment = Assignment(unit.record_id, story.story_id, 1.0, ())
        else:
            story, assignment = best
        self._add_member(story, unit._replace(copies=()), assignment)
        for copy in unit.copies:
            self.add_copy(unit.record_id, copy)
        return assignment

    def _new_story(self, story_id: str) -> _Story:
        story = _Story(story_id, len(self._stories))
        self._stories.append(story)
        self._by_id[story_id] = story
        if story.row >= len(self._sizes):  # grow the arrays by doubling
            grow = max(16, len(self._sizes))
            self._centroids = np.vstack([self._centroids, np.zeros((grow, DIMENSIONS), dtype=np.float32)])
            self._first = np.concatenate([self._first, np.full(grow, np.nan)])
            self._last = np.concatenate([self._last, np.full(grow, np.nan)])
            self._sizes = np.concatenate([self._sizes, np.zeros(grow, dtype=np.int64)])
            self._name_counts = np.concatenate([self._name_counts, np.zeros(grow, dtype=np.int64)])
        return story

    def _add_member(self, story: _Story, unit: StoryUnit, evidence: Assignment) -> None:
        row = story.row
        day = _days(unit.time)
        if day is not None:
            story.first = day if story.first is None else min(story.first, day)
            story.last = day if story.last is None else max(story.last, day)
            self._first[row], self._last[row] = story.first, story.last
        story.centroid_sum += as_matrix(unit.vector)[0]
        self._centroids[row] = story.centroid()
        for name in unit.names:
            if name not in story.names:
                self._postings.setdefault(name, array("i")).append(row)
                self._name_counts[row] += 1
        story.names.update(unit.names)
        story.members.append(unit)
        story.evidence.append(evidence)
        self._sizes[row] += 1
        self._story_of[unit.record_id] = story.story_id
        for copy in unit.copies:
            self._story_of[copy] = story.story_id

    def best_story(self, unit: StoryUnit) -> tuple[_Story, Assignment] | None:
        """The open story of highest score, if that reaches ``join_score`` (ties: the lowest story id)."""
        thresholds = self.thresholds
        n = len(self._stories)
        if n == 0:
            return None
        # Rounded: a score must not depend on how many rows the matrix product ran over.
        similarity = np.round(self._centroids[:n] @ as_matrix(unit.vector)[0], 6)
        names = set(unit.names)
        overlap = self._name_overlap(sorted(names), n)
        score = np.round(similarity + thresholds.name_weight * overlap, 6)
        open_ = self._sizes[:n] < thresholds.max_members
        day = _days(unit.time)
        if day is not None:
            first, last = self._first[:n], self._last[:n]
            with np.errstate(invalid="ignore"):
                near = (first - thresholds.window_days <= day) & (day <= last + thresholds.window_days)
                bounded = np.maximum(last, day) - np.minimum(first, day) <= thresholds.max_span_days
            open_ &= np.isnan(first) | (near & bounded)
        score[~open_] = -np.inf
        top = float(score.max())
        if top < thresholds.join_score:
            return None
        story = min((self._stories[i] for i in np.flatnonzero(score == top)), key=lambda s: s.story_id)
        return story, Assignment(unit.record_id, story.story_id, float(similarity[story.row]),
                                 _shared_names(names, story))

    def _name_overlap(self, names: list[str], n: int) -> np.ndarray:
        """Per story, the overlap coefficient of the unit's names and the story's (shared / the smaller set).

        (Weighing names by how few stories carry them, so a town's name counts less than a person's, was
        tried: on reprints-dev's held-out folds it lowered precision with the dates hidden, 0.988 -> 0.846.)"""
        shared = np.zeros(n)
        postings = [np.frombuffer(self._postings[name], dtype=np.int32) for name in names if name in self._postings]
        if postings:
            shared = np.bincount(np.concatenate(postings), minlength=n)[:n].astype(np.float64)
        return shared / np.maximum(np.minimum(len(names), self._name_counts[:n]), 1)

    def join(self, unit: StoryUnit, story_id: str) -> Assignment:
        """``unit`` joins story ``story_id`` whatever its score: a stream's late original joins the story its
        copy started (a copy is always in its original's story)."""
        story = self._by_id[story_id]
        similarity = float(np.round(self._centroids[story.row] @ as_matrix(unit.vector)[0], 6))
        assignment = Assignment(unit.record_id, story_id, similarity, _shared_names(set(unit.names), story))
        self._add_member(story, unit._replace(copies=()), assignment)
        for copy in unit.copies:
            self.add_copy(unit.record_id, copy)
        return assignment

    def add_copy(self, canonical_id: str, copy_id: str) -> str | None:
        """A copy joins its canonical record's story; None when that record is not (or no longer) here.

        ``canonical_id`` may itself be a copy (an exact duplicate of a reprint): the new copy is listed with
        the member that holds it."""
        story_id = self._story_of.get(canonical_id)
        if story_id is None:
            return None
        story = self._by_id[story_id]
        for i, member in enumerate(story.members):
            if (member.record_id == canonical_id or canonical_id in member.copies) and copy_id not in member.copies:
                story.members[i] = member._replace(copies=(*member.copies, copy_id))
                break
        self._story_of[copy_id] = story_id
        return story_id

    def make_copy(self, record_id: str, canonical_id: str) -> tuple[list[str], str | None]:
        """``record_id`` is now a copy of ``canonical_id``: it (with its own copies, if it was a member)
        leaves its story and is listed with ``canonical_id``. Returns the ids whose story changed and the
        story they left (``[]`` and None when ``canonical_id`` is in no story or nothing changed story).

        A stream needs it when dedup re-roots a cluster: the record that arrived first (and started or
        joined a story) turns out to be a copy of a later arrival. A rebuild of the index, but re-roots are
        rare."""
        source_id, target_id = self._story_of.get(record_id), self._story_of.get(canonical_id)
        if target_id is None or record_id == canonical_id:
            return [], None
        if source_id is None:
            self.add_copy(canonical_id, record_id)
            return [record_id], None
        source = self._by_id[source_id]
        followers = [record_id]
        kept: list[tuple[StoryUnit, Assignment]] = []
        for member, evidence in zip(source.members, source.evidence):
            if member.record_id == record_id:
                followers.extend(member.copies)
            else:
                kept.append((member._replace(copies=tuple(c for c in member.copies if c != record_id)), evidence))
        source.members, source.evidence = [m for m, _ in kept], [e for _, e in kept]
        target = self._by_id[target_id]
        for i, member in enumerate(target.members):
            if member.record_id == canonical_id or canonical_id in member.copies:
                extra = tuple(c for c in followers if c not in member.copies)
                target.members[i] = member._replace(copies=(*member.copies, *extra))
                break
        self._rebuild([s for s in self._stories if s.members])
        return ([] if source_id == target_id else followers), source_id

    def oldest_last(self) -> float | None:
        """The earliest "last report" of any story, in seconds since the epoch (None: nothing dated)."""
        lasts = [s.last for s in self._stories if s.last is not None]
        return min(lasts) * 86400.0 if lasts else None

    def member_row(self, record_id: str) -> dict:
        """A log row (``apply`` replays it): one member, as it is now, with the evidence that joined it."""
        story = self._by_id[self._story_of[record_id]]
        for member, evidence in zip(story.members, story.evidence):
            if member.record_id == record_id:
                return _member_row(story.story_id, member, evidence)
        raise KeyError(f"{record_id} is a copy, not a member")

    @staticmethod
    def copy_row(canonical_id: str, copy_id: str) -> dict:
        return {"op": "copy", "canonical_id": canonical_id, "copy_id": copy_id}

    @staticmethod
    def recopy_row(record_id: str, canonical_id: str) -> dict:
        return {"op": "recopy", "record_id": record_id, "canonical_id": canonical_id}

    def log_rows(self) -> list[dict]:
        """Rows that rebuild this index through ``apply``, in order: a log rewritten after expiry."""
        return [_member_row(s.story_id, member, evidence) for s in self._stories
                for member, evidence in zip(s.members, s.evidence)]

    def apply(self, row: dict) -> None:
        """Replay one log row: a ``member`` (joined a story), a ``copy`` or a ``recopy`` (``make_copy``)."""
        op = row["op"]
        if op == "copy":
            self.add_copy(row["canonical_id"], row["copy_id"])
        elif op == "recopy":
            self.make_copy(row["record_id"], row["canonical_id"])
        elif op == "member":
            story = self._by_id.get(row["story_id"]) or self._new_story(row["story_id"])
            member = _unit_from_fields(row["unit"])
            record_id, story_id, similarity, shared = row["evidence"]
            self._add_member(story, member, Assignment(record_id, story_id, similarity, tuple(shared)))
        else:
            raise ValueError(f"unknown story log row {op!r}")

    def expire(self, newest: str) -> int:
        """Forget stories with no report within ``keep_days`` of ``newest``; how many were forgotten."""
        newest_day = _days(newest)
        if newest_day is None:
            return 0
        cutoff = newest_day - self.thresholds.keep_days
        kept = [s for s in self._stories if s.last is None or s.last >= cutoff]
        forgotten = len(self._stories) - len(kept)
        if forgotten:
            self._rebuild(kept)
        return forgotten

    def _rebuild(self, stories: list[_Story]) -> None:
        thresholds = self.thresholds
        self.__init__(thresholds)
        for old in stories:
            story = self._new_story(old.story_id)
            for member, evidence in zip(old.members, old.evidence):
                self._add_member(story, member, evidence)

    def rows(self, story_ids: Iterable[str] | None = None) -> list[Story]:
        wanted = sorted(self._by_id) if story_ids is None else sorted(set(story_ids) & self._by_id.keys())
        return [story_row(self._by_id[i]) for i in wanted]

    def to_bytes(self) -> bytes:
        stories = [{
            "story_id": story.story_id,
            "members": [[*_unit_fields(m), base64.b64encode(m.vector).decode("ascii")] for m in story.members],
            "evidence": [list(e) for e in story.evidence],
        } for story in self._stories]
        document = json.dumps({"format": FORMAT_VERSION, "stories": stories}, separators=(",", ":"))
        return zlib.compress(document.encode("utf-8"), 6)

    @classmethod
    def from_bytes(cls, data: bytes, thresholds: StoryThresholds = DEFAULT) -> StoryIndex:
        saved = json.loads(zlib.decompress(data).decode("utf-8"))
        if saved.get("format") != FORMAT_VERSION:
            raise ValueError(f"story index format {saved.get('format')!r}, expected {FORMAT_VERSION}")
        index = cls(thresholds)
        for saved_story in saved["stories"]:
            story = index._new_story(saved_story["story_id"])
            for fields, (record_id, story_id, similarity, shared) in zip(saved_story["members"],
                                                                         saved_story["evidence"]):
                member = _unit_from_fields(fields)
                index._add_member(story, member, Assignment(record_id, story_id, similarity, tuple(shared)))
        return index


def _shared_names(names: set[str], story: _Story) -> tuple[str, ...]:
    """The names a unit shares with a story, the story's most carried first: the evidence shown."""
    common = names.intersection(story.names)
    return tuple(sorted(common, key=lambda name: (-story.names[name], name))[:MAX_SHARED_NAMES_SHOWN])


def _member_row(story_id: str, member: StoryUnit, evidence: Assignment) -> dict:
    return {"op": "member", "story_id": story_id, "evidence": list(evidence),
            "unit": [*_unit_fields(member), base64.b64encode(member.vector).decode("ascii")]}


def _unit_fields(unit: StoryUnit) -> list:
    return [unit.record_id, unit.time, unit.title, unit.source_domain, list(unit.names), list(unit.entities),
            list(unit.copies)]


def _unit_from_fields(fields: list) -> StoryUnit:
    record_id, time, title, source_domain, names, entities, copies, vector = fields
    return StoryUnit(record_id, time, title, source_domain, base64.b64decode(vector), tuple(names), tuple(entities),
                     tuple(copies))


def assign_stories(units: Iterable[StoryUnit], index: StoryIndex | None = None
                   ) -> tuple[list[Assignment], StoryIndex]:
    """Every unit's story, visiting them in publication order, on top of ``index`` (a new one by default)."""
    index = index if index is not None else StoryIndex()
    return [index.add(unit) for unit in sorted(units, key=order_key)], index


def story_row(story: _Story) -> Story:
    members = sorted(zip(story.members, story.evidence), key=lambda m: order_key(m[0]))
    times = [m.time for m, _ in members if m.time != UNKNOWN_TIME]
    first_day = story.first
    vectors = np.vstack([as_matrix(m.vector) for m, _ in members])
    central = members[int(np.argmax(vectors @ story.centroid()))][0]
    titled = [m for m, _ in members if m.title]
    label = central.title or (titled[0].title if titled else None)
    entities: Counter[str] = Counter()
    for member, _ in members:
        entities.update(member.entities)
    rows = []
    for member, evidence in members:
        day = _days(member.time)
        hours = None if day is None or first_day is None else round((day - first_day) * 24.0, 2)
        rows.append(StoryMember(member.record_id, member.title, member.source_domain, member.time,
                                list(member.copies), evidence.similarity, list(evidence.shared_names), hours))
    return Story(
        story_id=story.story_id,
        first_published=min(times) if times else UNKNOWN_TIME,
        last_published=max(times) if times else UNKNOWN_TIME,
        label=label,
        records=len(members),
        copies=sum(len(m.copies) for m, _ in members),
        outlets=sorted({m.source_domain for m, _ in members if m.source_domain}),
        reprint_clusters=[m.record_id for m, _ in members if m.copies],
        independent_records=[m.record_id for m, _ in members if not m.copies],
        top_entities=[name for name, _ in sorted(entities.items(), key=lambda e: (-e[1], e[0]))[:TOP_ENTITIES]],
        members=rows,
    )

