"""The ``newsbeam`` command: ``run`` (the pipeline) and ``demo`` (the pipeline on the bundled sample)."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import DirectOptions, GoogleCloudOptions, PipelineOptions, StandardOptions

from pipeline import runs, scheduled
from pipeline.dedup_harness import build_dedup, build_stories
from pipeline.graph import build
from pipeline.local_streaming import FeedTicker, input_topic, wait_until_stopped
from pipeline.microbatch import LocalStream, first_line, stream_state
from pipeline.options import RunConfig, add_run_arguments, add_story_arguments, config_from_args, story_thresholds
from pipeline.progress import Progress, counts_in_process
from pipeline.siteserver import SiteServer
from pipeline.state import StateError, StateStore
from pipeline.streaming import build_streaming
from pipeline.summary import (
    read_counters,
    read_rows,
    read_tallies,
    render,
    summarise,
    summarise_robots,
    write_summary,
)
from schemas.derive import arrow_schema, bigquery_schema, json_schema
from transforms.bigquery import TABLES, write_method
from transforms.deadletters import keep_local_tally, local_tally
from transforms.lib.feedlist import FeedList, read_feed_list
from transforms.lib.times import now

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
OUTPUT_TABLES = ("records", "duplicates", "dead_letters", "seen_before", "feed_status", "robots")
# Runners Beam ships but does not know by short name.
RUNNER_ALIASES = {"DaskRunner": "pipeline.dask_runner.DaskRunner"}  # Beam's, with bounded partitions
# Runners that drop what a DoFn emits in finish_bundle (so BatchElements and RunInference lose data).
NEEDS_PORTABLE_BATCHING = {"pipeline.dask_runner.DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner"}
# Runners whose streaming job lives in this process (the launcher waits for Ctrl-C).
LOCAL_STREAMING_RUNNERS = {"BundleBasedDirectRunner", "DirectRunner", "SwitchingDirectRunner"}
# --streaming with these (or no --runner) is the local stream: micro-batches on FnApiRunner, acknowledged after
# their output (pipeline.microbatch). --runner BundleBasedDirectRunner runs Beam's streaming graph instead.
MICRO_BATCH_RUNNERS = {None, "DirectRunner", "SwitchingDirectRunner"}
EXIT_INVARIANT_FAILED = 3
EXIT_STAGE_FAILED = 4

_LOG = logging.getLogger("newsbeam")


def choose_runner(options: PipelineOptions) -> str:
    """Pick Beam's Python runner explicitly when none (or plain DirectRunner) is asked for.

    Beam 2.77's DirectRunner first tries to download and start Prism, which
    fails without network; FnApiRunner (batch) and BundleBasedDirectRunner
    (streaming) are what it falls back to, so we go there directly.
    """
    standard = options.view_as(StandardOptions)
    if standard.runner in (None, "DirectRunner", "SwitchingDirectRunner"):
        standard.runner = "BundleBasedDirectRunner" if standard.streaming else "FnApiRunner"
    standard.runner = RUNNER_ALIASES.get(standard.runner, standard.runner)
    return standard.runner


def check_bigquery(config: RunConfig, options: PipelineOptions) -> None:
    """A batch BigQuery write by file loads stages its files on GCS: refuse a run that has nowhere to put them."""
    if config.bigquery is None or write_method(config.bigquery_method, streaming=False) != "FILE_LOADS":
        return
    temp = options.view_as(GoogleCloudOptions).temp_location or ""
    if not temp.startswith("gs://"):
        raise ValueError("--bigquery_table with file loads (the batch default) needs --temp_location gs://BUCKET/tmp "
                         "(or --bigquery_method STREAMING_INSERTS)")


_ON_INTERRUPT: list[Callable[[], None]] = []  # what a Ctrl-C must undo before the process leaves


def _interrupted(_signum: int, _frame: object) -> None:
    """Ctrl-C in a batch run: undo this run's partial output, say so in one line, leave with 130.

    Leaving at once (``os._exit``) rather than raising KeyboardInterrupt through Beam: Beam logs it as an
    ERROR with a traceback from inside whichever DoFn was running, and the interpreter then waits for the
    fetch threads' requests to finish. A ``--state`` being run is safe: its new generation is written only
    after the pipeline ends, and a lock whose process is gone is taken as stale.
    """
    for undo in reversed(_ON_INTERRUPT):
        try:
            undo()
        except Exception as error:  # still leave; say what could not be undone
            print(f"newsbeam: could not remove this run's folder: {error}", file=sys.stderr)
    print("newsbeam: interrupted; this run's folder is removed and the state is as it was before the run",
          file=sys.stderr, flush=True)
    os._exit(130)


def check_writable(output: str) -> None:
    """Fail before any work, in one line, when ``output`` cannot be written."""
    probe = FileSystems.join(output, f".newsbeam-write-test-{os.getpid()}")
    try:
        if not FileSystems.exists(output):
            FileSystems.mkdirs(output)
        with FileSystems.create(probe) as handle:
            handle.write(b"ok")
        FileSystems.delete([probe])
    except Exception as error:  # any filesystem's refusal: permissions, a file in the way, no such bucket
        reason = getattr(error, "exception_details", None) or error
        raise ValueError(f"--output {output!r} cannot be written: {first_line(reason)}") from None


def is_streaming(beam_args: list[str]) -> bool:
    return bool(PipelineOptions(beam_args).view_as(StandardOptions).streaming)


def run_streaming(config: RunConfig, beam_args: list[str], stop: threading.Event | None = None
                  ) -> tuple[int, dict[str, Any]]:
    """Run the streaming pipeline until it is cancelled (Ctrl-C, or ``stop`` set); returns (exit code, summary).

    On a local runner the job lives in this process: it runs until stopped,
    then the summary is printed from its counters. On a remote runner
    (Dataflow, Flink) the job is submitted and this returns at once.
    """
    feed_list = read_feed_list(config.feeds) if config.feeds else FeedList([], [])
    options = PipelineOptions(beam_args)
    options.view_as(StandardOptions).streaming = True
    if options.view_as(StandardOptions).runner in MICRO_BATCH_RUNNERS:
        return run_local_stream(config, beam_args, feed_list, stop)
    if config.state:
        raise ValueError("--state is for scheduled batch runs and the local stream; a streaming job on a runner "
                         "keeps its state in the runner")
    runner = choose_runner(options)
    _LOG.info("streaming on %s: %d feeds, subscription %s", runner, len(feed_list.urls),
              config.streaming.input_subscription)
    local = runner in LOCAL_STREAMING_RUNNERS
    polling = bool(config.streaming.poll_interval and feed_list.urls)
    topic = input_topic(config.streaming.input_subscription) if local else None
    if local:
        keep_local_tally()  # see transforms.deadletters: this runner's streaming metrics lose counts
        if polling and topic is None:
            raise ValueError("--poll_interval on a local runner needs --input_subscription (and permission to "
                             "read it): the launcher publishes the poll ticks there, because DirectRunner cannot "
                             "run PeriodicImpulse")
    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    build_streaming(pipeline, config, feed_list.urls, feed_list.problems, impulse_polling=polling and not local)
    result = pipeline.run()
    if not local:
        print(f"newsbeam: streaming job submitted to {runner}; it runs until cancelled there")
        return 0, {}
    print(f"newsbeam: streaming on {runner}; Ctrl-C stops it", flush=True)
    ticker = None
    if polling and topic is not None:
        ticker = FeedTicker(topic, feed_list.urls, config.streaming.poll_interval)
        ticker.start()
    failure = wait_until_stopped(result, stop, topic)
    if ticker is not None:
        ticker.stop()
    counters = local_tally() or {}
    summary = summarise(counters, len(feed_list.urls) + len(feed_list.problems), time.monotonic() - started)
    summary["streaming"] = {
        "messages": counters.get("messages.in", 0),
        "message_entries": counters.get("messages.entries", 0),
        "message_feeds": counters.get("messages.feeds", 0),
        "corrections": counters.get("dedup.corrections", 0),
        "story_corrections": counters.get("stories.corrections", 0),
        "copies_without_story": counters.get("stories.copies_without_story", 0),
    }
    summary["runner"] = runner
    print(render(summary))
    if failure is not None:
        print(f"newsbeam: the streaming pipeline failed: {failure}", file=sys.stderr)
        return 1, summary
    return 0, summary


def run_local_stream(config: RunConfig, beam_args: list[str], feed_list: FeedList,
                     stop: threading.Event | None = None) -> tuple[int, dict[str, Any]]:
    """The local stream (``pipeline.microbatch``): micro-batches of work, acknowledged after their output."""
    stream = config.streaming
    if not stream.input_subscription and not (stream.poll_interval and feed_list.urls):
        raise ValueError("a streaming run needs --input_subscription, or --feeds with --poll_interval")
    if config.fmt != "jsonl":
        raise ValueError("the local stream writes JSON lines (--format jsonl); Parquet is for batch runs")
    check_writable(config.output)
    stop = stop or threading.Event()
    stream_loop = LocalStream(config, beam_args, feed_list, stop, run_once)
    started = time.monotonic()
    interrupted = _stop_on_ctrl_c(stop)
    print("newsbeam: streaming on this machine in micro-batches (FnApiRunner; a message is acknowledged after "
          "its output); Ctrl-C stops it", flush=True)
    try:
        with stream_state(config) as store:
            stream_loop.run(store)
    finally:
        if interrupted is not None:
            signal.signal(signal.SIGINT, interrupted)
    counters = dict(stream_loop.totals)
    summary = summarise(counters, len(feed_list.urls) + len(feed_list.problems), time.monotonic() - started)
    summary["streaming"] = {
        "mode": "micro-batches",
        "messages": counters.get("messages.in", 0),
        "message_entries": counters.get("messages.entries", 0),
        "message_feeds": counters.get("messages.feeds", 0),
        "corrections": 0,
        "batches": stream_loop.batches,
        "failed_batch_runs": stream_loop.failed_runs,
        "poisoned_messages": stream_loop.poisoned,
        "pubsub_outages": stream_loop.connection.outages,
        "pubsub_outage_seconds": round(stream_loop.connection.seconds, 1),
        "files": stream_loop.files_written,
    }
    summary["runner"] = "FnApiRunner (micro-batches)"
    print(render(summary))
    return 0, summary


def _stop_on_ctrl_c(stop: threading.Event) -> Any:
    """In the main thread, the first Ctrl-C lets the running micro-batch finish, a second stops at once."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nnewsbeam: stopping the stream (Ctrl-C) after the micro-batch in progress; Ctrl-C again stops "
              "at once (its messages are delivered again)", flush=True)
        stop.set()

    return signal.signal(signal.SIGINT, handler)


def run(config: RunConfig, beam_args: list[str]) -> tuple[int, dict[str, Any]]:
    """Run the batch pipeline (with its state, for scheduled runs); returns (exit code, summary)."""
    if not config.state:
        code, summary = run_once(config, beam_args, None)
        finish(config, summary)
        return code, summary
    store = StateStore(config.state, keep=config.state_keep)
    with store:  # refuses a second run on the same state; released however the run ends
        previous = scheduled.load(store)
        code, summary = run_once(config, beam_args, previous)
        following = scheduled.next_state(previous, summary["output"], config.dedup_horizon_days,
                                         polling=config.polling)
        generation = store.commit(scheduled.files(following))
    summary["state"] = {"path": config.state, "generation": generation, "feeds": len(following.feeds),
                        "seen_entries": len(following.seen), "robots_origins": len(following.robots),
                        "reprint_articles": following.reprint_articles,
                        "reprint_index_bytes": len(following.reprints or b""),
                        "stories": following.story_count, "story_index_bytes": len(following.stories or b"")}
    summary["source_health"] = {"sources": len(following.sources), "flagged": following.health_flags}
    finish(config, summary)
    return code, summary


def finish(config: RunConfig, summary: dict[str, Any]) -> None:
    """Write run_summary.json (which makes the run folder a finished run), point ``latest`` at it, prune old
    runs, and print the human summary."""
    folder = summary["output"]
    from pipeline.report import write_report  # matplotlib: loaded only once a run has something to report

    write_report(folder, summary)
    write_summary(folder, summary)
    runs.mark_latest(config.output, folder)
    pruned = runs.prune_runs(config.output, config.keep_runs)
    print(render(summary))
    print(f"output     {folder}/ (records-*, duplicates-*, dead_letters-*, report.html, run_summary.json); "
          f"{config.output}/latest names it" + (f"; {len(pruned)} older runs removed (--keep_runs)" if pruned else ""))
    state = summary.get("state")
    if state:
        print(f"state      {state['path']}: generation {state['generation']}, {state['feeds']} feeds, "
              f"{state['seen_entries']} seen entries, {state['reprint_articles']} articles in the reprint index "
              f"({state['reprint_index_bytes'] / 1024:.0f} KiB), {state['stories']} stories "
              f"({state['story_index_bytes'] / 1024:.0f} KiB), {state['robots_origins']} robots.txt kept")
        if summary["feeds"].get("not_due") and summary["feeds"]["not_due"] == summary["feeds"]["listed"]:
            print("no feed is due yet: nothing was requested, and this run's tables are empty "
                  "(--poll_all polls them anyway)")
        elif summary["entries"] == summary["invariant"]["seen_before"]:
            print("nothing new since the last run: this run's tables are empty, the earlier runs' stay in place")


def run_once(config: RunConfig, beam_args: list[str], run_state: scheduled.RunState | None,
             feed_list: FeedList | None = None, messages: list[PubsubMessage] | None = None
             ) -> tuple[int, dict[str, Any]]:
    """One pipeline run; returns (exit code, summary) without writing or printing the summary.

    ``feed_list``: the feeds to read (default: ``--feeds``); ``messages``: work messages handled in the same
    run (one micro-batch of a local stream, ``pipeline.microbatch``).
    """
    if feed_list is None:
        feed_list = read_feed_list(config.feeds)
    if not feed_list.urls and not feed_list.problems and messages is None:
        raise ValueError("--feeds gave no feed URLs")
    # Scheduled runs poll only the feeds that are due (adaptive intervals, Retry-After): the others are
    # listed in the summary, not dead letters, and their entries are not part of this run.
    not_due = run_state.not_due(feed_list.urls, now(), config.poll_all) if run_state else {}
    due = [url for url in feed_list.urls if url not in not_due]
    options = PipelineOptions(beam_args)
    runner = choose_runner(options)
    if runner in NEEDS_PORTABLE_BATCHING and not config.portable_batching:
        config = dataclasses.replace(config, portable_batching=True)
    _LOG.info("running on %s: %d feeds (%d not due)", runner, len(due), len(not_due))
    check_bigquery(config, options)
    check_writable(config.output)
    config = dataclasses.replace(config, output=runs.new_run_folder(config.output, now()))

    def remove_this_run() -> None:
        runs.remove_run_folder(config.output)

    _ON_INTERRUPT.append(remove_this_run)
    try:
        started = time.monotonic()
        pipeline = beam.Pipeline(options=options)
        build(pipeline, config, due, feed_list.problems, run_state, messages)
        show_progress = config.progress if config.progress is not None else sys.stderr.isatty()
        in_process = counts_in_process(runner, options.view_as(DirectOptions).direct_running_mode)
        with Progress(sys.stderr, in_process, config.progress_interval, enabled=show_progress):
            result = pipeline.run()
            result.wait_until_finish()
    except BaseException:  # a failed or interrupted run leaves no folder behind
        remove_this_run()
        raise
    finally:
        _ON_INTERRUPT.remove(remove_this_run)
    counters = read_counters(result)
    if hasattr(result, "client"):  # DaskRunner leaves its client connected to the scheduler
        result.client.close()
    source = "metrics"
    if counters is None:  # a runner without metrics: the tallies the pipeline wrote as data
        counters, source = read_tallies(config.output), "tallies"
    summary = summarise(counters, len(feed_list.urls) + len(feed_list.problems), time.monotonic() - started)
    summary["counters_from"] = source
    if source == "tallies":  # page fetches are counted only as metrics: unknown here, not zero
        summary["pages"] = {"fetched": None, "failed": None, "robots_disallowed": None}
        summary["feeds"]["formats"] = None
    summary["runner"] = runner
    summary["output"] = config.output
    summary["feeds"]["not_due"] = len(not_due)
    summary["feeds_not_due"] = not_due
    summary["robots"] = summarise_robots(counters, read_rows(config.output, "robots"), config.robots)
    if messages is not None:  # a micro-batch: the local stream adds its counters up
        summary["counters"] = counters
    if not summary["invariant"]["holds"]:
        return EXIT_INVARIANT_FAILED, summary
    if summary["failed_stages"]:
        return EXIT_STAGE_FAILED, summary
    if not feed_list.urls and messages is None:  # every --feeds line was unusable: as when every feed fails
        summary["failed_stages"] = ["read_feed_list"]
        summary["stages_in"]["read_feed_list"] = len(feed_list.problems)
        return EXIT_STAGE_FAILED, summary
    return 0, summary


def run_demo(args: argparse.Namespace, beam_args: list[str]) -> int:
    """The pipeline on the bundled sample, served from loopback under the sites' own host names."""
    if args.feeds:
        raise ValueError("demo reads the bundled sample's feeds; for your own use `newsbeam run --feeds ...`")
    with SiteServer(SAMPLE_DIR / "site") as server:
        args = argparse.Namespace(**{
            **vars(args),
            "feeds": [str(SAMPLE_DIR / "feeds.opml")],
            "allow_private_networks": True,  # the sample is served from 127.0.0.1
            "per_host_delay": 0.0,
            "state": args.state or str(Path(args.output) / "state"),  # beside the run folders
            "connect_to": [*args.connect_to, *server.connect_to_specs()],
        })
        print(f"newsbeam demo: serving {len(server.hosts())} sample sites from 127.0.0.1:{server.port}")
        code, _summary = run(config_from_args(args), beam_args)
    return code


def _harness_problem(args: argparse.Namespace) -> str | None:
    """What stops ``newsbeam dedup`` / ``stories`` before any work, in one line (or None)."""
    if not FileSystems.exists(args.input):
        return f"--input {args.input!r} does not exist"
    for name in ("dedup_horizon", "story_window", "story_span"):
        value = getattr(args, name, None)
        if value is not None and value <= 0:
            return f"--{name} must be > 0, got {value}"
    join_score = getattr(args, "story_join_score", None)
    if join_score is not None and not 0.0 < join_score <= 2.0:
        return f"--story_join_score must be in (0, 2], got {join_score}"
    folder = args.output.rsplit("/", 1)[0] if "/" in args.output else "."
    try:
        check_writable(folder)
    except ValueError as error:
        return str(error)
    return None


def run_dedup(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Only the dedup stage (``stories``: and stories after it), on documents given as JSON lines (see
    pipeline/dedup_harness.py)."""
    problem = _harness_problem(args)
    if problem:
        print(f"newsbeam {args.command}: {problem}", file=sys.stderr)
        return 2
    options = PipelineOptions(beam_args)
    choose_runner(options)
    dead_letters = args.dead_letters or f"{args.output}.dead_letters.jsonl"
    pipeline = beam.Pipeline(options=options)
    if args.command == "stories":
        table = args.table or stories_table_path(args.output)
        thresholds = story_thresholds(args)
        build_stories(pipeline, args.input, args.output, table, dead_letters, args.dedup_horizon, thresholds)
    else:
        build_dedup(pipeline, args.input, args.output, dead_letters, args.dedup_horizon)
    result = pipeline.run()
    result.wait_until_finish()
    counters = read_counters(result)
    duplicates = sum(v for k, v in counters.items() if k.startswith("dedup.duplicate."))
    dead = sum(v for k, v in counters.items() if k.startswith("dead_letter."))
    stories = f"{counters.get('stories.stories', 0)} stories, " if args.command == "stories" else ""
    print(f"newsbeam {args.command}: {counters.get('entries.in', 0)} documents, {duplicates} duplicates, "
          f"{stories}{dead} dead letters -> {args.output}"
          + (f" ({table}, {dead_letters})" if args.command == "stories" else f" ({dead_letters})"))
    return 0


def stories_table_path(output: str) -> str:
    """``x/stories.jsonl`` -> ``x/stories.table.jsonl``: the stories table beside the per-document file."""
    stem = output[:-len(".jsonl")] if output.endswith(".jsonl") else output
    return f"{stem}.table.jsonl"



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbeam",
        description="Feeds -> articles -> cross-outlet dedup -> entities, on Apache Beam. "
                    "Options not listed here are passed to Beam (e.g. --runner, --direct_num_workers, --project).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--log_level", default="WARNING", help="logging level")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run", help="run the pipeline", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the pipeline. Unknown options go to Beam: --runner (default: Beam's Python direct "
                    "runner, FnApiRunner for batch), --direct_num_workers, --direct_running_mode, --project, "
                    "--region, --temp_location, --setup_file, ...")
    add_run_arguments(run_parser, feeds_required=False)
    demo = commands.add_parser(
        "demo", help="run the pipeline on the bundled offline sample (no network)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="`newsbeam run` on the bundled sample, served from 127.0.0.1 under its sites' host names, with "
                    "--state OUTPUT/state unless given: run it twice and the second run finds nothing due. Every "
                    "`run` option works here except --feeds (the sample's own list).")
    add_run_arguments(demo, feeds_required=False)
    dedup = commands.add_parser(
        "dedup", help="run only the dedup stage on documents given as JSON lines",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Input lines: {id, url, title, text, published (ISO 8601, optional), source (optional)}. "
                    "Output lines: {id, duplicate_of, cluster_id, kind, score}, ids unchanged.")
    add_document_arguments(dedup, "verdicts file to write (JSON lines)")
    schema = commands.add_parser(
        "schema", help="print the output tables' schemas (derived from schemas/records.py)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="For `bq mk --schema`, a JSON Schema validator or Arrow/Parquet readers.")
    schema.add_argument("--format", dest="fmt", choices=SCHEMA_FORMATS, default="bigquery")
    schema.add_argument("--table", choices=tuple(TABLES), default="records")
    stories = commands.add_parser(
        "stories", help="run dedup and then stories on documents given as JSON lines",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Input lines as for `newsbeam dedup`. Output lines: {id, story_id, duplicate_of}, ids "
                    "unchanged; the stories table (one row per story: members, evidence, outlets) beside it.")
    add_document_arguments(stories, "per-document file to write (JSON lines)")
    stories.add_argument("--table", default=None, help="stories table to write (default: OUTPUT.table.jsonl, "
                                                      "OUTPUT without its .jsonl)")
    add_story_arguments(stories)
    for sub in (run_parser, demo, dedup, stories):
        sub.add_argument("--log_level", default=argparse.SUPPRESS, help="logging level (also before the command)")
    return parser


SCHEMA_FORMATS = ("bigquery", "json", "arrow")


def add_document_arguments(parser: argparse.ArgumentParser, output_help: str) -> None:
    """What ``newsbeam dedup`` and ``newsbeam stories`` share: documents in, a file out, dead letters."""
    parser.add_argument("--input", required=True, help="JSON lines file (any Beam filesystem)")
    parser.add_argument("--output", required=True, help=output_help)
    parser.add_argument("--dead_letters", default=None, help="dead-letter file (default: OUTPUT.dead_letters.jsonl)")
    parser.add_argument("--dedup_horizon", type=float, default=7.0, metavar="DAYS",
                        help="documents published further apart are never compared as copies")


def print_schema(args: argparse.Namespace) -> int:
    record_type = TABLES[args.table]
    if args.fmt == "bigquery":
        print(json.dumps(bigquery_schema(record_type), indent=2))
    elif args.fmt == "json":
        print(json.dumps(json_schema(record_type), indent=2))
    else:
        print(arrow_schema(record_type).to_string(show_schema_metadata=False))
    return 0


def unknown_options(beam_args: list[str], ours: argparse.ArgumentParser) -> list[str]:
    """Options neither newsbeam nor any of Beam's pipeline options define, each with a suggestion."""
    try:
        from apache_beam.runners.dask import dask_runner  # noqa: F401  (registers DaskRunner's options)
    except ImportError:
        pass
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    beam_parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(beam_parser)  # what PipelineOptions.get_all_options does
    _known, unknown = beam_parser.parse_known_args(beam_args)
    names = [o for p in (beam_parser, ours) for a in p._actions for o in a.option_strings]
    for sub in ours._subparsers._group_actions if ours._subparsers else []:
        names += [o for p in sub.choices.values() for a in p._actions for o in a.option_strings]
    problems = []
    for arg in unknown:
        if not arg.startswith("--"):
            continue
        name = arg.split("=", 1)[0]
        close = difflib.get_close_matches(name, names, n=1)
        problems.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    unknown = unknown_options(beam_args, parser)
    if unknown:
        print(f"newsbeam: unknown option {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.command in ("run", "demo", "dedup", "stories") and not is_streaming(beam_args):
        signal.signal(signal.SIGINT, _interrupted)  # a stream handles Ctrl-C itself (cancels its job)
    try:
        return _command(args, beam_args)
    except KeyboardInterrupt:
        print("newsbeam: interrupted; this run's output is removed and the state is as it was before the run",
              file=sys.stderr)
        return 130


def _command(args: argparse.Namespace, beam_args: list[str]) -> int:
    for noisy in ("distributed", "apache_beam.runners.dask"):  # a Dask run's scheduler chatter
        logging.getLogger(noisy).setLevel(max(logging.ERROR, logging.getLogger().level))
    if args.command in ("dedup", "stories"):
        return run_dedup(args, beam_args)
    if args.command == "schema":
        return print_schema(args)
    try:
        if args.command == "demo":
            return run_demo(args, beam_args)
        config = config_from_args(args)
        if is_streaming(beam_args):
            code, _summary = run_streaming(config, beam_args)
        else:
            if not config.feeds:
                raise ValueError("--feeds is required for a batch run")
            code, _summary = run(config, beam_args)
    except (FileNotFoundError, ValueError, StateError) as error:
        print(f"newsbeam: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
