"""Score reprint detection on the labelled set (tests/data/dedup_eval.jsonl), beside a shingle baseline.

    make eval-dedup          # or: python bench/eval_dedup.py [--json]

Runs ``newsbeam dedup`` (the pipeline's dedup stage, through Beam) on the
set, plus the reference pair when ../shared is present (the Nigerian
Tribune's rewrite of a BBC report, and the project's own BBC-style wording
of it, tests/data/seed_bbc_style.txt). Prints pairwise precision, recall and
F1 overall and per kind of copy, the adjusted Rand index, false merges of
same-event independent reports, and the same for the baseline: word
5-shingle Jaccard >= 0.5, clustered by connected components.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections import Counter
from math import comb
from pathlib import Path

from pipeline.cli import main as newsbeam
from transforms.lib.fingerprints import shingle_hashes

PROJECT = Path(__file__).resolve().parent.parent
LABELLED = PROJECT / "tests" / "data" / "dedup_eval.jsonl"
SEED = PROJECT.parent / "shared" / "seeds" / "tribune_reprint_of_bbc.txt"
SEED_REWRITE = PROJECT / "tests" / "data" / "seed_bbc_style.txt"
BASELINE_JACCARD = 0.5


def load_documents() -> list[dict]:
    documents = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    if SEED.exists():
        tribune = SEED.read_text(encoding="utf-8").split("ALSO READ")[0].strip()
        documents += [
            {"id": "seed-bbc", "url": "https://www.bbc.example/news/world-us-canada-mines", "source": "BBC",
             "title": "Biden approves anti-personnel mines for Ukraine", "published": "2024-11-20T06:00:00Z",
             "text": SEED_REWRITE.read_text(encoding="utf-8"), "cluster": "seed-bbc", "kind": "original",
             "event": "seed"},
            {"id": "seed-tribune", "url": "https://tribuneonline.example/us-approves-mines", "source": "Tribune",
             "title": "US approves anti-personnel mines for Ukraine", "published": "2024-11-20T14:00:00Z",
             "text": tribune, "cluster": "seed-bbc", "kind": "paraphrase", "event": "seed"},
        ]
    return documents


def run_newsbeam(documents: list[dict]) -> dict[str, str]:
    """Cluster id per document id, from the dedup harness."""
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "docs.jsonl", Path(tmp) / "verdicts.jsonl"
        fields = ("id", "url", "title", "text", "published", "source")
        source.write_text("".join(json.dumps({k: d[k] for k in fields if k in d}) + "\n" for d in documents))
        if newsbeam(["dedup", "--input", str(source), "--output", str(output)]) != 0:
            raise SystemExit("newsbeam dedup failed")
        verdicts = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    return {v["id"]: v["cluster_id"] for v in verdicts}


def run_baseline(documents: list[dict]) -> dict[str, str]:
    shingles = {d["id"]: set(shingle_hashes(d["text"])) for d in documents}
    parent = {d["id"]: d["id"] for d in documents}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in itertools.combinations(shingles, 2):
        union = shingles[a] | shingles[b]
        if union and len(shingles[a] & shingles[b]) / len(union) >= BASELINE_JACCARD:
            parent[find(a)] = find(b)
    return {doc_id: find(doc_id) for doc_id in parent}


def adjusted_rand_index(truth: dict[str, str], predicted: dict[str, str]) -> float:
    ids = list(truth)
    table = Counter((truth[i], predicted[i]) for i in ids)
    rows, cols = Counter(truth[i] for i in ids), Counter(predicted[i] for i in ids)
    index = sum(comb(n, 2) for n in table.values())
    row_sum, col_sum = sum(comb(n, 2) for n in rows.values()), sum(comb(n, 2) for n in cols.values())
    expected = row_sum * col_sum / comb(len(ids), 2)
    maximum = (row_sum + col_sum) / 2
    return (index - expected) / (maximum - expected) if maximum != expected else 1.0


def pair_scores(documents: list[dict], predicted: dict[str, str]) -> dict:
    by_id = {d["id"]: d for d in documents}
    truth = {d["id"]: d["cluster"] for d in documents}
    tp = fp = fn = 0
    per_kind: dict[str, Counter] = {}
    hard_negatives = false_merges = 0
    for a, b in itertools.combinations(sorted(by_id), 2):
        same_true, same_pred = truth[a] == truth[b], predicted[a] == predicted[b]
        tp += same_true and same_pred
        fp += same_pred and not same_true
        fn += same_true and not same_pred
        if not same_true and by_id[a]["event"] == by_id[b]["event"]:
            hard_negatives += 1
            false_merges += same_pred
        # A pair belongs to the kind of its copy (the later of the two when both are copies).
        kinds = [by_id[x]["kind"] for x in (a, b) if by_id[x]["kind"] != "original"]
        if same_true or same_pred:
            kind = max(kinds, key=["verbatim", "edited", "translated", "paraphrase"].index) if kinds else "original"
            counts = per_kind.setdefault(kind, Counter())
            counts["tp"] += same_true and same_pred
            counts["fp"] += same_pred and not same_true
            counts["fn"] += same_true and not same_pred
    result = {"overall": prf(tp, fp, fn), "per_kind": {k: prf(c["tp"], c["fp"], c["fn"]) for k, c in
                                                     sorted(per_kind.items())},
              "ari": adjusted_rand_index(truth, predicted), "hard_negative_pairs": hard_negatives,
              "false_merges_of_hard_negatives": false_merges}
    return result


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "pairs": tp + fn}


def render(name: str, scores: dict) -> str:
    o = scores["overall"]
    lines = [f"{name}: precision {o['precision']:.3f}  recall {o['recall']:.3f}  F1 {o['f1']:.3f}  "
             f"ARI {scores['ari']:.3f}  false merges of hard negatives {scores['false_merges_of_hard_negatives']}"
             f"/{scores['hard_negative_pairs']}"]
    for kind, k in scores["per_kind"].items():
        lines.append(f"    {kind:11s} precision {k['precision']:.3f}  recall {k['recall']:.3f}  F1 {k['f1']:.3f}"
                     f"  ({k['pairs']} true pairs)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    documents = load_documents()
    results = {"documents": len(documents), "clusters": len({d["cluster"] for d in documents}),
               "seed_pair_included": SEED.exists(),
               "newsbeam": pair_scores(documents, run_newsbeam(documents)),
               "baseline_shingle_jaccard": pair_scores(documents, run_baseline(documents))}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{results['documents']} documents, {results['clusters']} clusters"
          + ("" if results["seed_pair_included"] else " (../shared absent: seed pair left out)"))
    print(render("newsbeam", results["newsbeam"]))
    print(render(f"baseline (shingle Jaccard >= {BASELINE_JACCARD})", results["baseline_shingle_jaccard"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
