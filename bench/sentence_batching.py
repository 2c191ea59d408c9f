"""Sentence vectors: what batching by a token budget saves on real prose, side by side.

    python -m bench.sentence_batching [--repeat 2]

The sentences are those dedup embeds (``DocFeatures.sentences``: prose lines cut into statements) of two real
sets in ../shared: the true bodies of the article-extraction benchmark (181 news pages) and reprints-dev's 165
page excerpts. Each is encoded as the pipeline does (``encode_documents`` on the packaged MiniLM, this
process's threads), once with the token budget (``BATCH_TOKENS``: a batch holds at most that many tokens once
padded to its longest sentence) and once in fixed batches of 128 sentences, longest first (the setting before
it). Prints ms per sentence and per article for each (best of ``--repeat``), their ratio, and the largest
difference between the two int8 vectors (the vectors must not depend on batching).
"""

from __future__ import annotations

import json

import numpy as np

from bench import reprints_dev, timing
from bench.ner_tradeoffs import CORPUS as EXTRACTION_CORPUS
from bench.ner_tradeoffs import bodies
from bench.timing import best_of
from pipeline.dedup_harness import parse_document
from transforms.lib import embeddings
from transforms.lib.embeddings import encode_documents, load_sentence_model
from transforms.lib.fingerprints import article_features

FIXED_BATCH = 128


def sentences_of(text: str, n: int) -> list[str]:
    """The sentences dedup embeds for ``text`` (``newsbeam dedup``'s input path)."""
    line = json.dumps({"id": f"d{n}", "url": f"http://d{n}.example/a", "text": text})
    return list(article_features(parse_document(line)).sentences)


def extraction_sentences() -> list[list[str]]:
    return [sentences_of(body, n) for n, body in enumerate(bodies())]


def reprints_dev_sentences() -> list[list[str]]:
    return [sentences_of(d["text"], n) for n, d in enumerate(reprints_dev.load())]


def measure_set(model, documents: list[list[str]], repeat: int) -> dict:
    sentences = sum(map(len, documents))
    encode_documents(model, documents[:8])  # warm up
    budget_s, budget_vectors = best_of(lambda: encode_documents(model, documents, batch_size=FIXED_BATCH), repeat)
    model.batch_tokens = 10**9  # no budget: batches of FIXED_BATCH sentences whatever their lengths
    try:
        fixed_s, fixed_vectors = best_of(lambda: encode_documents(model, documents, batch_size=FIXED_BATCH), repeat)
    finally:
        model.batch_tokens = embeddings.BATCH_TOKENS
    difference = max((int(np.abs(np.frombuffer(a, np.int8).astype(int) - np.frombuffer(b, np.int8)).max())
                      for a, b in zip(budget_vectors, fixed_vectors) if a), default=0)
    return {"articles": len(documents), "sentences": sentences,
            "budget_ms_per_sentence": 1000 * budget_s / sentences, "fixed_ms_per_sentence": 1000 * fixed_s / sentences,
            "budget_ms_per_article": 1000 * budget_s / len(documents),
            "fixed_ms_per_article": 1000 * fixed_s / len(documents),
            "fixed_vs_budget": fixed_s / budget_s, "largest_int8_difference": difference}


def measure(repeat: int = 2) -> dict:
    model = load_sentence_model()
    results: dict = {"batch_tokens": embeddings.BATCH_TOKENS, "fixed_batch": FIXED_BATCH}
    if (EXTRACTION_CORPUS / "ground-truth.json").is_file():
        results["extraction_bodies"] = measure_set(model, extraction_sentences(), repeat)
    if reprints_dev.available():
        results["reprints_dev"] = measure_set(model, reprints_dev_sentences(), repeat)
    if len(results) == 2:
        results["skipped"] = "../shared is absent: no real prose to measure"
    return results


if __name__ == "__main__":
    timing.main(__doc__, measure)
