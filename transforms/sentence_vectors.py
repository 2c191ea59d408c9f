"""Sentence embeddings for the articles that need a meaning check (RunInference, MiniLM).

``EmbedSentences`` takes ``PCollection[(entry_key, sentences)]`` and returns
``PCollection[SentenceVectors]``. The model is loaded once per worker and
applied to batches of articles; a failed batch is counted, and those
articles are then compared by wording only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from schemas.records import SentenceVectors
from transforms.deadletters import count
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
        for sentences, packed in zip(batch, encode_documents(model, batch)):
            yield PredictionResult(sentences, packed)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return self._batch_kwargs

    def get_metrics_namespace(self) -> str:
        return "newsbeam_embeddings"


def _to_vectors(item: tuple[str, PredictionResult]) -> SentenceVectors:
    key, result = item
    count("dedup.articles_embedded")
    return SentenceVectors(key, result.inference)


def _count_failed(failed: tuple[Any, BaseException]) -> Iterable[None]:
    batch, _error = failed
    count("dedup.embedding_failed", len(batch) if isinstance(batch, (list, tuple)) else 1)
    return []


class EmbedSentences(beam.PTransform):
    def __init__(self, model_handler: ModelHandler | None = None):
        super().__init__()
        self._handler = KeyedModelHandler(model_handler or SentenceVectorModelHandler())

    def expand(self, keyed_sentences: beam.PCollection) -> beam.PCollection:
        main, failed = keyed_sentences | "Embed" >> RunInference(self._handler).with_exception_handling()
        failed.failed_inferences | "CountFailed" >> beam.FlatMap(_count_failed)
        return main | "ToVectors" >> beam.Map(_to_vectors).with_output_types(SentenceVectors)
