"""The local stream (``pipeline.microbatch``) against the real Pub/Sub emulator: nothing lost, poison handled.

``newsbeam run --streaming`` on this machine runs micro-batches and
acknowledges a message only after its output is written, published and the
state committed. These tests kill it with SIGKILL mid-stream and start it
again, send it a 5 MB message and one whose batch always fails, and a burst of
malformed messages. Article pages are requested from a loopback server that
has none (404), so each record's body is the message's own content.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.corpus import article_text
from pipeline.cli import build_parser, run_streaming
from pipeline.options import config_from_args
from pipeline.siteserver import SiteServer
from tests.conftest import PROJECT
from tests.pubsub_emulator import Collector
from transforms.lib.urls import canonical_url, record_id

OUTLETS = [f"www.outlet{n}.example" for n in range(8)]


def work_messages(count: int, reprints: int, seed: int = 11) -> tuple[list[dict], dict[str, str]]:
    """``count`` entry messages with inline content; ``reprints`` of them verbatim copies, on another outlet,
    of an article from the first third, placed in the second half (so a crash in between separates them).
    Returns the messages in publish order and {reprint id: original id}."""
    rng = random.Random(seed)
    originals = []
    for n in range(count - reprints):
        title, paragraphs = article_text(rng)
        host = OUTLETS[n % len(OUTLETS)]
        originals.append({"url": f"http://{host}/news/{n:04d}.html", "title": title,
                          "published": f"2026-11-20T{6 + n // 60:02d}:{n % 60:02d}:00Z",
                          "content": "\n\n".join(paragraphs), "feed_url": f"http://{host}/feed.xml"})
    copies, expected = [], {}
    for n in range(reprints):
        source = originals[n * 3]
        host = OUTLETS[(OUTLETS.index(source["url"].split("/")[2]) + 3) % len(OUTLETS)]
        copy = {**source, "url": f"http://{host}/wire/{n:04d}.html", "feed_url": f"http://{host}/feed.xml",
                "published": source["published"].replace("2026-11-20", "2026-11-21")}
        copies.append(copy)
        expected[record_id(canonical_url(copy["url"]))] = record_id(canonical_url(source["url"]))
    half = len(originals) // 2 + 10
    ordered = originals[:half] + copies + originals[half:]
    return [{"entry": entry} for entry in ordered], expected


def entry_id(message: dict) -> str:
    return record_id(canonical_url(message["entry"]["url"]))


@pytest.fixture
def outlets(tmp_path):
    site = tmp_path / "site"
    for host in OUTLETS:
        (site / host).mkdir(parents=True)
    with SiteServer(site) as server:
        yield server


def stream_command(topics, output: Path, server: SiteServer, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--no_entities",
            "--input_subscription", topics["work_sub"], "--output_topic", topics["records"],
            "--duplicates_topic", topics["duplicates"], "--dead_letter_topic", topics["dead"],
            "--stories_topic", topics["stories"], "--output", str(output), "--allow_private_networks",
            "--per_host_delay", "0", *server.connect_to_args(), *extra]


def outputs_by_id(*collectors: Collector) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for collector in collectors:
        for message in collector.messages:
            attributes = message.attributes
            key = attributes.get("id") or json.loads(message.data).get("url", "")
            found.setdefault(key, []).append(attributes)
    return found


def test_killed_mid_stream_and_restarted_it_loses_nothing_and_knows_the_articles_before_the_crash(
        pubsub_emulator, topics, outlets, tmp_path):
    messages, reprint_of = work_messages(200, 20)
    for message in messages:
        pubsub_emulator.publish(topics["work"], json.dumps(message).encode())
    records = Collector(pubsub_emulator, topics["records_sub"])
    duplicates = Collector(pubsub_emulator, topics["duplicates_sub"])
    dead = Collector(pubsub_emulator, topics["dead_sub"])
    env = {**os.environ, **pubsub_emulator.env(), "PYTHONUNBUFFERED": "1"}
    command = stream_command(topics, tmp_path / "out", outlets, "--batch_messages", "25")

    def out_count(_messages: object = None) -> int:
        return sum(len(c.messages) for c in (records, duplicates, dead))

    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        while out_count() < 100:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            for collector in (records, duplicates, dead):
                collector.messages += pubsub_emulator.pull(collector.subscription, max_messages=100, timeout_s=0.5)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    before_crash = set(outputs_by_id(records, duplicates, dead))
    assert 100 <= len(before_crash) < 200, len(before_crash)

    log = open(tmp_path / "second.log", "w")
    second = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    wanted = {entry_id(m) for m in messages}
    try:
        deadline = time.monotonic() + 300
        while not wanted <= set(outputs_by_id(records, duplicates, dead)):
            assert time.monotonic() < deadline, f"missing {len(wanted - set(outputs_by_id(records, duplicates)))}"
            assert second.poll() is None, (tmp_path / "second.log").read_text()
            for collector in (records, duplicates, dead):
                collector.messages += pubsub_emulator.pull(collector.subscription, max_messages=100, timeout_s=0.5)
        second.send_signal(signal.SIGINT)
        second.wait(timeout=60)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    found = outputs_by_id(records, duplicates, dead)
    assert not dead.messages, [m.attributes for m in dead.messages]
    assert wanted <= set(found), f"lost {sorted(wanted - set(found))}"
    # What came out twice (the batch in flight at the kill) came out the same both times.
    for key, copies in found.items():
        assert all(c == copies[0] for c in copies), (key, copies)
    # Every reprint is a duplicate of its original, those whose original came out before the crash included.
    for reprint, original in reprint_of.items():
        assert found[reprint][0]["type"] == "duplicate" and found[reprint][0]["duplicate_of"] == original
        assert found[reprint][0]["story_id"] == found[original][0]["story_id"]  # a copy is in its original's story
    across = [r for r, o in reprint_of.items() if o in before_crash and r not in before_crash]
    assert across, "no reprint had its original before the crash and itself after it"
    # Each batch publishes the rows of the stories it touched: every story id on a record is among them.
    stories = Collector(pubsub_emulator, topics["stories_sub"])
    stories.messages += pubsub_emulator.pull(stories.subscription, max_messages=1000, timeout_s=2)
    published = {m.attributes["story_id"] for m in stories.messages if m.attributes["type"] == "story"}
    assert {a[0]["story_id"] for a in found.values()} <= published
    assert "entries    " in (tmp_path / "second.log").read_text()
    # The files in --output hold every entry too, once per time it was emitted.
    rows = [json.loads(line) for f in (tmp_path / "out").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert wanted <= {row["id"] for row in rows if "id" in row}


def run_in_thread(args: list[str]) -> tuple[threading.Thread, threading.Event, dict]:
    stop, outcome = threading.Event(), {}
    config = config_from_args(build_parser().parse_args(["run", *args]))
    runner = threading.Thread(target=lambda: outcome.update(result=run_streaming(config, ["--streaming"], stop)),
                              daemon=True)
    runner.start()
    return runner, stop, outcome


def test_a_5_mb_message_and_one_that_always_fails_are_dead_letters_and_the_messages_behind_them_come_out(
        pubsub_emulator, topics, outlets, tmp_path, monkeypatch):
    from transforms import sinks

    written = sinks.to_json_line

    def fails_on_the_poison(record):  # a fault past every stage's dead-letter handling: the batch itself fails
        if getattr(record, "title", None) == "POISON":
            raise RuntimeError("this record cannot be written")
        return written(record)

    monkeypatch.setattr(sinks, "to_json_line", fails_on_the_poison)
    messages, _ = work_messages(10, 0, seed=5)
    poison = {"entry": {**messages[0]["entry"], "url": "http://www.outlet1.example/poison.html", "title": "POISON"}}
    large = json.dumps({"entry": {**messages[1]["entry"], "url": "http://www.outlet2.example/large.html",
                                  "content": "word " * 1_000_000}}).encode()
    assert len(large) > 5_000_000
    records, dead = Collector(pubsub_emulator, topics["records_sub"]), Collector(pubsub_emulator, topics["dead_sub"])
    with pubsub_emulator.environ():
        runner, stop, outcome = run_in_thread([
            "--input_subscription", topics["work_sub"], "--output_topic", topics["records"],
            "--dead_letter_topic", topics["dead"], "--output", str(tmp_path / "out"), "--no_entities",
            "--allow_private_networks", "--per_host_delay", "0", "--batch_messages", "4", "--batch_wait", "0.5",
            *outlets.connect_to_args()])
        try:
            pubsub_emulator.publish(topics["work"], large)
            pubsub_emulator.publish(topics["work"], json.dumps(poison).encode())
            for message in messages:
                pubsub_emulator.publish(topics["work"], json.dumps(message).encode())
            records.until(lambda ms: len(ms) >= 10, "the ten records behind the two bad messages")
            dead.until(lambda ms: len(ms) >= 2, "two dead letters")
        finally:
            stop.set()
            runner.join(timeout=120)
    assert {m.attributes["id"] for m in records.messages} == {entry_id(m) for m in messages}
    reasons = sorted((m.attributes["stage"], m.attributes["reason"]) for m in dead.messages)
    assert reasons == [("read_message", "too_large"), ("stream", "exception")]
    poisoned = json.loads(next(m.data for m in dead.messages if m.attributes["reason"] == "exception"))
    assert poisoned["error_class"] == "RuntimeError" and "failed 3 times" in poisoned["message"]
    code, summary = outcome["result"]
    assert code == 0 and summary["streaming"]["poisoned_messages"] == 1
    assert summary["records"] == 10 and summary["streaming"]["messages"] == 12


def test_a_burst_of_2000_malformed_messages_is_answered_within_30_s(pubsub_emulator, topics, tmp_path):
    dead = Collector(pubsub_emulator, topics["dead_sub"])
    with pubsub_emulator.environ():
        runner, stop, outcome = run_in_thread([
            "--input_subscription", topics["work_sub"], "--dead_letter_topic", topics["dead"],
            "--output", str(tmp_path / "out"), "--no_entities"])
        try:
            time.sleep(2)
            bodies = [b"not json %d" % n if n % 3 else b"\xff\xfe binary %d" % n for n in range(1990)]
            bodies += [json.dumps({"entry": {"url": 7}}).encode()] * 10
            started = time.monotonic()
            futures = [pubsub_emulator.publisher.publish(topics["work"], body) for body in bodies]
            for future in futures:
                future.result(timeout=30)
            dead.until(lambda ms: len(ms) >= 2000, "2000 dead letters")
            answered = time.monotonic() - started
        finally:
            stop.set()
            runner.join(timeout=60)
    assert answered < 30, f"2000 malformed messages took {answered:.1f} s"
    reasons = [m.attributes["reason"] for m in dead.messages]
    assert {r: reasons.count(r) for r in set(reasons)} == {"not_json": 1326, "not_utf8": 664, "bad_url": 10}
    code, summary = outcome["result"]
    assert code == 0 and summary["streaming"]["messages"] == 2000 and summary["records"] == 0


def test_an_outage_of_pubsub_is_logged_once_when_lost_and_once_when_back_and_nothing_is_lost(
        outlets, tmp_path, caplog):
    """The emulator is stopped while the stream runs and another started on its port (the emulator keeps
    nothing across a restart, so topics are made again): work published after the outage comes out."""
    from tests.pubsub_emulator import PubSubEmulator, _free_port, find_emulator_launcher, find_java

    if not (find_emulator_launcher() and find_java()):
        pytest.skip("no Pub/Sub emulator or Java on this machine")
    port = _free_port()
    messages, _ = work_messages(2, 0, seed=3)

    def make_topics(emulator: PubSubEmulator) -> Collector:
        emulator.create_topic("work")
        emulator.create_subscription("work-sub", "work")
        emulator.create_topic("records")
        return Collector(emulator, emulator.create_subscription("records-sub", "records"))

    first = PubSubEmulator(port=port).start()
    try:
        records = make_topics(first)
        with first.environ(), caplog.at_level(logging.WARNING, logger="newsbeam"):
            runner, stop, outcome = run_in_thread([
                "--input_subscription", first.subscription_path("work-sub"),
                "--output_topic", first.topic_path("records"), "--output", str(tmp_path / "out"), "--no_entities",
                "--allow_private_networks", "--per_host_delay", "0", *outlets.connect_to_args()])
            try:
                first.publish("work", json.dumps(messages[0]).encode())
                records.until(lambda ms: len(ms) >= 1, "the record before the outage")
                first.stop()
                time.sleep(5)
                second = PubSubEmulator(port=port).start()
                try:
                    records = make_topics(second)
                    second.publish("work", json.dumps(messages[1]).encode())
                    records.until(lambda ms: len(ms) >= 1, "the record after the outage")
                finally:
                    stop.set()
                    runner.join(timeout=120)
                    second.stop()
            finally:
                stop.set()
    finally:
        first.stop()
    assert records.messages[0].attributes["id"] == entry_id(messages[1])
    lost = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lost connection to Pub/Sub")]
    back = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Pub/Sub reachable again after")]
    assert len(lost) == 1 and len(back) == 1, [r.getMessage() for r in caplog.records]
    code, summary = outcome["result"]
    assert code == 0 and summary["streaming"]["pubsub_outages"] == 1
    assert summary["streaming"]["pubsub_outage_seconds"] >= 4 and summary["records"] == 2
