"""``make eval-stories``: story grouping scored on real pages (``../shared/corpora/reprints-dev``).

Every document of one labelled ``event`` belongs in one story; documents of
different events in different stories. Scores are pairwise precision and
recall over documents, ARI, and the labelled reprint clusters split across
stories.

Calibration by events, as for reprints: thresholds (``join_score``,
``name_weight``) are chosen on one half of the events and reported on the
other, then the halves swap. They are chosen with the **dates hidden**: the
set's events lie weeks apart, so the story window alone would separate them,
while a real day holds many events at once; content has to tell them apart.
The held-out half is reported with its dates (as a run sees it) and without
(content alone). The reprint clusters come from ``newsbeam dedup`` on the
same documents, as a run would have them.

``--via-cli`` also runs ``newsbeam stories`` (the Beam path) with the shipped
thresholds and checks it gives the in-process stories.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench import reprints_dev
from bench.eval_dedup import adjusted_rand_index, harness_lines, run_newsbeam
from transforms.lib.embeddings import encode_documents, load_sentence_model
from transforms.lib.stories import (
    DEFAULT,
    StoryIndex,
    StoryThresholds,
    StoryUnit,
    assign_stories,
    story_names,
    story_text,
)
from transforms.lib.times import UNKNOWN_TIME

JOIN_SCORES = [round(0.30 + 0.025 * i, 3) for i in range(17)]  # 0.30 .. 0.70
NAME_WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
MIN_PRECISION = 0.95


def document_units(documents: list[dict], clusters: dict[str, str], dated: bool = True) -> list[StoryUnit]:
    """One unit per predicted reprint cluster: its canonical document, with the others as copies."""
    model = load_sentence_model()
    by_id = {d["id"]: d for d in documents}
    members: dict[str, list[str]] = defaultdict(list)
    for doc_id in sorted(by_id):
        members[clusters.get(doc_id, doc_id)].append(doc_id)
    canonical = sorted(members)
    texts = [story_text(by_id[c].get("title"), by_id[c]["text"]) for c in canonical]
    vectors = encode_documents(model, [[t] for t in texts])
    units = []
    for doc_id, vector in zip(canonical, vectors):
        doc = by_id[doc_id]
        time = doc.get("published", UNKNOWN_TIME) if dated else UNKNOWN_TIME
        units.append(StoryUnit(doc_id, time, doc.get("title"), doc.get("source", ""), vector,
                               story_names(doc["text"]), (), tuple(m for m in members[doc_id] if m != doc_id)))
    return units


def stories_of(units: list[StoryUnit], thresholds: StoryThresholds) -> dict[str, str]:
    assignments, _index = assign_stories(units, StoryIndex(thresholds))
    story = {a.record_id: a.story_id for a in assignments}
    for unit in units:
        for copy in unit.copies:
            story[copy] = story[unit.record_id]
    return story


def scores(documents: list[dict], story: dict[str, str]) -> dict:
    tp = fp = fn = 0
    for a, b in itertools.combinations(documents, 2):
        same, together = a["event"] == b["event"], story[a["id"]] == story[b["id"]]
        tp += same and together
        fp += together and not same
        fn += same and not together
    clusters: dict[str, set[str]] = defaultdict(set)
    for doc in documents:
        clusters[doc["cluster"]].add(story[doc["id"]])
    return {
        "documents": len(documents),
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
        "ari": round(adjusted_rand_index({d["id"]: d["event"] for d in documents}, story), 3),
        "stories": len(set(story[d["id"]] for d in documents)),
        "events": len({d["event"] for d in documents}),
        "reprint_clusters_split": sum(len(s) > 1 for s in clusters.values()),
        "false_pairs": fp,
        "pairs": (tp, fp, fn),
    }


def pooled_scores(results: list[dict]) -> dict:
    tp, fp, fn = (sum(r["pairs"][i] for r in results) for i in range(3))
    return {"precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
            "reprint_clusters_split": sum(r["reprint_clusters_split"] for r in results)}


def choose(documents: list[dict], units: list[StoryUnit]) -> StoryThresholds:
    """The highest recall with precision >= MIN_PRECISION (ties: the stricter join score), dates hidden."""
    best: tuple | None = None
    for join_score, name_weight in itertools.product(JOIN_SCORES, NAME_WEIGHTS):
        thresholds = DEFAULT._replace(join_score=join_score, name_weight=name_weight)
        result = scores(documents, stories_of(units, thresholds))
        key = (result["precision"] >= MIN_PRECISION, result["recall"] if result["precision"] >= MIN_PRECISION
               else result["precision"], join_score, -name_weight)
        if best is None or key > best[0]:
            best = (key, thresholds)
    return best[1]


def run_cli(documents: list[dict]) -> dict[str, str]:
    return {line["id"]: line["story_id"] for line in harness_lines("stories", documents)}


def sample_documents_and_stories() -> tuple[list[dict], dict[str, str]]:
    """The bundled sample through ``newsbeam demo``: each article's event from sample/EXPECTED.json (a copy is
    its original's event; the two independent reports named there are one event; every other article is its
    own), and the story the run gave it."""
    from pipeline.cli import main as newsbeam
    from tests.pipeline_run import read_outputs
    from transforms.lib.urls import canonical_url

    expected = json.loads((Path(__file__).resolve().parent.parent / "sample" / "EXPECTED.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        if newsbeam(["demo", "--output", tmp, "--no_progress"]) != 0:
            raise SystemExit("newsbeam demo failed")
        out = read_outputs(Path(tmp))
    rows = out["records"] + out["duplicates"]
    root = {canonical_url(c["url"]): canonical_url(c["duplicate_of"]) for c in expected["duplicates"]}
    event = {}
    for pair in expected["independent"]:
        for url in pair:
            event[canonical_url(url)] = canonical_url(pair[0])
    documents = []
    for row in rows:
        cluster = root.get(row["canonical_url"], row["canonical_url"])
        documents.append({"id": row["id"], "cluster": cluster, "event": event.get(cluster, cluster)})
    return documents, {row["id"]: row["story_id"] for row in rows}


def row(name: str, result: dict) -> str:
    return (f"| {name} | {result['documents']} | {result['precision']:.3f} | {result['recall']:.3f} | "
            f"{result['ari']:.3f} | {result['stories']} / {result['events']} | {result['reprint_clusters_split']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--via-cli", action="store_true", help="also run newsbeam stories and compare")
    args = parser.parse_args(argv)
    if not reprints_dev.available():
        print(f"skipped: {reprints_dev.CORPUS} is not here (it sits beside the project in CI and dev sessions)")
        return 0
    documents = reprints_dev.load()
    clusters = run_newsbeam(documents)
    dated = {u.record_id: u for u in document_units(documents, clusters, dated=True)}
    hidden = {u.record_id: u for u in document_units(documents, clusters, dated=False)}
    halves = reprints_dev.folds(documents)
    header = ["| set | documents | precision | recall | ARI | stories / events | reprint clusters split |",
              "|---|---|---|---|---|---|---|"]
    lines, totals = [], {"dated": [], "hidden": []}
    for fold, (tune, report) in enumerate([(halves[0], halves[1]), (halves[1], halves[0])], 1):
        tune_docs = [d for d in documents if d["event"] in tune]
        report_docs = [d for d in documents if d["event"] in report]
        tune_ids = {d["id"] for d in tune_docs}
        report_ids = {d["id"] for d in report_docs}
        thresholds = choose(tune_docs, [u for i, u in hidden.items() if i in tune_ids])
        print(f"fold {fold}: chosen on {len(tune)} events with dates hidden: join_score {thresholds.join_score}, "
              f"name_weight {thresholds.name_weight}")
        for mode, units in (("dated", dated), ("hidden", hidden)):
            story = stories_of([u for i, u in units.items() if i in report_ids], thresholds)
            result = scores(report_docs, story)
            totals[mode].append((result, story))
            lines.append(row(f"fold {fold} held out, dates {'as given' if mode == 'dated' else 'hidden'}", result))
    on_all = choose(documents, list(hidden.values()))
    print(f"chosen on all {len(halves[0]) + len(halves[1])} events, dates hidden: join_score {on_all.join_score}, "
          f"name_weight {on_all.name_weight} (shipped: {DEFAULT.join_score}, {DEFAULT.name_weight})")
    shipped = {mode: scores(documents, stories_of(list(units.values()), DEFAULT))
               for mode, units in (("dated", dated), ("hidden", hidden))}
    print("\n".join(header + lines))
    for mode in ("dated", "hidden"):
        pooled = pooled_scores([r for r, _ in totals[mode]])
        print(f"held-out folds pooled, dates {'as given' if mode == 'dated' else 'hidden'}: precision "
              f"{pooled['precision']:.3f}, recall {pooled['recall']:.3f}, "
              f"reprint clusters split {pooled['reprint_clusters_split']}")
    print(f"\nshipped thresholds (join_score {DEFAULT.join_score}, name_weight {DEFAULT.name_weight}, "
          f"window {DEFAULT.window_days} days), all {len(documents)} documents:")
    sample_docs, sample_stories = sample_documents_and_stories()
    print("\n".join(header + [row("all events, dates as given", shipped["dated"]),
                              row("all events, dates hidden", shipped["hidden"]),
                              row("own sample (make run; written, not for calibration)",
                                  scores(sample_docs, sample_stories))]))
    if args.via_cli:
        in_process = stories_of(list(dated.values()), DEFAULT)
        via_cli = run_cli(documents)
        groups_cli = {frozenset(i for i in via_cli if via_cli[i] == s) for s in via_cli.values()}
        groups_in = {frozenset(i for i in in_process if in_process[i] == s) for s in in_process.values()}
        print(f"newsbeam stories: {scores(documents, via_cli)}; same stories as in-process: {groups_cli == groups_in}")
        if groups_cli != groups_in:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
