"""The streaming graph: work messages (and polled feeds) -> entries -> pages -> articles -> verdicts -> topics/files.

The same stage transforms as batch (``pipeline.graph``) for feeds, pages,
extraction and entities; dedup and stories are the stateful forms
(``transforms.stream_dedup``, ``transforms.stream_stories``) because a
stream never sees all its articles at once. Transform labels are stable names: they identify state when a
running Dataflow job is updated (``--update``); change them only with a
``--transform_name_mapping``.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.transforms.periodicsequence import PeriodicImpulse

from pipeline.graph import feed_list_dead_letter
from pipeline.options import RunConfig
from schemas.records import PageRequest
from transforms.bigquery import WriteBigQuery, write_method
from transforms.entities import EnrichEntities, SpacyNerModelHandler
from transforms.extract import ExtractArticles
from transforms.feeds import ReadFeeds
from transforms.lib.feedlist import FeedListProblem
from transforms.pages import FetchPages
from transforms.robots import CachedRobotsFn
from transforms.sinks import Tally, dead_letter_tallies, duplicate_tally, record_tally
from transforms.stream_dedup import StreamExactDedup, StreamReprintDedup
from transforms.stream_io import ParseWork, PublishTable, WriteWindowedTable
from transforms.stream_stories import StreamStories


def feeds_due(_tick: Any, feed_urls: list[str]) -> list[str]:
    """The feeds one poll tick asks for: every listed feed (per-feed schedules belong to `--state` runs)."""
    return list(feed_urls)


def build_streaming(p: beam.Pipeline, config: RunConfig, feed_urls: list[str],
                    problems: list[FeedListProblem] | None = None, impulse_polling: bool = True
                    ) -> dict[str, beam.PCollection]:
    """Add the streaming graph to ``p``; returns its final PCollections (for tests and sinks).

    ``impulse_polling``: poll ``feed_urls`` every ``--poll_interval`` with
    ``PeriodicImpulse`` (Dataflow, Flink). Local runners cannot expand it;
    their launcher publishes the ticks as messages instead
    (``pipeline.local_streaming.FeedTicker``).
    """
    stream = config.streaming
    feed_sources, entry_sources, dead_sources = [], [], []
    if problems:
        dead_sources.append(p | "FeedListProblems" >> beam.Create(problems)
                            | "FeedListDeadLetters" >> beam.Map(feed_list_dead_letter))
    if stream.input_subscription:
        messages = p | "ReadWork" >> beam.io.ReadFromPubSub(subscription=stream.input_subscription,
                                                            with_attributes=True)
        work = messages | "ParseWork" >> ParseWork()
        feed_sources.append(work["feeds"])
        entry_sources.append(work["entries"])
        dead_sources.append(work["dead_letters"])
    if impulse_polling and stream.poll_interval and feed_urls:
        feed_sources.append(
            p
            | "PollTicks" >> PeriodicImpulse(fire_interval=stream.poll_interval)
            | "FeedsDue" >> beam.FlatMap(feeds_due, feed_urls))
    if not feed_sources and not entry_sources:
        raise ValueError("a streaming run needs --input_subscription, or --feeds with --poll_interval")
    return build_from_work(p, config, feed_sources, entry_sources, dead_sources)


def build_from_work(p: beam.Pipeline, config: RunConfig, feed_sources: list[beam.PCollection],
                    entry_sources: list[beam.PCollection], dead_sources: list[beam.PCollection]
                    ) -> dict[str, beam.PCollection]:
    """Everything after the sources: the part tests drive with ``TestStream``."""
    horizon = config.dedup_horizon_days
    feed_urls = feed_sources | "AllFeedUrls" >> beam.Flatten() if feed_sources else p | "NoFeeds" >> beam.Create([])
    feeds = feed_urls | "ReadFeeds" >> ReadFeeds(config.fetch, config.fetch_concurrency)
    entries = [feeds["entries"], *entry_sources] | "AllEntries" >> beam.Flatten()
    exact = entries | "ExactDedup" >> StreamExactDedup(horizon)
    requests = exact["unique"] | "Robots" >> beam.ParDo(CachedRobotsFn(config.fetch, config.robots)
                                                        ).with_output_types(PageRequest)
    pages = {"requests": requests} | "FetchPages" >> FetchPages(config.fetch, config.fetch_concurrency,
                                                                 policy=config.robots)
    articles = pages["pages"] | "Extract" >> ExtractArticles(config.extract)
    dedup = articles["articles"] | "Dedup" >> StreamReprintDedup(horizon, meaning_checks=config.dedup)
    if config.entities:
        enriched = dedup["canonical"] | "Entities" >> EnrichEntities(
            SpacyNerModelHandler(config.spacy_model, max_chars=config.entity_chars))
    else:
        enriched = {"records": dedup["canonical"], "dead_letters": p | "NoEntityDeadLetters" >> beam.Create([])}
    records = enriched["records"]
    duplicates = (exact["duplicates"], dedup["duplicates"]) | "AllDuplicates" >> beam.Flatten()
    story_dead = []
    if config.stories:
        stories = ({"records": records, "duplicates": duplicates, "corrections": dedup["corrections"]}
                   | "Stories" >> StreamStories(config.story_thresholds))
        records, duplicates, story_dead = stories["records"], stories["duplicates"], [stories["dead_letters"]]
    dead_letters = ([*dead_sources, feeds["dead_letters"], pages["dead_letters"], articles["dead_letters"],
                     dedup["dead_letters"], enriched["dead_letters"], *story_dead] | "AllDeadLetters" >> beam.Flatten())
    outputs = {
        "records": records | "CountRecords" >> beam.ParDo(Tally(record_tally)),
        "duplicates": duplicates | "CountDuplicates" >> beam.ParDo(Tally(duplicate_tally)),
        "dead_letters": dead_letters | "CountDeadLetters" >> beam.ParDo(Tally(dead_letter_tallies)),
        "corrections": dedup["corrections"],
        "seen": exact["seen"],
    }
    if config.stories:
        outputs.update(stories=stories["stories"], story_corrections=stories["story_corrections"])
    write_streaming_outputs(config, outputs)
    return outputs


def write_streaming_outputs(config: RunConfig, outputs: dict[str, beam.PCollection]) -> None:
    stream = config.streaming
    if stream.output_topic:
        corrections = [outputs["corrections"]] + ([outputs["story_corrections"]] if "stories" in outputs else [])
        ((outputs["records"], *corrections)
         | "RecordsAndCorrections" >> beam.Flatten()
         | "PublishRecords" >> PublishTable(stream.output_topic))
    if stream.stories_topic and "stories" in outputs:
        outputs["stories"] | "PublishStories" >> PublishTable(stream.stories_topic)
    if stream.duplicates_topic:
        outputs["duplicates"] | "PublishDuplicates" >> PublishTable(stream.duplicates_topic)
    dead_letters = outputs["dead_letters"]
    # Corrections, and story rows (a story's row changes as reports join), are not rows to append: they stay on
    # the topics and in the files.
    if config.bigquery is not None:
        method = write_method(config.bigquery_method, streaming=True)
        rejected = ({name: outputs[name] for name in ("records", "duplicates", "dead_letters")}
                    | "BigQuery" >> WriteBigQuery(config.bigquery, method))
        dead_letters = (dead_letters, rejected) | "WithBigQueryRejected" >> beam.Flatten()
    if stream.dead_letter_topic:
        dead_letters | "PublishDeadLetters" >> PublishTable(stream.dead_letter_topic)
    if stream.window_seconds:
        for name in ("records", "duplicates", "dead_letters", "corrections", "stories", "story_corrections"):
            if name in outputs:
                outputs[name] | f"Files_{name}" >> WriteWindowedTable(config.output, name, stream.window_seconds)
