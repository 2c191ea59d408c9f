"""Publish -> output latency of the streaming pipeline on DirectRunner against the Pub/Sub emulator.

    python -m bench.stream_latency [--rate 4] [--messages 120]

A steady stream of article messages (``{"url": ...}``, pages from the bench
corpus served on loopback) is published at ``--rate`` per second; each
message's latency is the time from its publish call returning to its record
(or duplicate) arriving on the output subscription. The first
``--warmup`` messages (model loading) are left out of the percentiles.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

from pipeline.cli import build_parser, run_streaming
from pipeline.options import config_from_args
from pipeline.siteserver import SiteServer
from transforms.lib.urls import canonical_url, record_id

CORPUS = Path(__file__).resolve().parent / "corpus"


def page_urls(corpus: Path) -> list[str]:
    """The corpus's article URLs in publication order (story numbers), so reprints follow their originals."""
    site = corpus / "site"
    pages = sorted(site.glob("*/**/*.html"), key=lambda p: p.name)
    return [f"http://{p.relative_to(site).parts[0]}/{'/'.join(p.relative_to(site).parts[1:])}" for p in pages]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(corpus: Path = CORPUS, rate: float = 4.0, messages: int = 120, warmup: int = 10) -> dict:
    from tests.pubsub_emulator import PubSubEmulator, find_emulator_launcher, find_java

    if not (find_emulator_launcher() and find_java()):
        return {"stream_latency_skipped": "no Pub/Sub emulator or Java on this machine"}
    urls = page_urls(corpus)[:messages]
    arrived: dict[str, float] = {}
    with PubSubEmulator() as emulator, SiteServer(corpus / "site") as server, emulator.environ():
        topics = {name: emulator.create_topic(f"bench-{name}") for name in ("work", "records", "duplicates")}
        subs = {name: emulator.create_subscription(f"bench-{name}-sub", topics[name])
                for name in ("records", "duplicates")}
        args = build_parser().parse_args([
            "run", "--input_subscription", emulator.create_subscription("bench-work-sub", topics["work"]),
            "--output_topic", topics["records"], "--duplicates_topic", topics["duplicates"],
            "--output", str(corpus.parent / "work" / "stream"), "--allow_private_networks",
            "--per_host_delay", "0", *server.connect_to_args()])
        stop, done = threading.Event(), threading.Event()
        runner = threading.Thread(target=run_streaming, args=(config_from_args(args), ["--streaming"], stop),
                                  daemon=True)
        runner.start()

        def collect() -> None:
            while not done.is_set():
                for sub in subs.values():
                    for message in emulator.pull(sub, max_messages=100, timeout_s=0.5):
                        arrived.setdefault(message.attributes.get("id", ""), time.monotonic())

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        published: dict[str, float] = {}
        started = time.monotonic()
        for n, url in enumerate(urls):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            emulator.publish(topics["work"], json.dumps({"url": url}).encode())
            published[record_id(canonical_url(url))] = time.monotonic()
        deadline = time.monotonic() + 180
        while not set(published) <= set(arrived) and time.monotonic() < deadline:
            time.sleep(0.2)
        done.set()
        collector.join(timeout=10)
        stop.set()
        runner.join(timeout=120)
    order = list(published)
    latencies = [arrived[i] - published[i] for i in order[warmup:] if i in arrived]
    return {
        "stream_messages": len(urls),
        "stream_rate_per_s": rate,
        "stream_delivered": sum(1 for i in order if i in arrived),
        "stream_latency_p50_s": statistics.median(latencies) if latencies else None,
        "stream_latency_p95_s": percentile(latencies, 0.95) if latencies else None,
        "stream_latency_max_s": max(latencies) if latencies else None,
        "stream_latency_first_s": arrived[order[0]] - published[order[0]] if order and order[0] in arrived else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=4.0, help="messages per second")
    parser.add_argument("--messages", type=int, default=120)
    parser.add_argument("--warmup", type=int, default=10, help="first messages left out of the percentiles")
    args = parser.parse_args()
    if not (CORPUS / "site").is_dir():
        from bench.corpus import build

        build(CORPUS)
    print(json.dumps(measure(CORPUS, args.rate, args.messages, args.warmup), indent=1))


if __name__ == "__main__":
    main()
