"""What a streaming run on a local runner (BundleBasedDirectRunner) needs from its launcher.

On Dataflow or Flink the launcher submits the job and leaves. Locally the
job lives in the launcher's process, and two things Beam's local runner
cannot do are done here instead:

- stopping promptly: its Pub/Sub reader sits up to 30 s in an empty pull
  and ``cancel()`` waits for it, so the launcher publishes wake messages
  while cancelling (the parser drops them: ``transforms.stream_io``);
- polling feeds: it cannot run ``PeriodicImpulse`` (a splittable DoFn it
  does not expand), so ``FeedTicker`` publishes ``{"feed_url"}`` messages
  every ``--poll_interval`` to the input subscription's topic, the same
  work messages any publisher may send.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from transforms.stream_io import WAKE_ATTRIBUTE

CANCEL_WAIT_S = 60
_LOG = logging.getLogger("newsbeam")


class InputTopic:
    """Publishes to the topic behind a subscription (found with the subscription's metadata)."""

    def __init__(self, subscription: str):
        from google.cloud import pubsub_v1

        self.topic = pubsub_v1.SubscriberClient().get_subscription(
            request={"subscription": subscription}, timeout=10).topic
        self._publisher = pubsub_v1.PublisherClient()

    def publish(self, data: bytes, **attributes: str) -> None:
        self._publisher.publish(self.topic, data, **attributes).result(timeout=10)


def input_topic(subscription: str | None) -> InputTopic | None:
    if not subscription:
        return None
    try:
        return InputTopic(subscription)
    except Exception as error:  # no permission to read the subscription's metadata
        _LOG.warning("cannot publish to the topic of %s: %s", subscription, error)
        return None


class FeedTicker(threading.Thread):
    """Publishes one ``{"feed_url": ...}`` message per feed now and every ``interval`` seconds after."""

    def __init__(self, topic: InputTopic, feed_urls: list[str], interval: float):
        super().__init__(name="newsbeam-feed-ticker", daemon=True)
        self._topic, self._feed_urls, self._interval = topic, feed_urls, interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            for url in self._feed_urls:
                try:
                    self._topic.publish(json.dumps({"feed_url": url}).encode("utf-8"), newsbeam_tick="1")
                except Exception as error:
                    _LOG.warning("poll tick for %s not published: %s", url, error)
            self._stopped.wait(self._interval)

    def stop(self) -> None:
        self._stopped.set()


def wait_until_stopped(result: Any, stop: threading.Event | None, topic: InputTopic | None = None
                       ) -> BaseException | None:
    """Block until the pipeline ends, ``stop`` is set or Ctrl-C; cancel it unless it ended. Returns its failure."""
    ended = threading.Event()
    failure: list[BaseException] = []

    def wait() -> None:
        try:
            result.wait_until_finish()
        except BaseException as error:  # the pipeline's own failure, reported by the caller
            failure.append(error)
        finally:
            ended.set()

    threading.Thread(target=wait, name="newsbeam-wait", daemon=True).start()
    try:
        while not ended.wait(0.2):
            if stop is not None and stop.is_set():
                break
    except KeyboardInterrupt:
        print("\nnewsbeam: stopping the stream (Ctrl-C)", flush=True)
    if not ended.is_set():
        cancel(result, topic)
    return failure[0] if failure else None


def cancel(result: Any, topic: InputTopic | None) -> None:
    cancelling = threading.Thread(target=result.cancel, name="newsbeam-cancel", daemon=True)
    cancelling.start()
    deadline = time.monotonic() + CANCEL_WAIT_S
    while cancelling.is_alive() and time.monotonic() < deadline:
        if topic is not None:
            try:
                topic.publish(b"", **{WAKE_ATTRIBUTE: "1"})
            except Exception as error:
                _LOG.info("waking the Pub/Sub reader failed: %s", error)
                topic = None
        cancelling.join(0.2)
