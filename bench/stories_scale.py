"""The story index's cost at a day's size and beyond: ms per article, memory per article.

    python -m bench.stories_scale --sizes 10000 25000 [--json]

Synthetic units (no model: vectors are drawn here), as a run gives them to
the index: 2,500 articles a day, about a third of them in stories of 2 to 6
reports spread over a day or two, the rest lone reports; each with 30 names
from a shared pool and a few of its event's own. Measured: the time of
``StoryIndex.add`` for every unit in publication order (what the stories
stage does after the vectors), the index's memory (tracemalloc, Python and
numpy), and its serialised size in the state.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

import numpy as np

from transforms.lib.embeddings import DIMENSIONS
from transforms.lib.stories import StoryIndex, StoryUnit

PER_DAY = 2500
POOL = [f"common{i}" for i in range(3000)]


def units(n: int, seed: int = 1) -> tuple[list[StoryUnit], dict[str, int]]:
    rng = np.random.default_rng(seed)
    out, event_of = [], {}
    event = 0
    while len(out) < n:
        size = int(rng.integers(2, 7)) if rng.random() < 0.12 else 1
        centre = rng.normal(size=DIMENSIONS)
        centre /= np.linalg.norm(centre)
        own = [f"e{event}n{k}" for k in range(6)]
        start = len(out) / PER_DAY
        for _ in range(min(size, n - len(out))):
            noise = rng.normal(size=DIMENSIONS)
            v = 0.75 * centre + 0.66 * noise / np.linalg.norm(noise)
            packed = np.clip(np.round(v / np.linalg.norm(v) * 127), -127, 127).astype(np.int8).tobytes()
            day = start + float(rng.random()) * 1.5
            names = tuple(sorted(set(rng.choice(POOL, 24).tolist()) | set(rng.choice(own, 4).tolist())))
            stamp = np.datetime64("2026-11-01T00:00:00") + np.timedelta64(int(day * 86400), "s")
            record_id = f"r{len(out):07d}"
            out.append(StoryUnit(record_id, f"{stamp}Z", f"title {record_id}", "x.example", packed, names))
            event_of[record_id] = event
        event += 1
    return sorted(out, key=lambda u: (u.time, u.record_id)), event_of


def measure(n: int) -> dict:
    data, event_of = units(n)
    tracemalloc.start()
    index = StoryIndex()
    started = time.perf_counter()
    story = {u.record_id: index.add(u).story_id for u in data}
    seconds = time.perf_counter() - started
    memory, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    state_bytes = len(index.to_bytes())
    by_event: dict[int, set[str]] = {}
    by_story: dict[str, set[int]] = {}
    for record_id, story_id in story.items():
        by_event.setdefault(event_of[record_id], set()).add(story_id)
        by_story.setdefault(story_id, set()).add(event_of[record_id])
    return {"articles": n, "stories": len(index), "ms_per_article": round(1000 * seconds / n, 3),
            "index_bytes_per_article": round(memory / n), "state_bytes_per_article": round(state_bytes / n),
            "events_split": sum(len(s) > 1 for s in by_event.values()), "events": len(by_event),
            "stories_mixing_events": sum(len(e) > 1 for e in by_story.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(n) for n in args.sizes]
    print(json.dumps(results) if args.json else "\n".join(map(str, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
