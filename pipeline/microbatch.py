"""The local stream: work messages in micro-batches, acknowledged only after their output.

Beam's local streaming runner acknowledges a Pub/Sub pull the moment it
arrives, before any stage has run (``_PubSubReadEvaluator._read_from_pubsub``
in ``apache_beam/runners/direct/transform_evaluator.py``: "Because of the
AutoAck, we are not able to reread messages"), and keeps its stateful dedup in
memory: a process killed mid-stream loses what it had pulled and forgets every
article it indexed. So on one machine ``newsbeam run --streaming`` runs the
batch graph (``pipeline.graph``, on FnApiRunner) once per micro-batch:

1. pull up to ``--batch_messages`` work messages (waiting at most
   ``--batch_wait`` seconds after the first) and lease them: their ack
   deadline is pushed back while they are worked on;
2. run the batch graph on them, and on the feeds due for a poll, against the
   stream's ``--state`` (entries handled before, the reprint index, feed
   validators, robots.txt: what scheduled runs carry);
3. write the batch's tables into ``--output`` and publish them to the topics,
   waiting until every publish is confirmed;
4. commit the state, then acknowledge the messages.

Killed anywhere, nothing is lost: what was not acknowledged is delivered
again. Killed before step 4, the batch is done again from the same state
(same ids, same verdicts: consumers can key on ``id``); after it, the
redelivered entries are "seen before". A batch whose pipeline fails is split
in halves until the message that fails is alone; a message that fails
``--max_attempts`` times alone is a dead letter (stage ``stream``, reason
``exception``, its error class) and is acknowledged, never retried forever.
Pub/Sub out of reach (pull, publish or acknowledge) is logged once when lost
and once when back, with how long it lasted, and counted in the summary.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.pubsub import PubsubMessage

from pipeline import runs, scheduled
from pipeline.options import RunConfig
from pipeline.state import StateStore
from pipeline.summary import read_rows
from schemas.records import DeadLetter
from transforms.deadletters import dead_letter, describe
from transforms.lib.feedlist import FeedList
from transforms.lib.kept_models import keep_models
from transforms.lib.messages import BadMessage, parse_message
from transforms.lib.times import utc_now
from transforms.stream_io import message_attributes

_LOG = logging.getLogger("newsbeam")
T = TypeVar("T")

# A pull can carry several messages of up to Pub/Sub's own 10 MB limit each (the client's default is 4 MiB:
# one 5 MB message stalled Beam's reader for good).
MAX_RECEIVE_BYTES = 64 << 20
LEASE_SECONDS = 20  # ack deadline set on pulled messages, renewed every LEASE_SECONDS / 4 while they are worked on
IDLE_PULL_SECONDS = 1.0  # a pull's wait when nothing is queued (how soon a stop request is seen)
ACK_CHUNK = 500
BATCHES = ".stream"  # under --output: the folder of the micro-batch being run (removed once it is out)
# Tables each micro-batch writes into --output, and the topic (StreamingConfig field) each is published to.
PUBLISHED = {"records": "output_topic", "duplicates": "duplicates_topic", "dead_letters": "dead_letter_topic",
             "stories": "stories_topic"}
FILES = ("records", "duplicates", "dead_letters", "seen_before", "stories")


class Leased(NamedTuple):
    ack_id: str
    message: PubsubMessage


class Stopped(Exception):
    """The stream was asked to stop while waiting for Pub/Sub."""


class Connection:
    """Whether Pub/Sub answers: one warning when it stops, one line when it is back, with how long it took."""

    def __init__(self, stop: threading.Event):
        self._stop = stop
        self._lost_at: float | None = None
        self.outages = 0
        self.seconds = 0.0

    def call(self, what: str, action: Callable[[], T]) -> T:
        """``action()``, retried with backoff for as long as Pub/Sub is out of reach (raises Stopped on stop)."""
        from google.api_core import exceptions

        delay = 0.5
        while True:
            try:
                result = action()
            except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
                if isinstance(error, exceptions.DeadlineExceeded) and what == "pull":
                    return []  # type: ignore[return-value]  # a pull that waited for nothing
                self._lost(what, error)
                if self._stop.wait(delay):
                    raise Stopped() from None
                delay = min(5.0, delay * 2)
                continue
            self._back()
            return result

    def _lost(self, what: str, error: Exception) -> None:
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            self.outages += 1
            _LOG.warning("lost connection to Pub/Sub (%s: %s); retrying until it is back", what,
                         first_line(error, 200))

    def _back(self) -> None:
        if self._lost_at is not None:
            lasted = time.monotonic() - self._lost_at
            self.seconds += lasted
            self._lost_at = None
            _LOG.warning("Pub/Sub reachable again after %.1f s", lasted)


def subscriber_client() -> Any:
    """A subscriber whose receive limit is above Pub/Sub's 10 MB message limit (emulator: plain loopback gRPC)."""
    import grpc
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

    options = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES), ("grpc.max_send_message_length", -1)]
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST")
    if emulator:
        channel = grpc.insecure_channel(emulator, options=options)
    else:
        channel = SubscriberGrpcTransport.create_channel(options=options)
    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))


class WorkSubscription:
    """Pulls work messages without acknowledging them; leases what is being worked on; acks when told."""

    def __init__(self, subscription: str, connection: Connection):
        self.subscription = subscription
        self._client = subscriber_client()
        self._connection = connection
        self._leased: set[str] = set()
        self._lock = threading.Lock()
        self._renewing = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="newsbeam-lease", daemon=True)
        self._renewer.start()

    def pull(self, max_messages: int, wait_s: float) -> list[Leased]:
        started = time.monotonic()
        response = self._connection.call("pull", lambda: self._client.pull(
            request={"subscription": self.subscription, "max_messages": max_messages}, timeout=wait_s, retry=None))
        received = list(getattr(response, "received_messages", []) or [])
        if not received and time.monotonic() - started < wait_s / 2:
            time.sleep(min(0.2, wait_s))  # an emulator answers an empty pull at once: do not spin
        leased = [Leased(r.ack_id, _message(r.message)) for r in received]
        if leased:
            ack_ids = [m.ack_id for m in leased]
            self._connection.call("lease", lambda: self._modify(ack_ids, LEASE_SECONDS))
            with self._lock:
                self._leased.update(ack_ids)
        return leased

    def ack(self, ack_ids: list[str]) -> None:
        for start in range(0, len(ack_ids), ACK_CHUNK):
            chunk = ack_ids[start:start + ACK_CHUNK]
            self._connection.call("acknowledge", lambda chunk=chunk: self._client.acknowledge(
                request={"subscription": self.subscription, "ack_ids": chunk}))
        with self._lock:
            self._leased.difference_update(ack_ids)

    def give_back(self) -> None:
        """Leased messages not done are offered again at once (a deadline of 0), not after their lease."""
        with self._lock:
            ack_ids, self._leased = list(self._leased), set()
        if ack_ids:
            try:
                self._modify(ack_ids, 0)
            except Exception as error:  # they come back when their lease ends anyway
                _LOG.info("could not hand back %d messages: %s", len(ack_ids), error)

    def close(self) -> None:
        self._renewing.set()
        self.give_back()

    def _modify(self, ack_ids: list[str], seconds: int) -> None:
        for start in range(0, len(ack_ids), ACK_CHUNK):
            self._client.modify_ack_deadline(request={"subscription": self.subscription,
                                                      "ack_ids": ack_ids[start:start + ACK_CHUNK],
                                                      "ack_deadline_seconds": seconds})

    def _renew(self) -> None:
        while not self._renewing.wait(LEASE_SECONDS / 4):
            with self._lock:
                ack_ids = list(self._leased)
            if ack_ids:
                try:
                    self._modify(ack_ids, LEASE_SECONDS)
                except Exception as error:  # an outage: the pull or the ack that follows will report it
                    _LOG.info("lease renewal of %d messages failed: %s", len(ack_ids), error)


def _message(received: Any) -> PubsubMessage:
    publish_time = received.publish_time
    return PubsubMessage(bytes(received.data), dict(received.attributes), message_id=received.message_id,
                         publish_time=publish_time if isinstance(publish_time, datetime) else None)


class Publisher:
    """Publishes a batch's rows and waits until Pub/Sub has every one (failed ones are published again)."""

    def __init__(self, connection: Connection):
        from google.cloud import pubsub_v1

        self._client = pubsub_v1.PublisherClient()
        self._connection = connection

    def publish(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> None:
        pending = list(messages)

        def attempt() -> None:
            nonlocal pending
            futures = [(m, self._client.publish(topic, m[0], **m[1])) for m in pending]
            failed, error = [], None
            for message, future in futures:
                try:
                    future.result(timeout=60)
                except Exception as problem:
                    failed.append(message)
                    error = problem
            pending = failed  # a retry publishes only what did not get through
            if error is not None:
                raise _as_api_error(error)

        if pending:
            self._connection.call("publish", attempt)


def _as_api_error(error: BaseException) -> Exception:
    """A failed publish future as the API error ``Connection`` retries (a timeout is not one already)."""
    from google.api_core import exceptions

    return error if isinstance(error, exceptions.GoogleAPICallError) else exceptions.ServiceUnavailable(str(error))


def row_message(table: str, row: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A written row as the message the streaming graph would publish for it (body, attributes)."""
    if table == "dead_letters":
        kind = "dead_letter"
    elif table == "stories":
        kind = "story"
    else:
        kind = "record" if row.get("duplicate_of") is None else "duplicate"
    return json.dumps(row, ensure_ascii=False).encode("utf-8"), message_attributes(kind, row)


def row_messages(folder: str, table: str) -> list[tuple[bytes, dict[str, str]]]:
    return [row_message(table, row) for row in read_rows(folder, table)]


def batch_stamp(started: datetime, ended: datetime, number: int) -> str:
    """The part of a micro-batch's file names after the table: ``START-END-NNN`` (UTC)."""
    return f"{started:%Y%m%dT%H%M%SZ}-{ended:%Y%m%dT%H%M%SZ}-{number % 1000:03d}"


def first_line(error: object, limit: int = 300) -> str:
    """An error's first line, for a one-line message (its class name when it has no text)."""
    text = str(error).strip().splitlines()
    return text[0][:limit] if text else type(error).__name__


def write_batch_files(output: str, folder: str, stamp: str) -> list[str]:
    """The batch's tables as one file each in ``output`` (``TABLE-STAMP.jsonl``, written aside and renamed)."""
    written = []
    for table in FILES:
        rows = read_rows(folder, table)
        if not rows:
            continue
        final = FileSystems.join(output, f"{table}-{stamp}.jsonl")
        _write_rows(final, rows)
        written.append(final)
    return written


def _write_rows(path: str, rows: list[dict[str, Any]]) -> None:
    """JSON lines written aside and renamed: a reader never sees half a file."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with FileSystems.create(temporary) as handle:
        handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8"))
    FileSystems.rename([temporary], [path])


def poison_dead_letter(leased: Leased, error: BaseException, attempts: int) -> DeadLetter:
    return DeadLetter("stream", "message", describe(leased.message.data), type(error).__name__, "exception",
                      f"its micro-batch failed {attempts} times with it alone: {str(error)[:1500]}", utc_now(), None)


class LocalStream:
    """The loop: gather a micro-batch, run it, write and publish its output, commit the state, acknowledge."""

    def __init__(self, config: RunConfig, beam_args: list[str], feed_list: FeedList, stop: threading.Event,
                 run_once: Callable[..., tuple[int, dict[str, Any]]]):
        self.config = config
        self.beam_args = [a for a in beam_args if a != "--streaming"]
        self.feed_list = feed_list
        self.stop = stop
        self._run_once = run_once
        self.connection = Connection(stop)
        self.totals: Counter[str] = Counter()
        self.batches = 0
        self.failed_runs = 0
        self.poisoned = 0
        self.files_written = 0
        self._stream = config.streaming
        self._next_poll = time.monotonic() if self._stream.poll_interval and feed_list.urls else None
        self._batch_config = dataclasses.replace(
            config, output=FileSystems.join(config.output, BATCHES), progress=False)

    def run(self, store: StateStore) -> None:
        keep_models()  # one model load for the stream, not one per micro-batch
        self._clear_leftovers()
        subscription = (WorkSubscription(self._stream.input_subscription, self.connection)
                        if self._stream.input_subscription else None)
        publisher = Publisher(self.connection) if any(getattr(self._stream, t) for t in PUBLISHED.values()) else None
        state = scheduled.load(store)
        try:
            while not self.stop.is_set():
                feeds = self._feeds_due()
                leased = self._gather(subscription, feeds) if subscription else []
                if not leased and not feeds:
                    if subscription is None:
                        self.stop.wait(0.2)
                    continue
                state = self._run_batch(store, state, subscription, publisher, leased, feeds)
        except Stopped:
            pass
        finally:
            if subscription is not None:
                subscription.close()

    # Gathering
    def _feeds_due(self) -> list[str]:
        if self._next_poll is None or time.monotonic() < self._next_poll:
            return []
        assert self._stream.poll_interval is not None
        self._next_poll = time.monotonic() + self._stream.poll_interval
        return list(self.feed_list.urls)

    def _gather(self, subscription: WorkSubscription, feeds: list[str]) -> list[Leased]:
        limit, got, deadline = self._stream.batch_messages, [], None
        while len(got) < limit and not self.stop.is_set():
            if deadline is None:
                wait = 0.05 if feeds else IDLE_PULL_SECONDS  # feeds due: run them now
            else:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
            pulled = subscription.pull(min(1000, limit - len(got)), max(0.05, wait))
            got += pulled
            if pulled and deadline is None:
                deadline = time.monotonic() + self._stream.batch_wait
            if not got and (feeds or self._feeds_soon()):
                break
        return got

    def _feeds_soon(self) -> bool:
        return self._next_poll is not None and time.monotonic() >= self._next_poll

    # One micro-batch
    def _run_batch(self, store: StateStore, state: scheduled.RunState, subscription: WorkSubscription | None,
                   publisher: Publisher | None, leased: list[Leased], feeds: list[str]) -> scheduled.RunState:
        """Run, write, publish, commit, acknowledge; returns the state after it. A failing batch of several
        messages is done as two batches, its halves; one message that keeps failing is a dead letter."""
        started, clock = datetime.now(UTC), time.monotonic()
        config = dataclasses.replace(self._batch_config, poll_all=True) if feeds else self._batch_config
        leased, malformed = self._sort_out_malformed(leased)
        if malformed:  # they need no pipeline: their dead letters go out at once
            self._emit_rows(subscription, publisher, malformed, [m.ack_id for m, _ in malformed], started)
            print(f"batch {self.batches}: {len(malformed)} malformed messages -> {len(malformed)} dead letters "
                  f"({time.monotonic() - clock:.1f} s)", flush=True)
        if not leased and not feeds:
            return state
        failure: BaseException | None = None
        for attempt in range(1, self._stream.max_attempts + 1):
            try:
                _code, summary = self._run_once(config, self.beam_args, state, FeedList(feeds, []),
                                                [m.message for m in leased])
                break
            except Exception as error:
                failure = error
                self.failed_runs += 1
                _LOG.warning("a micro-batch of %d messages and %d feeds failed (attempt %d; %s: %s)", len(leased),
                             len(feeds), attempt, type(error).__name__, first_line(error))
                if len(leased) > 1:
                    middle = len(leased) // 2
                    state = self._run_batch(store, state, subscription, publisher, leased[:middle], feeds)
                    return self._run_batch(store, state, subscription, publisher, leased[middle:], [])
                if self.stop.is_set():
                    raise Stopped() from None
        else:
            if leased:  # alone, it failed every attempt: a dead letter, never retried forever
                assert failure is not None
                self._poisoned(subscription, publisher, leased[0], failure, self._stream.max_attempts, started)
            return state  # feeds alone: polled again at the next tick
        self.batches += 1
        folder = summary["output"]
        self.totals.update(summary.pop("counters"))
        self.files_written += len(write_batch_files(self.config.output, folder,
                                                    batch_stamp(started, datetime.now(UTC), self.batches)))
        if publisher is not None:
            for table, field in PUBLISHED.items():
                topic = getattr(self._stream, field)
                if topic:
                    publisher.publish(topic, row_messages(folder, table))
        following = scheduled.next_state(state, folder, self.config.dedup_horizon_days, polling=self.config.polling)
        store.commit(scheduled.files(following))
        if subscription is not None and leased:
            subscription.ack([m.ack_id for m in leased])
        runs.remove_run_folder(folder)
        self._report(summary, len(leased), len(feeds), time.monotonic() - clock)
        # Workers of the next batch load the reprint index from the generation just committed.
        return dataclasses.replace(following, reprints_path=store.path_of(scheduled.REPRINTS_FILE),
                                   stories_path=store.path_of(scheduled.STORIES_FILE), health_flags=[])

    def _poisoned(self, subscription: WorkSubscription | None, publisher: Publisher | None, leased: Leased,
                  error: BaseException, attempts: int, started: datetime) -> None:
        dead = poison_dead_letter(leased, error, attempts)
        self.poisoned += 1
        self.totals.update({"messages.in": 1, "dead_letter.message.stream.exception": 1,
                            "out.dead_letters.message": 1})
        _LOG.warning("message %s is a dead letter: %s", leased.message.message_id, dead.message[:300])
        self._emit_rows(subscription, publisher, [(leased, dead._asdict())], [leased.ack_id], started)

    def _sort_out_malformed(self, leased: list[Leased]) -> tuple[list[Leased], list[tuple[Leased, dict[str, Any]]]]:
        """Messages that are not work become dead letters here, for the cost of parsing them: a burst of
        malformed messages never waits for a pipeline (the graph parses the others again, the same way)."""
        work, malformed = [], []
        received_at = utc_now()
        for message in leased:
            try:
                parse_message(message.message.data, message.message.attributes, received_at)
            except BadMessage as error:  # the same dead letter ParseWorkFn makes (its counter is added below)
                dead = dead_letter("read_message", "message", message.message.data, error)
                malformed.append((message, dead._asdict()))
                self.totals.update({"messages.in": 1, f"dead_letter.message.read_message.{error.reason}": 1,
                                    "out.dead_letters.message": 1, "stage_in.read_message": 1})
            else:
                work.append(message)
        return work, malformed

    def _emit_rows(self, subscription: WorkSubscription | None, publisher: Publisher | None,
                   dead: list[tuple[Leased, dict[str, Any]]], ack_ids: list[str], started: datetime) -> None:
        """Dead letters made without a pipeline: their file, their messages, then the acknowledgement."""
        self.batches += 1
        stamp = batch_stamp(started, datetime.now(UTC), self.batches)
        _write_rows(FileSystems.join(self.config.output, f"dead_letters-{stamp}.jsonl"), [row for _, row in dead])
        self.files_written += 1
        if publisher is not None and self._stream.dead_letter_topic:
            publisher.publish(self._stream.dead_letter_topic, [row_message("dead_letters", row) for _, row in dead])
        if subscription is not None:
            subscription.ack(ack_ids)

    def _report(self, summary: dict[str, Any], messages: int, feeds: int, seconds: float) -> None:
        dead = sum(n for unit in summary["dead_letters"].values() for stage in unit.values() for n in stage.values())
        print(f"batch {self.batches}: {messages} messages, {feeds} feeds -> {summary['records']} records, "
              f"{summary['duplicates']} duplicates, {dead} dead letters, "
              f"{summary['invariant']['seen_before']} seen before ({seconds:.1f} s)", flush=True)

    def _clear_leftovers(self) -> None:
        """A killed stream's half-run batch: its messages were never acknowledged, so they come again."""
        base = self._batch_config.output
        if FileSystems.exists(base):
            for folder in FileSystems.match([FileSystems.join(base, f"{runs.RUN_PREFIX}*")])[0].metadata_list:
                runs.remove_run_folder(folder.path.rstrip("/"))


@contextmanager
def stream_state(config: RunConfig) -> Iterator[StateStore]:
    """The local stream's state store (``--state``, default ``OUTPUT/state``), held for the stream's life."""
    store = StateStore(config.state or FileSystems.join(config.output, "state"), keep=config.state_keep)
    with store:
        yield store
