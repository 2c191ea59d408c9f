"""The reprint index at scale, on synthetic documents: cost per document, memory per document, work avoided.

    python bench/dedup_scale.py --sizes 10000 100000        # part of `make bench`
    python bench/dedup_scale.py --sizes 1000000             # `make bench-large`

Documents are ~250-word texts drawn from a Zipf vocabulary (so unrelated
documents share common words, as news does), 10% of them reprints of an
earlier one (half verbatim with a credit line, half edited: a new lead and a
dropped paragraph), published over a week. Each document goes through the
same steps as an article in the pipeline: features (shingles, MinHash,
anchors), candidate lookup, wording scores, verdict, insertion. Meaning
checks (sentence embeddings) are not part of this figure: they run only for
candidate pairs that share names and numbers, and are timed per pair on
real text by ``make bench``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import itertools
import json
import random
import sys
import time

import psutil

from schemas.records import Article
from transforms.lib.fingerprints import article_features
from transforms.lib.reprint_index import ReprintIndex


def _letters(number: int) -> str:
    """A word made of letters only (digits in words would count as numbers, anchors, as they do in news)."""
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word += "abcdefghijklmnopqrstuvwxyz"[digit]
        if not number:
            return word
        number -= 1


VOCABULARY = [_letters(i) for i in range(50_000)]
# Zipf-like word frequencies (rank r has weight 1/(r+10)): common words are
# shared by every text, as "the" and "said" are, without dominating it.
CUMULATIVE_WEIGHTS = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(VOCABULARY))))
NAMES = [_letters(i).capitalize() + "son" for i in range(20_000)]
REPRINT_SHARE = 0.10
REPRINT_REACH = 2000  # a reprint copies one of the 2,000 documents before it


def zipf_words(rng: random.Random, count: int) -> list[str]:
    return rng.choices(VOCABULARY, cum_weights=CUMULATIVE_WEIGHTS, k=count)


def synthetic_documents(n: int, seed: int = 7):
    """(Article, original index or None) for n documents, in publication order."""
    rng = random.Random(seed)
    # Only the last REPRINT_REACH bodies can be copied: a ring of them, not the whole corpus, so the
    # generator's own memory is not counted as the index's.
    recent: list[str] = []
    week_seconds = 7 * 86400
    for i in range(n):
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_790_000_000 + i * week_seconds // n))
        original = None
        if i and rng.random() < REPRINT_SHARE:
            original = rng.randrange(max(0, i - REPRINT_REACH), i)
            copied = recent[original % REPRINT_REACH]
            paragraphs = copied.split("\n\n")
            if rng.random() < 0.5:
                body = copied + "\n\n(Wire)"
            else:
                del paragraphs[rng.randrange(len(paragraphs))]
                body = "A new lead sentence from the desk. " + "\n\n".join(paragraphs)
        else:
            paragraphs = []
            for _ in range(5):
                words = zipf_words(rng, 45)
                words[rng.randrange(1, 45)] = rng.choice(NAMES)
                paragraphs.append(" ".join(words) + ".")
            body = "\n\n".join(paragraphs)
        if i < REPRINT_REACH:
            recent.append(body)
        else:
            recent[i % REPRINT_REACH] = body
        key = f"d{i}"
        article = Article(key, key, None, f"http://s{i % 50}.example/{key}", f"http://s{i % 50}.example/{key}", "",
                          f"s{i % 50}.example", None, None, published, "published", None, None, None, None, [], body,
                          "page", None, published)
        yield article, original


def _settled_rss(process: psutil.Process) -> int:
    """Resident memory once garbage is collected and the C allocator has handed its free pages back: what
    the index holds, not the freed temporaries of 1M feature computations that glibc keeps for reuse."""
    gc.collect()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).malloc_trim(0)
    return process.memory_info().rss


def measure(n: int) -> dict[str, float]:
    index = ReprintIndex(horizon_days=7)
    process = psutil.Process()
    base = _settled_rss(process)
    found = reprints = false = 0
    elapsed = 0.0
    for article, original in synthetic_documents(n):
        started = time.perf_counter()
        verdict = index.assign(article_features(article))
        elapsed += time.perf_counter() - started
        reprints += original is not None
        found += verdict.duplicate_of is not None and original is not None
        false += verdict.duplicate_of is not None and original is None
    current = _settled_rss(process)
    comparisons = index.compared
    all_pairs = n * (n - 1) / 2
    return {
        "documents": n,
        "ms_per_doc": 1000 * elapsed / n,
        "index_bytes_per_doc": max(0, current - base) / max(1, len(index)),
        "indexed": len(index),
        "comparisons": comparisons,
        "pairwise_work_avoided": 1 - comparisons / all_pairs if all_pairs else 0.0,
        "reprint_recall": found / reprints if reprints else 1.0,
        "false_duplicates": false,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(n) for n in args.sizes]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(f"{r['documents']:>9,} docs: {r['ms_per_doc']:.2f} ms/doc, index {r['index_bytes_per_doc'] / 1024:.1f} "
              f"KiB/doc (RSS), {r['comparisons']:,} comparisons, pairwise work avoided "
              f"{100 * r['pairwise_work_avoided']:.4f}%, reprints found {100 * r['reprint_recall']:.1f}%, "
              f"false {r['false_duplicates']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
