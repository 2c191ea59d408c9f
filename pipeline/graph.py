"""The pipeline graph: feed list -> entries -> pages -> articles -> verdicts -> records -> files.

Transform labels are stable names (they identify state when a running job is
updated); change them only with a migration note.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage

from pipeline.options import RunConfig
from pipeline.scheduled import RunState
from schemas.records import DeadLetter
from transforms.bigquery import WriteBigQuery, write_method
from transforms.deadletters import count
from transforms.dedup import Deduplicate, ExactEntryDedup, ExactVerdictsOnly, SkipSeenEntries
from transforms.entities import EnrichEntities, SpacyNerModelHandler
from transforms.extract import ExtractArticles
from transforms.feeds import ReadFeeds
from transforms.lib.feedlist import FeedListProblem
from transforms.lib.times import now, utc_now
from transforms.pages import FetchPages
from transforms.robots import FetchRobots, robots_origin
from transforms.sinks import WriteOutputs
from transforms.sources import SourceFigures
from transforms.stories import AssignStories
from transforms.stream_io import ParseWork

PORTABLE_SHARDS = 2  # output files per table when batching is portable (see transforms.batching)


def feed_list_dead_letter(problem: FeedListProblem) -> DeadLetter:
    count(f"dead_letter.feed.read_feed_list.{problem.reason}")
    where = f"{problem.source}:{problem.line}" if problem.line else problem.source
    return DeadLetter("read_feed_list", "feed", problem.value, "FeedListProblem", problem.reason,
                      f"{where}: {problem.reason}: {problem.value!r}", utc_now(), None)


def build(p: beam.Pipeline, config: RunConfig, feed_urls: list[str], problems: list[FeedListProblem],
          run_state: RunState | None = None, messages: list[PubsubMessage] | None = None) -> None:
    """Add the whole batch graph to ``p``; ``run_state`` is what earlier scheduled runs left (or None).

    ``messages``: work messages (``transforms.lib.messages``) handled with the feeds, as one micro-batch of
    a local stream (``pipeline.microbatch``): feeds they name are read, entries they carry join the feeds'.
    """
    listed = p | "FeedUrls" >> beam.Create(feed_urls).with_output_types(str)
    list_dead = (p | "FeedListProblems" >> beam.Create(problems)
                 | "FeedListDeadLetters" >> beam.Map(feed_list_dead_letter))
    message_dead: list[beam.PCollection] = []
    if messages is not None:
        work = p | "Messages" >> beam.Create(messages, reshuffle=False) | "ParseWork" >> ParseWork()
        listed = (listed, work["feeds"]) | "WithMessageFeeds" >> beam.Flatten()
        message_dead = [work["dead_letters"]]

    portable = config.portable_batching
    conditional = run_state.conditional_headers() if run_state else None
    feeds = listed | "ReadFeeds" >> ReadFeeds(config.fetch, config.fetch_concurrency, portable=portable,
                                              conditional=conditional)
    all_entries = feeds["entries"]
    if messages is not None:
        all_entries = (all_entries, work["entries"]) | "WithMessageEntries" >> beam.Flatten()
    if run_state is not None:
        fresh = all_entries | "SkipSeen" >> SkipSeenEntries(*run_state.seen_sets())
        new_entries, seen = fresh["new"], fresh["seen"]
    else:
        new_entries, seen = all_entries, p | "NothingSeen" >> beam.Create([])
    exact = new_entries | "ExactDedup" >> ExactEntryDedup()
    # robots.txt once per origin of the pages to fetch (those still fresh in the state are not asked again).
    robots_cached = run_state.robots_cache(config.robots.agent, now()) if run_state else None
    robots = (exact["unique"]
              | "RobotsOrigins" >> beam.FlatMap(robots_origin, config.robots)
              | "DistinctOrigins" >> beam.Distinct()
              | "Robots" >> FetchRobots(config.fetch, config.robots, config.fetch_concurrency, robots_cached,
                                        portable=portable))
    pages = ({"entries": exact["unique"], "robots": robots["robots"]}
             | "FetchPages" >> FetchPages(config.fetch, config.fetch_concurrency, portable=portable,
                                          policy=config.robots))
    articles = pages["pages"] | "Extract" >> ExtractArticles(config.extract)
    dedup_inputs = {
        "articles": articles["articles"],
        "entry_duplicates": exact["duplicates"],
        "entry_matches": exact["matches"],
    }
    if config.dedup:
        prior = run_state.reprints_path if run_state is not None else None
        dedup = dedup_inputs | "Dedup" >> Deduplicate(config.dedup_horizon_days, portable=portable,
                                                      prior_index_path=prior)
    else:
        dedup = dedup_inputs | "ExactOnly" >> ExactVerdictsOnly()
    if config.entities:
        ner = SpacyNerModelHandler(config.spacy_model, max_chars=config.entity_chars)
        enriched = dedup["canonical"] | "Entities" >> EnrichEntities(ner, portable)
    else:
        enriched = {"records": dedup["canonical"], "dead_letters": p | "NoEntityDeadLetters" >> beam.Create([])}

    records, duplicates = enriched["records"], dedup["duplicates"]
    story_outputs = {}
    story_dead = []
    if config.stories:
        prior_stories = run_state.stories_path if run_state is not None else None
        stories = ({"records": records, "duplicates": duplicates}
                   | "Stories" >> AssignStories(config.story_thresholds, portable, prior_index_path=prior_stories))
        records, duplicates = stories["records"], stories["duplicates"]
        story_outputs = {"stories": stories["stories"], "story_index": stories["index"]}
        story_dead = [stories["dead_letters"]]

    dead_letters = (
        list_dead, *message_dead, feeds["dead_letters"],
        robots["dead_letters"], pages["dead_letters"], articles["dead_letters"],
        dedup["dead_letters"], enriched["dead_letters"], *story_dead,
    ) | "AllDeadLetters" >> beam.Flatten()
    if config.bigquery is not None:
        method = write_method(config.bigquery_method, streaming=False)
        rejected = ({"records": records, "duplicates": duplicates, "dead_letters": dead_letters,
                     **({"stories": story_outputs["stories"]} if story_outputs else {})}
                    | "BigQuery" >> WriteBigQuery(config.bigquery, method))
        dead_letters = (dead_letters, rejected) | "WithBigQueryRejected" >> beam.Flatten()
    sources = ({"records": records, "duplicates": duplicates, "dead_letters": dead_letters}
               | "Sources" >> SourceFigures())
    {
        "records": records,
        "duplicates": duplicates,
        **story_outputs,
        "dead_letters": dead_letters,
        "sources": sources,
        "entries": all_entries,
        "seen": seen,
        "feed_status": feeds["feed_status"],
        "robots": robots["robots"],
    } | "Write" >> WriteOutputs(config.output, config.fmt, num_shards=PORTABLE_SHARDS if portable else 0)
