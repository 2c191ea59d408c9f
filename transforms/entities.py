"""Stage 6: canonical records -> records with named entities (spaCy through RunInference).

``EnrichEntities`` takes ``PCollection[NewsRecord]`` and returns
``{"records": PCollection[NewsRecord], "dead_letters": PCollection[DeadLetter]}``.
The model is loaded once per worker by RunInference and applied to batches.
A batch that fails is retried one text at a time; a record whose text still
fails keeps its place without entities (counted as ``entities.failed`` and
logged): its duplicates point at it, so it must not become a dead letter
after dedup. The ``dead_letters`` output stays for runners' wiring.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from schemas.records import Entity, NewsRecord
from transforms.batching import ApplyModel
from transforms.deadletters import busy, count
from transforms.lib.ner import MAX_NER_CHARS, load_spacy_model, merge_mentions
from transforms.tagging import DEAD_LETTERS, MAIN, Tagged, split, tag

_LOG = logging.getLogger(__name__)


class SpacyNerModelHandler(ModelHandler[str, list[Entity], Any]):
    """Text -> merged named entities, with an installed spaCy pipeline."""

    def __init__(self, package: str | None = None, min_batch_size: int = 8, max_batch_size: int = 64,
                 max_chars: int = MAX_NER_CHARS):
        super().__init__()
        self._package = package
        # NER's cost grows with the text; a body's first characters hold most of its leading names
        # (bench/ner_tradeoffs.py measures what a shorter cut keeps). No body is read past MAX_NER_CHARS.
        if max_chars < 1:
            raise ValueError(f"max_chars={max_chars}: NER needs at least one character of each body")
        self._max_chars = min(max_chars, MAX_NER_CHARS)
        self._batch_kwargs = {"min_batch_size": min_batch_size, "max_batch_size": max_batch_size}

    def load_model(self) -> Any:
        return load_spacy_model(self._package)

    def run_inference(self, batch: Sequence[str], model: Any, inference_args: dict[str, Any] | None = None
                      ) -> Iterable[PredictionResult]:
        texts = [text[:self._max_chars] for text in batch]
        with busy("entities"):
            try:
                results = [_entities(doc) for doc in model.pipe(texts, batch_size=len(texts))]
            except Exception:
                results = [_entities_or_failure(model, text) for text in texts]
        for text, result in zip(batch, results):
            yield PredictionResult(text, result)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return self._batch_kwargs

    def get_metrics_namespace(self) -> str:
        return "newsbeam_ner"


def _keyed_for_ner(record: NewsRecord) -> tuple[NewsRecord, str]:
    count("stage_in.entities")
    return record, record.body or ""


class InferenceFailure(Exception):
    reason = "inference_failed"


def _entities(doc: Any) -> list[Entity]:
    return merge_mentions((ent.text, ent.label_, ent.start_char) for ent in doc.ents)


def _entities_or_failure(model: Any, text: str) -> list[Entity] | InferenceFailure:
    try:
        return _entities(model(text))
    except Exception as error:
        return InferenceFailure(f"{type(error).__name__}: {error}")


def _with_entities(item: tuple[NewsRecord, PredictionResult]) -> Iterable[Tagged]:
    record, result = item
    if isinstance(result.inference, InferenceFailure):
        # The record stays, without entities: its duplicates point at it, and an enrichment that failed
        # must not lose the article. The failure is counted and logged, not dropped.
        count("entities.failed")
        _LOG.warning("entities failed for %s: %s", record.url, result.inference)
        yield tag(MAIN, record._replace(entities=[]))
        return
    count("entities.records_with_entities" if result.inference else "entities.records_without_entities")
    yield tag(MAIN, record._replace(entities=list(result.inference)))


class EnrichEntities(beam.PTransform):
    def __init__(self, model_handler: ModelHandler | None = None, portable: bool = False):
        super().__init__()
        self._handler = model_handler or SpacyNerModelHandler()
        self._portable = portable

    def expand(self, records: beam.PCollection) -> dict[str, beam.PCollection]:
        results = (records
                   | "KeyByRecord" >> beam.Map(_keyed_for_ner)
                   | "NER" >> ApplyModel(self._handler, self._portable, key_fn=lambda record: record.id)
                   | "AttachEntities" >> beam.FlatMap(_with_entities))
        outputs = split(results, "Entities", MAIN, DEAD_LETTERS, types={MAIN: NewsRecord})
        return {"records": outputs[MAIN], "dead_letters": outputs[DEAD_LETTERS]}
