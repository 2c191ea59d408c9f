"""Stage 6: canonical records -> records with named entities (spaCy through RunInference).

``EnrichEntities`` takes ``PCollection[NewsRecord]`` and returns
``{"records": PCollection[NewsRecord], "dead_letters": PCollection[DeadLetter]}``.
The model is loaded once per worker by RunInference and applied to batches;
a batch that fails becomes one dead letter per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from schemas.records import Entity, NewsRecord
from transforms.deadletters import count, dead_letter
from transforms.lib.ner import MAX_NER_CHARS, load_spacy_model, merge_mentions


class SpacyNerModelHandler(ModelHandler[str, list[Entity], Any]):
    """Text -> merged named entities, with an installed spaCy pipeline."""

    def __init__(self, package: str | None = None, min_batch_size: int = 8, max_batch_size: int = 64):
        super().__init__()
        self._package = package
        self._batch_kwargs = {"min_batch_size": min_batch_size, "max_batch_size": max_batch_size}

    def load_model(self) -> Any:
        return load_spacy_model(self._package)

    def run_inference(self, batch: Sequence[str], model: Any, inference_args: dict[str, Any] | None = None
                      ) -> Iterable[PredictionResult]:
        texts = [text[:MAX_NER_CHARS] for text in batch]
        for text, doc in zip(batch, model.pipe(texts, batch_size=len(texts))):
            mentions = ((ent.text, ent.label_, ent.start_char) for ent in doc.ents)
            yield PredictionResult(text, merge_mentions(mentions))

    def batch_elements_kwargs(self) -> dict[str, int]:
        return self._batch_kwargs

    def get_metrics_namespace(self) -> str:
        return "newsbeam_ner"


def _keyed_for_ner(record: NewsRecord) -> tuple[NewsRecord, str]:
    count("stage_in.entities")
    return record, record.body or ""


def _with_entities(item: tuple[NewsRecord, PredictionResult]) -> NewsRecord:
    record, result = item
    count("entities.records_with_entities" if result.inference else "entities.records_without_entities")
    return record._replace(entities=list(result.inference))


def _failed_batch_to_dead_letters(failed: tuple[Any, BaseException]) -> Iterable[Any]:
    batch, error = failed
    for element in batch if isinstance(batch, (list, tuple)) else [batch]:
        record = element[0] if isinstance(element, tuple) else element
        yield dead_letter("entities", "entry", record, error, url=getattr(record, "url", None),
                          reason="inference_failed")


class EnrichEntities(beam.PTransform):
    def __init__(self, model_handler: ModelHandler | None = None):
        super().__init__()
        self._handler = KeyedModelHandler(model_handler or SpacyNerModelHandler())

    def expand(self, records: beam.PCollection) -> dict[str, beam.PCollection]:
        keyed = records | "KeyByRecord" >> beam.Map(_keyed_for_ner)
        main, failed = keyed | "NER" >> RunInference(self._handler).with_exception_handling()
        enriched = main | "AttachEntities" >> beam.Map(_with_entities).with_output_types(NewsRecord)
        dead = failed.failed_inferences | "NerDeadLetters" >> beam.FlatMap(_failed_batch_to_dead_letters)
        return {"records": enriched, "dead_letters": dead}
