"""Stage 5, streaming form: dedup across an unbounded stream, in keyed state with expiry timers.

The batch form (``transforms.dedup``) sees every article of a run at once
and groups them. A stream never sees "all": each article is compared on
arrival with what came before, kept in keyed state and dropped after the
dedup horizon, so state stays bounded however long the job runs.

``StreamExactDedup``: ``PCollection[FeedEntry]`` ->
    ``{"unique": FeedEntry, "duplicates": NewsRecord, "seen": FeedEntry}``.
    State per canonical URL, then per GUID: the first entry to arrive.
    The same entry met again (a feed polled again, a message redelivered) is
    ``seen`` (counted ``entries.seen_before``); another entry with that URL or
    GUID is a duplicate of the first. Keys expire ``horizon`` after they were
    last met (an event-time timer).

``StreamReprintDedup``: ``PCollection[Article]`` ->
    ``{"canonical": NewsRecord, "duplicates": NewsRecord, "corrections": DedupCorrection,
    "dead_letters": DeadLetter}``.
    One ``ReprintIndex`` (the same verdict logic as batch) in the state of
    one key: every article must meet every other, and news volumes (a few
    articles a second at most) fit one key. The state is an append-only log
    of index rows; the DoFn keeps the decoded index in memory and trusts it
    only while the state's version token matches, so a key moving between
    workers rebuilds from state. An event-time timer evicts articles
    published more than the horizon before the watermark and rewrites the log.

Out-of-order arrival: when a reprint arrives before its original, the
reprint is emitted as canonical (nothing earlier was known); when the
original arrives, it is canonical and each article of the reprint's cluster
gets a ``DedupCorrection`` naming its new canonical copy. Consumers apply
corrections by record id (see the README's streaming section).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder, StrUtf8Coder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.typehints import KV
from apache_beam.utils.timestamp import Duration, Timestamp

from schemas.records import Article, DedupCorrection, DedupInfo, DedupNode, DocFeatures, FeedEntry, NewsRecord
from transforms.deadletters import count, with_dead_letters
from transforms.dedup import FeaturesFn, entry_node, guid_key
from transforms.lib.embeddings import LazySentenceEncoder
from transforms.lib.records import record_from_article, record_from_entry
from transforms.lib.reprint_index import ReprintIndex, Reroot, bucket_ids
from transforms.lib.times import utc_now
from transforms.stream_state import LoggedIndexCache, days, watermark_iso
from transforms.tagging import split, tag

INDEX_KEY = "reprint-index"


class ExactStateFn(beam.DoFn):
    """(key, FeedEntry) -> tagged unique / duplicates / seen, by the first entry met under the key."""

    FIRST = ReadModifyWriteStateSpec("first", beam.coders.registry.get_coder(DedupNode))
    ENTRY_KEYS = BagStateSpec("entry_keys", StrUtf8Coder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, kind: str, horizon_days: float):
        self._kind = kind
        self._horizon = days(horizon_days)

    def process(self, element: tuple[str, FeedEntry], timestamp=beam.DoFn.TimestampParam,
                first=beam.DoFn.StateParam(FIRST), entry_keys=beam.DoFn.StateParam(ENTRY_KEYS),
                expiry=beam.DoFn.TimerParam(EXPIRY)) -> Iterable[Any]:
        key, entry = element
        expiry.set(timestamp + self._horizon)  # remembered for the horizon after it was last met
        known = first.read()
        if known is None:
            first.write(entry_node(entry))
            entry_keys.add(entry.entry_key)
            yield tag("unique", entry)
            return
        if entry.entry_key == known.entry_key or entry.entry_key in set(entry_keys.read()):
            count("entries.seen_before")
            yield tag("seen", entry)
            return
        entry_keys.add(entry.entry_key)
        count(f"dedup.duplicate.{self._kind}")
        info = DedupInfo(self._kind, 1.0, known.id, [f"{self._kind}={key.split(':', 1)[1][:200]}",
                                                     f"matched_entry={known.entry_key}"], None)
        yield tag("duplicates", record_from_entry(entry, known.id, info))

    @on_timer(EXPIRY)
    def expire(self, first=beam.DoFn.StateParam(FIRST), entry_keys=beam.DoFn.StateParam(ENTRY_KEYS)) -> None:
        count("dedup.exact_keys_expired")
        first.clear()
        entry_keys.clear()


def _guid_or_pass(entry: FeedEntry) -> Any:
    key = guid_key(entry)
    return tag("keyed", (key, entry)) if key else tag("no_guid", entry)


class StreamExactDedup(beam.PTransform):
    def __init__(self, horizon_days: float = 7.0):
        super().__init__()
        self._horizon_days = horizon_days

    def expand(self, entries: beam.PCollection) -> dict[str, beam.PCollection]:
        by_url = split(
            entries
            | "KeyByUrl" >> beam.Map(lambda e: (f"url:{e.canonical_url}", e)).with_output_types(KV[str, FeedEntry])
            | "FirstByUrl" >> beam.ParDo(ExactStateFn("same_url", self._horizon_days)),
            "ByUrl", "unique", "duplicates", "seen",
            types={"unique": FeedEntry, "duplicates": NewsRecord, "seen": FeedEntry})
        routed = split(by_url["unique"] | "GuidOrPass" >> beam.Map(_guid_or_pass), "Guid", "keyed", "no_guid",
                       types={"keyed": KV[str, FeedEntry], "no_guid": FeedEntry})
        by_guid = split(
            routed["keyed"] | "FirstByGuid" >> beam.ParDo(ExactStateFn("same_guid", self._horizon_days)),
            "ByGuid", "unique", "duplicates", "seen",
            types={"unique": FeedEntry, "duplicates": NewsRecord, "seen": FeedEntry})
        return {
            "unique": (routed["no_guid"], by_guid["unique"]) | "UniqueEntries" >> beam.Flatten(),
            "duplicates": (by_url["duplicates"], by_guid["duplicates"]) | "ExactDuplicates" >> beam.Flatten(),
            "seen": (by_url["seen"], by_guid["seen"]) | "SeenEntries" >> beam.Flatten(),
        }


END_OF_TIME = "9999-12-31T23:59:59Z"


class ReprintStateFn(beam.DoFn):
    """(INDEX_KEY, (Article, DocFeatures)) -> tagged canonical / duplicates / corrections."""

    LOG = BagStateSpec("log", BytesCoder())
    VERSION = ReadModifyWriteStateSpec("version", StrUtf8Coder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_days: float = 7.0, meaning_checks: bool = True, model_path: str | None = None):
        self._horizon_days = horizon_days
        self._meaning_checks = meaning_checks
        self._model_path = model_path
        self._cache = LoggedIndexCache(partial(ReprintIndex, self._horizon_days), "dedup.index_rebuilt_from_state")
        self._embed: LazySentenceEncoder | None = None

    def setup(self) -> None:
        self._embed = LazySentenceEncoder(self._model_path, on_encode=lambda: count("dedup.articles_embedded"))

    def process(self, element: tuple[str, tuple[Article, DocFeatures]], timestamp=beam.DoFn.TimestampParam,
                log=beam.DoFn.StateParam(LOG), version=beam.DoFn.StateParam(VERSION),
                expiry=beam.DoFn.TimerParam(EXPIRY)) -> Iterable[Any]:
        key, (article, features) = element
        index = self._cache.read(key, log, version)
        verdict, moved = index.arrive(features, self._embed if self._meaning_checks else None)
        log.add(json.dumps(index.row(features.node.entry_key, bucket_ids(features))).encode("utf-8"))
        for reroot in moved:
            log.add(json.dumps(ReprintIndex.root_row(reroot)).encode("utf-8"))
        self._cache.saved(key, index, version)
        expiry.set(max(timestamp, self._next_expiry(index)))
        record = record_from_article(article, verdict.duplicate_of, verdict.info)
        if verdict.duplicate_of is None:
            count("dedup.canonical")
            yield tag("canonical", record)
        else:
            count(f"dedup.duplicate.{verdict.info.kind}")
            yield tag("duplicates", record)
        for reroot in moved:
            count("dedup.corrections")
            yield tag("corrections", correction(reroot))

    def _next_expiry(self, index: ReprintIndex) -> Timestamp:
        return Timestamp(index.oldest_published() or 0.0) + days(self._horizon_days)

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam, log=beam.DoFn.StateParam(LOG),
               version=beam.DoFn.StateParam(VERSION), expiry=beam.DoFn.TimerParam(EXPIRY)) -> None:
        index = self._cache.read(key, log, version)
        evicted = index.evict_before(watermark_iso(fired - days(self._horizon_days)) or END_OF_TIME)
        count("dedup.index_evicted", evicted)
        log.clear()  # the log is rewritten from what is left, so state shrinks with the index
        for row in index.rows():
            log.add(json.dumps(row).encode("utf-8"))
        self._cache.saved(key, index, version)
        if len(index):
            expiry.set(max(fired + Duration(seconds=1), self._next_expiry(index)))


def correction(reroot: Reroot) -> DedupCorrection:
    node, match = reroot.node, reroot.match
    previous = None if reroot.previous_root.entry_key == node.entry_key else reroot.previous_root.id
    if match is not None:
        info = DedupInfo(match.kind, match.score, match.earlier.id,
                         [*match.evidence, f"matched_entry={match.earlier.entry_key}",
                          "corrected=earlier_copy_arrived"],
                         None)
    else:
        info = DedupInfo("cluster_moved", 1.0, reroot.previous_root.id,
                         [f"previous_canonical={reroot.previous_root.id}", "corrected=earlier_copy_arrived"], None)
    return DedupCorrection(node.id, node.entry_key, reroot.root.id, previous, info, utc_now())


class StreamReprintDedup(beam.PTransform):
    def __init__(self, horizon_days: float = 7.0, meaning_checks: bool = True, model_path: str | None = None):
        super().__init__()
        self._fn = ReprintStateFn(horizon_days, meaning_checks, model_path)

    def expand(self, articles: beam.PCollection) -> dict[str, beam.PCollection]:
        with_features, dead = with_dead_letters(articles, FeaturesFn(), "Features")
        verdicts = split(
            with_features
            | "OneIndex" >> beam.Map(lambda af: (INDEX_KEY, af)).with_output_types(KV[str, Any])
            | "IndexVerdicts" >> beam.ParDo(self._fn),
            "Verdicts", "canonical", "duplicates", "corrections",
            types={"canonical": NewsRecord, "duplicates": NewsRecord, "corrections": DedupCorrection})
        return {**verdicts, "dead_letters": dead}


__all__ = ["StreamExactDedup", "StreamReprintDedup", "correction"]
