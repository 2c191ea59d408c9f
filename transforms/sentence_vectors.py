"""Sentence embeddings for the articles that need a meaning check (RunInference, MiniLM).

``EmbedSentences`` takes ``PCollection[(entry_key, sentences)]`` and returns
``PCollection[SentenceVectors]``. The model is loaded once per worker and
applied to batches of articles. A batch that fails is retried one article
at a time; an article that still fails is counted and then compared by
wording only (the handler returns None rather than raising).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from schemas.records import SentenceVectors
from transforms.batching import ApplyModel
from transforms.deadletters import busy, count
from transforms.lib.embeddings import encode_documents, load_sentence_model


class SentenceVectorModelHandler(ModelHandler[Sequence[str], bytes, Any]):
    """An article's sentences -> their int8 vectors (bytes), all-MiniLM-L6-v2 from its package."""

    def __init__(self, model_path: str | None = None, min_batch_size: int = 4, max_batch_size: int = 32):
        super().__init__()
        self._model_path = model_path
        self._batch_kwargs = {"min_batch_size": min_batch_size, "max_batch_size": max_batch_size}

    def load_model(self) -> Any:
        return load_sentence_model(self._model_path)

    def run_inference(self, batch: Sequence[Sequence[str]], model: Any, inference_args: dict[str, Any] | None = None
                      ) -> Iterable[PredictionResult]:
        with busy("sentence_vectors"):
            try:
                packed = encode_documents(model, batch)
            except Exception:
                packed = [_encode_or_none(model, sentences) for sentences in batch]
        for sentences, vectors in zip(batch, packed):
            yield PredictionResult(sentences, vectors)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return self._batch_kwargs

    def get_metrics_namespace(self) -> str:
        return "newsbeam_embeddings"


def _encode_or_none(model: Any, sentences: Sequence[str]) -> bytes | None:
    try:
        return encode_documents(model, [sentences])[0]
    except Exception:
        return None


def _to_vectors(item: tuple[str, PredictionResult]) -> Iterable[SentenceVectors]:
    key, result = item
    if result.inference is None:
        count("dedup.embedding_failed")
        return
    count("dedup.articles_embedded")
    yield SentenceVectors(key, result.inference)


class EmbedSentences(beam.PTransform):
    def __init__(self, model_handler: ModelHandler | None = None, portable: bool = False):
        super().__init__()
        self._handler = model_handler or SentenceVectorModelHandler()
        self._portable = portable

    def expand(self, keyed_sentences: beam.PCollection) -> beam.PCollection:
        return (keyed_sentences
                | "Embed" >> ApplyModel(self._handler, self._portable, batch_size=16, key_fn=str)
                | "ToVectors" >> beam.FlatMap(_to_vectors).with_output_types(SentenceVectors))
