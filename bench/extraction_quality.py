"""Extraction quality on the article-extraction benchmark (../shared/corpora/article-extraction-benchmark).

The metric is the benchmark's own (its README): multiset 4-token shingles of
``\\w+`` tokens, per-page precision/recall averaged, F1 of the averages.

    python bench/extraction_quality.py            # the settings table used to choose ExtractSettings
    python bench/extraction_quality.py --json     # the same as JSON
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

from transforms.lib.extraction import ExtractSettings, extract_page

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "article-extraction-benchmark"
_TOKEN_RE = re.compile(r"\w+")

CANDIDATES = {
    "defaults (comments on)": ExtractSettings(include_comments=True),
    "include_comments=False": ExtractSettings(include_comments=False),
    "favor_precision": ExtractSettings(include_comments=False, favor_precision=True),
    "fast": ExtractSettings(include_comments=False, fast=True),
    "favor_precision + fast": ExtractSettings(include_comments=False, favor_precision=True, fast=True),
    "no tables": ExtractSettings(include_comments=False, include_tables=False),
}


def shingles(text: str) -> Counter:
    tokens = _TOKEN_RE.findall(text or "")
    if len(tokens) < 4:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))


def page_scores(truth: str, predicted: str) -> tuple[float | None, float | None, bool]:
    t, p = shingles(truth), shingles(predicted)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    if total:
        tp, fp, fn = tp / total, fp / total, fn / total
    precision = 1.0 if fp == fn == 0 else (tp / (tp + fp) if tp + fp > 0 else None)
    recall = 1.0 if fp == fn == 0 else (tp / (tp + fn) if tp + fn > 0 else None)
    return precision, recall, _TOKEN_RE.findall(truth) == _TOKEN_RE.findall(predicted or "")


def load_corpus(corpus: Path = CORPUS) -> list[tuple[str, str, str]]:
    """(html, url, true text) per page."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        html = gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
        pages.append((html, item.get("url") or "", item["articleBody"]))
    return pages


def score(predictions: list[str], pages: list[tuple[str, str, str]]) -> dict[str, float]:
    precisions, recalls, exact = [], [], 0
    for predicted, (_html, _url, truth) in zip(predictions, pages):
        p, r, same = page_scores(truth, predicted)
        if p is not None and (predicted or "").strip():
            precisions.append(p)
        if r is not None:
            recalls.append(r if (predicted or "").strip() else 0.0)
        exact += same
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    return {"f1": 2 * precision * recall / (precision + recall), "precision": precision, "recall": recall,
            "accuracy": exact / len(pages)}


def evaluate(settings: ExtractSettings, pages: list[tuple[str, str, str]]) -> dict[str, float]:
    """The project's extract function (what the pipeline's Extract stage calls)."""
    started = time.perf_counter()
    predictions = []
    for html, url, _truth in pages:
        extracted = extract_page(html, url, settings)
        predictions.append(extracted.body if extracted else "")
    result = score(predictions, pages)
    result["pages_per_s"] = len(pages) / (time.perf_counter() - started)
    return result


def evaluate_trafilatura_direct(settings: ExtractSettings, pages: list[tuple[str, str, str]]) -> dict[str, float]:
    """trafilatura.extract called directly with the same settings: the reference."""
    started = time.perf_counter()
    predictions = [trafilatura.extract(html, url=url, include_comments=settings.include_comments,
                                       include_tables=settings.include_tables,
                                       favor_precision=settings.favor_precision, fast=settings.fast) or ""
                   for html, url, _truth in pages]
    result = score(predictions, pages)
    result["pages_per_s"] = len(pages) / (time.perf_counter() - started)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} not found (it ships beside the project in development, not in a clone)")
        return 0
    pages = load_corpus()
    results = {name: evaluate(settings, pages) for name, settings in CANDIDATES.items()}
    results["trafilatura.extract, chosen settings"] = evaluate_trafilatura_direct(ExtractSettings(), pages)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{len(pages)} pages; F1 / precision / recall / exact-match accuracy / pages per second")
    for name, r in results.items():
        print(f"  {name:38s} F1 {r['f1']:.3f}  P {r['precision']:.3f}  R {r['recall']:.3f}  "
              f"acc {r['accuracy']:.3f}  {r['pages_per_s']:.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
