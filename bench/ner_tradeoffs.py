"""Named entities: what shorter inputs and other batch sizes cost and lose, on real article bodies.

    python -m bench.ner_tradeoffs [--repeat 2]

The texts are the true bodies of ../shared's article-extraction benchmark (181 real news pages). The reference
is the pipeline's own setting: the whole body (up to ``MAX_NER_CHARS``) through ``nlp.pipe`` in batches of 64.
Each variant reports ms per article (best of ``--repeat``) and what it keeps of the reference's entities:
distinct names, names weighted by their mentions, and each article's five most mentioned names.
No other English NER model installs here without a download (spaCy's md, lg and trf models are not on PyPI), so
the one other model setting measured is the small model with its shared tok2vec, as spaCy loads it by default.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import timing
from bench.timing import best_of
from schemas.records import Entity
from transforms.lib.ner import MAX_NER_CHARS, load_spacy_model, load_spacy_pipeline, merge_mentions

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "article-extraction-benchmark"


def bodies() -> list[str]:
    truth = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    return [page["articleBody"] for _key, page in sorted(truth.items()) if page.get("articleBody")]


def run(nlp, texts: list[str], batch_size: int) -> list[list[Entity]]:
    return [merge_mentions((e.text, e.label_, e.start_char) for e in doc.ents)
            for doc in nlp.pipe(texts, batch_size=batch_size)]


def kept(reference: list[list[Entity]], variant: list[list[Entity]]) -> dict[str, float]:
    distinct = found = weight = found_weight = top = found_top = 0
    for ref, got in zip(reference, variant):
        names = {(e.text, e.label) for e in got}
        distinct += len(ref)
        found += sum((e.text, e.label) in names for e in ref)
        weight += sum(e.count for e in ref)
        found_weight += sum(e.count for e in ref if (e.text, e.label) in names)
        leading = sorted(ref, key=lambda e: (-e.count, e.first_offset))[:5]
        top += len(leading)
        found_top += sum((e.text, e.label) in names for e in leading)
    return {"distinct": round(found / max(1, distinct), 3), "by_mentions": round(found_weight / max(1, weight), 3),
            "top5": round(found_top / max(1, top), 3)}


def measure(repeat: int = 2) -> dict:
    if not (CORPUS / "ground-truth.json").is_file():
        return {"ner_skipped": f"{CORPUS} is absent"}
    texts = bodies()
    nlp = load_spacy_model()
    run(nlp, texts[:10], 16)  # warm-up
    whole = [t[:MAX_NER_CHARS] for t in texts]
    reference_s, reference = best_of(lambda: run(nlp, whole, 64), repeat)
    results = {"articles": len(texts), "median_chars": sorted(len(t) for t in texts)[len(texts) // 2],
               "whole_body_batch_64": {"ms_per_article": round(1000 * reference_s / len(texts), 1)}}
    for batch in (8, 256):
        seconds, _ = best_of(lambda batch=batch: run(nlp, whole, batch), repeat)
        results[f"whole_body_batch_{batch}"] = {"ms_per_article": round(1000 * seconds / len(texts), 1)}
    shared = load_spacy_pipeline(shared_tok2vec=True)
    seconds, variant = best_of(lambda: run(shared, whole, 64), repeat)
    results["whole_body_shared_tok2vec"] = {"ms_per_article": round(1000 * seconds / len(texts), 1),
                                            "kept": kept(reference, variant)}
    for limit in (1000, 2000, 4000):
        cut = [t[:limit] for t in texts]
        seconds, variant = best_of(lambda cut=cut: run(nlp, cut, 64), repeat)
        results[f"first_{limit}_chars"] = {"ms_per_article": round(1000 * seconds / len(texts), 1),
                                           "kept": kept(reference, variant)}
    return results


if __name__ == "__main__":
    timing.main(__doc__, measure)
