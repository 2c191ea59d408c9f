"""End to end on the real Pub/Sub emulator: `newsbeam run --streaming`, work in, topics out.

The first test runs Beam's streaming graph (the one Dataflow and Flink run) on
``--runner BundleBasedDirectRunner``; the others run the local stream
(``pipeline.microbatch``, the default on this machine; more in
``tests/test_local_stream.py``).

Pages are served by a loopback HTTP server (the bundled sample sites). The
test waits on facts (messages arriving on output subscriptions), never on
fixed sleeps: a reprint is pushed and its record awaited before its original
is pushed, so the out-of-order path is taken every time.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from pipeline.cli import build_parser, run_streaming
from pipeline.options import config_from_args
from pipeline.siteserver import SiteServer
from tests.conftest import PROJECT, SAMPLE
from tests.pubsub_emulator import Collector
from transforms.lib.urls import canonical_url, record_id

ORIGINAL = "http://www.globalwire.example/stories/2026-11-17/dockworkers-strike-halvergate.html"
REPRINT = "http://www.metrogazette.example/news/business/halvergate-port-strike-ships-anchor.html"
COASTAL_FEED = "http://www.coastaltimes.example/index.rdf"  # 7 entries, one an edited copy of ORIGINAL
WAIT_S = 180


def ids_of(messages, kind: str) -> list[str]:
    return [m.attributes.get("id") for m in messages if m.attributes.get("type") == kind]


def test_streaming_run_against_the_emulator(pubsub_emulator, topics, tmp_path):
    original_id, reprint_id = (record_id(canonical_url(u)) for u in (ORIGINAL, REPRINT))
    records = Collector(pubsub_emulator, topics["records_sub"])
    duplicates = Collector(pubsub_emulator, topics["duplicates_sub"])
    dead = Collector(pubsub_emulator, topics["dead_sub"])
    stories = Collector(pubsub_emulator, topics["stories_sub"])
    stop, outcome = threading.Event(), {}
    with SiteServer(SAMPLE / "site") as server, pubsub_emulator.environ():
        args = build_parser().parse_args([
            "run", "--input_subscription", topics["work_sub"], "--output_topic", topics["records"],
            "--duplicates_topic", topics["duplicates"], "--dead_letter_topic", topics["dead"],
            "--stories_topic", topics["stories"],
            "--output", str(tmp_path), "--window_seconds", "1", "--allow_private_networks", "--per_host_delay", "0",
            *server.connect_to_args()])
        config = config_from_args(args)
        runner = threading.Thread(
            target=lambda: outcome.update(result=run_streaming(
                config, ["--streaming", "--runner", "BundleBasedDirectRunner"], stop)), daemon=True)
        runner.start()
        try:
            def push(body: dict | bytes) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                pubsub_emulator.publish(topics["work"], data)

            # 1. The reprint first: nothing earlier is known, so it is a record.
            push({"url": REPRINT, "feed_url": "http://www.metrogazette.example/feed.xml",
                  "published": "2026-11-17T07:05:00Z"})
            records.until(lambda ms: reprint_id in ids_of(ms, "record"), "the reprint's record")
            # 2. Its original: a record, and a correction moving the reprint under it.
            push({"entry": {"url": ORIGINAL, "published": "2026-11-17T06:15:00Z",
                            "guid": "tag:globalwire.example,2026:dockworkers"}})
            got = records.until(lambda ms: original_id in ids_of(ms, "record") and ids_of(ms, "correction"),
                                "the original's record and the correction")
            correction = next(m for m in got if m.attributes["type"] == "correction")
            assert correction.attributes["id"] == reprint_id
            assert correction.attributes["duplicate_of"] == original_id
            body = json.loads(correction.data)
            assert body["previous_duplicate_of"] is None and body["dedup"]["kind"] in ("same_text", "near_verbatim")
            # 3. Malformed messages are dead letters with reasons (and acknowledged: later work still flows).
            push(b"this is not json")
            push({"feed_url": "gopher://example.org/feed"})
            dead.until(lambda ms: len(ms) >= 2, "two dead letters")
            assert sorted(m.attributes["reason"] for m in dead.messages) == ["bad_url", "not_json"]
            # 4. A feed to poll: 7 entries, 6 records and the edited copy of the original.
            push({"feed_url": COASTAL_FEED})
            duplicates.until(lambda ms: len(ms) >= 1, "the edited copy")
            records.until(lambda ms: sum(json.loads(m.data)["feed_url"] == COASTAL_FEED for m in ms
                                         if m.attributes["type"] == "record") >= 6, "six coastal records")
            edited = json.loads(duplicates.messages[0].data)
            assert duplicates.messages[0].attributes["duplicate_of"] == original_id
            assert edited["feed_url"] == COASTAL_FEED and edited["dedup"]["kind"] == "edited"
            assert all(m.attributes["source_domain"] for m in records.messages if m.attributes["type"] == "record")
            # Stories: the reprint started one; its late original joined it; the edited copy shares it.
            story_of = {m.attributes["id"]: m.attributes.get("story_id") for m in records.messages
                        if m.attributes["type"] == "record"}
            assert story_of[reprint_id] == story_of[original_id] == reprint_id
            assert duplicates.messages[0].attributes["story_id"] == reprint_id
            assert all(story_of.values()), story_of
            rows = stories.until(lambda ms: any(m.attributes["story_id"] == reprint_id
                                                and json.loads(m.data)["copies"] == 2 for m in ms),
                                 "the story row with the reprint and the edited copy as the original's copies")
            assert {m.attributes["type"] for m in rows} == {"story"}
            assert any(json.loads(m.data)["entities"] for m in records.messages if m.attributes["type"] == "record")
        finally:
            stop.set()
            runner.join(timeout=120)
    assert not runner.is_alive(), "the streaming run did not stop when asked"
    code, summary = outcome["result"]
    assert code == 0
    assert summary["streaming"]["messages"] == 5 and summary["streaming"]["corrections"] == 1
    assert summary["entries"] == 9 and summary["invariant"]["holds"], summary["invariant"]
    assert summary["records"] == 8 and summary["duplicates"] == 1
    # Windowed files: windows that closed before the stop are whole files of records the topic also carried
    # (the window open at the stop is not written on DirectRunner; a Dataflow drain closes it).
    published = set(ids_of(records.messages, "record"))
    files = sorted(tmp_path.glob("records-*.jsonl"))
    assert files, sorted(tmp_path.iterdir())
    in_files = [json.loads(line)["id"] for f in files for line in f.read_text().splitlines()]
    assert in_files and set(in_files) <= published and len(in_files) == len(set(in_files))


def test_ctrl_c_stops_the_command_cleanly(pubsub_emulator, topics, tmp_path):
    """`newsbeam run --streaming` in its own process: work flows, SIGINT ends it with exit 0 and a summary."""
    env = {**os.environ, **pubsub_emulator.env(), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--no_entities",
               "--input_subscription", topics["work_sub"], "--dead_letter_topic", topics["dead"],
               "--output", str(tmp_path)]
    process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen: list[str] = []

    def wait_for(marker: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(marker in line for line in seen):
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no {marker!r} within {timeout_s} s: {''.join(seen)}") from None

    try:
        wait_for("Ctrl-C stops it", 120)
        pubsub_emulator.publish(topics["work"], b"\xff not a message")
        dead = Collector(pubsub_emulator, topics["dead_sub"]).until(lambda ms: ms, "a dead letter")
        assert dead[0].attributes["reason"] == "not_utf8"
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        wait_for("wall time", 90)
        process.wait(timeout=30)
        stop_seconds = time.monotonic() - stopped_at
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(seen)
    assert process.returncode == 0, output
    assert "stopping the stream (Ctrl-C)" in output and "messages   1 read" in output, output
    assert "Traceback" not in output, output
    assert stop_seconds < 15, f"Ctrl-C took {stop_seconds:.1f} s to stop the stream"


def test_local_polling_polls_every_interval_and_repolls_find_nothing_new(pubsub_emulator, topics, tmp_path):
    """--feeds with --poll_interval in the local stream: each tick's feeds run in a micro-batch."""
    records = Collector(pubsub_emulator, topics["records_sub"])
    stop, outcome = threading.Event(), {}
    with SiteServer(SAMPLE / "site") as server, pubsub_emulator.environ():
        args = build_parser().parse_args([
            "run", "--feeds", COASTAL_FEED, "--poll_interval", "1", "--no_entities",
            "--output_topic", topics["records"],
            "--output", str(tmp_path), "--allow_private_networks", "--per_host_delay", "0",
            *server.connect_to_args()])
        runner = threading.Thread(
            target=lambda: outcome.update(result=run_streaming(config_from_args(args), ["--streaming"], stop)),
            daemon=True)
        runner.start()
        try:
            got = records.until(lambda ms: len(ms) >= 7, "the feed's seven records")
            deadline = time.monotonic() + WAIT_S
            # Two more polls, answered 304 Not Modified (the stream's state keeps the feed's validators).
            while polls_not_modified(tmp_path / "state") < 2:
                assert time.monotonic() < deadline, sorted(p.name for p in tmp_path.iterdir())
                time.sleep(0.2)
        finally:
            stop.set()
            runner.join(timeout=120)
    code, summary = outcome["result"]
    assert code == 0 and len({m.attributes["id"] for m in got}) == 7
    assert summary["records"] == 7 and summary["streaming"]["batches"] >= 3
    assert summary["feeds"]["not_modified"] >= 2 and summary["invariant"]["holds"]
    assert len([f for f in tmp_path.glob("records-*.jsonl")]) == 1  # polls that found nothing write nothing


def polls_not_modified(state_path) -> int:
    """Polls after the first, when the latest was answered 304 (each micro-batch commits one generation)."""
    from pipeline.state import StateError, StateStore

    store = StateStore(str(state_path))
    try:
        generation = store.current()
        feeds = store.read_json("feeds.json", default={"feeds": {}})["feeds"]
    except (StateError, OSError, ValueError):  # none yet, or a generation being written
        return 0
    if generation is None or feeds.get(COASTAL_FEED, {}).get("last_status") != 304:
        return 0
    return int(generation[1:]) - 1
