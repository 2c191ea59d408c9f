"""The local stream (``pipeline.microbatch``) against the Pub/Sub emulator: throughput and latency.

    python -m bench.stream_latency [--seconds 30]

Work messages are entries with inline content (``{"entry": {url, title, published, content}}``) for the
bench corpus's pages, which are served on loopback and fetched as usual, in publication order so that reprints
follow their originals. Measured, each on a fresh stream (its own topics, output and state; models stay loaded
in the process, as in a long-running stream):

- ``malformed``: 2,000 malformed messages published at once; messages a second until the last dead letter;
- ``backlog``: 300 entry messages published at once (after one warm-up message); entries a second until the
  last output: the sustained rate;
- ``rate_4`` / ``rate_20``: entries published steadily at 4 and 20 a second for ``--seconds``; each message's
  latency is from its publish call returning to its record (or duplicate) arriving on the output topic.
  When the rate is above the sustained rate, latency grows with the length of the test: p95 says so.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import threading
import time
from pathlib import Path

from pipeline.cli import build_parser, run_streaming
from pipeline.options import config_from_args
from pipeline.siteserver import SiteServer
from transforms.lib.urls import canonical_url, record_id

CORPUS = Path(__file__).resolve().parent / "corpus"
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
_TITLE = re.compile(r"<h1>(.*?)</h1>", re.S)
_PUBLISHED = re.compile(r'article:published_time" content="([^"]+)"')


def entry_messages(corpus: Path) -> list[dict]:
    """One entry message per corpus page, its content the page's paragraphs, in publication order."""
    site = corpus / "site"
    messages = []
    for page in sorted(site.glob("*/**/*.html"), key=lambda p: p.name):
        text = page.read_text(encoding="utf-8")
        parts = page.relative_to(site).parts
        messages.append({"entry": {
            "url": f"http://{parts[0]}/{'/'.join(parts[1:])}",
            "title": html.unescape(_TITLE.search(text).group(1)),
            "published": _PUBLISHED.search(text).group(1),
            "content": "\n\n".join(html.unescape(p) for p in _PARAGRAPH.findall(text)[1:]),  # after the byline
        }})
    return messages


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Stream:
    """A fresh local stream in a thread, its topics, and a collector of output arrival times by id."""

    def __init__(self, emulator, server: SiteServer, work: Path, name: str):
        self.emulator = emulator
        self.topics = {t: emulator.create_topic(f"{name}-{t}") for t in ("work", "records", "duplicates", "dead")}
        subs = {t: emulator.create_subscription(f"{name}-{t}-sub", self.topics[t])
                for t in ("work", "records", "duplicates", "dead")}
        self.arrived: dict[str, float] = {}
        self.dead = 0
        args = build_parser().parse_args([
            "run", "--input_subscription", subs["work"], "--output_topic", self.topics["records"],
            "--duplicates_topic", self.topics["duplicates"], "--dead_letter_topic", self.topics["dead"],
            "--output", str(work / name), "--allow_private_networks", "--per_host_delay", "0",
            *server.connect_to_args()])
        self.stop, self._done = threading.Event(), threading.Event()
        self.outcome: dict = {}
        self._runner = threading.Thread(target=lambda: self.outcome.update(
            result=run_streaming(config_from_args(args), ["--streaming"], self.stop)), daemon=True)
        self._collector = threading.Thread(target=self._collect, args=(subs,), daemon=True)

    def __enter__(self) -> Stream:
        self._runner.start()
        self._collector.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.stop.set()
        self._collector.join(timeout=10)
        self._runner.join(timeout=180)

    def _collect(self, subs: dict[str, str]) -> None:
        while not self._done.is_set():
            for name in ("records", "duplicates"):
                for message in self.emulator.pull(subs[name], max_messages=500, timeout_s=0.2):
                    self.arrived.setdefault(message.attributes.get("id", ""), time.monotonic())
            self.dead += len(self.emulator.pull(subs["dead"], max_messages=1000, timeout_s=0.2))

    def publish(self, bodies: list[bytes]) -> float:
        futures = [self.emulator.publisher.publish(self.topics["work"], body) for body in bodies]
        for future in futures:
            future.result(timeout=60)
        return time.monotonic()

    def wait_for(self, ids: set[str], timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while not ids <= set(self.arrived):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return max(self.arrived[i] for i in ids)


def _ids(messages: list[dict]) -> list[str]:
    return [record_id(canonical_url(m["entry"]["url"])) for m in messages]


def measure(corpus: Path = CORPUS, seconds: float = 30.0) -> dict:
    from tests.pubsub_emulator import PubSubEmulator, find_emulator_launcher, find_java

    if not (find_emulator_launcher() and find_java()):
        return {"stream_skipped": "no Pub/Sub emulator or Java on this machine"}
    messages = entry_messages(corpus)
    work = corpus.parent / "work" / "stream"
    results: dict = {}
    with PubSubEmulator() as emulator, SiteServer(corpus / "site") as server, emulator.environ():
        with Stream(emulator, server, work, "malformed") as stream:
            started = time.monotonic()
            stream.publish([b"not json %d" % n for n in range(2000)])
            while stream.dead < 2000 and time.monotonic() - started < 120:
                time.sleep(0.05)
            results["stream_malformed_per_s"] = round(stream.dead / (time.monotonic() - started), 1)
        cursor = 0
        with Stream(emulator, server, work, "backlog") as stream:
            warm, backlog = messages[:1], messages[1:301]
            stream.publish([json.dumps(m).encode() for m in warm])
            stream.wait_for(set(_ids(warm)), 180)  # model loading and the first batch's start-up
            started = time.monotonic()
            stream.publish([json.dumps(m).encode() for m in backlog])
            finished = stream.wait_for(set(_ids(backlog)), 600)
            results["stream_backlog_messages"] = len(backlog)
            results["stream_entries_per_s"] = (round(len(backlog) / (finished - started), 2) if finished else None)
            cursor = 301
        for rate in (4, 20):
            count = int(rate * seconds)
            chunk = messages[cursor:cursor + count]
            cursor += count
            with Stream(emulator, server, work, f"rate{rate}") as stream:
                stream.publish([json.dumps(messages[-1 - rate]).encode()])  # warm-up, not measured
                stream.wait_for(set(_ids([messages[-1 - rate]])), 180)
                published: dict[str, float] = {}
                started = time.monotonic()
                for n, (message, key) in enumerate(zip(chunk, _ids(chunk))):
                    time.sleep(max(0.0, started + n / rate - time.monotonic()))
                    published[key] = stream.publish([json.dumps(message).encode()])
                stream.wait_for(set(published), 600)
                latencies = [stream.arrived[k] - t for k, t in published.items() if k in stream.arrived]
            results[f"stream_rate_{rate}_messages"] = len(published)
            results[f"stream_rate_{rate}_delivered"] = len(latencies)
            results[f"stream_rate_{rate}_p50_s"] = round(statistics.median(latencies), 2) if latencies else None
            results[f"stream_rate_{rate}_p95_s"] = round(percentile(latencies, 0.95), 2) if latencies else None
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each steady rate is published")
    args = parser.parse_args()
    if not (CORPUS / "site").is_dir():
        from bench.corpus import build

        build(CORPUS)
    print(json.dumps(measure(CORPUS, args.seconds), indent=1))


if __name__ == "__main__":
    main()
