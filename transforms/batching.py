"""Batching for I/O and inference, on any runner.

``Batch`` groups elements into lists. By default it is Beam's
``BatchElements`` (per bundle, adaptive, no shuffle). ``portable=True``
groups through a GroupByKey on a shard key instead, for runners that drop
what a DoFn emits in ``finish_bundle`` (DaskRunner 2.77 does, and
``BatchElements`` emits its last batch there).

``ApplyModel`` runs a ``ModelHandler`` over ``(key, example)`` pairs:
through ``RunInference`` normally, and on portable batches with the same
handler's ``load_model`` / ``run_inference`` otherwise (``RunInference``
batches with ``BatchElements`` internally).
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

PORTABLE_SHARDS = 64


def _shard(element: Any, key_fn: Callable[[Any], str], shards: int) -> tuple[int, Any]:
    return zlib.crc32(key_fn(element).encode("utf-8")) % shards, element


def _chunks(item: tuple[int, Iterable[Any]], size: int) -> Iterable[list[Any]]:
    _shard_key, elements = item
    chunk: list[Any] = []
    for element in elements:
        chunk.append(element)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Batch(beam.PTransform):
    def __init__(self, size: int, portable: bool = False, key_fn: Callable[[Any], str] = repr):
        super().__init__()
        self._size = size
        self._portable = portable
        self._key_fn = key_fn

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        if not self._portable:
            return pcoll | "BatchElements" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._size)
        return (pcoll
                | "Shard" >> beam.Map(_shard, self._key_fn, PORTABLE_SHARDS)
                | "GroupShards" >> beam.GroupByKey()
                | "Chunks" >> beam.FlatMap(_chunks, self._size))


_LOADED: dict[tuple[int, bytes], Any] = {}  # (thread, pickled handler's digest) -> its loaded model
_LOADED_LOCK = threading.Lock()


class _ApplyModelFn(beam.DoFn):
    """A ModelHandler's model, loaded once per worker, over pre-made batches of (key, example)."""

    def __init__(self, handler: ModelHandler):
        self._handler = handler
        self._model = None

    def setup(self) -> None:
        # DaskRunner calls setup once per partition, not per worker: without this a worker loaded the same
        # spaCy model again for every partition (measured: ~100 s of loads and 3 GB per worker on the sample).
        # Kept per thread, so threads never share a model that is not thread-safe.
        key = (threading.get_ident(), hashlib.blake2b(pickle.dumps(self._handler), digest_size=16).digest())
        with _LOADED_LOCK:
            model = _LOADED.get(key)
        if model is None:
            model = self._handler.load_model()
            with _LOADED_LOCK:
                _LOADED[key] = model
        self._model = model

    def process(self, batch: list[tuple[Any, Any]]) -> Iterable[tuple[Any, PredictionResult]]:
        keys = [key for key, _example in batch]
        results = self._handler.run_inference([example for _key, example in batch], self._model)
        yield from zip(keys, results)


class ApplyModel(beam.PTransform):
    """``(key, example)`` -> ``(key, PredictionResult)`` with a ModelHandler."""

    def __init__(self, handler: ModelHandler, portable: bool = False, batch_size: int = 32,
                 key_fn: Callable[[Any], str] = repr):
        super().__init__()
        self._handler = handler
        self._portable = portable
        self._batch_size = batch_size
        self._key_fn = key_fn

    def expand(self, keyed: beam.PCollection) -> beam.PCollection:
        if not self._portable:
            return keyed | "RunInference" >> RunInference(KeyedModelHandler(self._handler))
        return (keyed
                | "Batch" >> Batch(self._batch_size, portable=True, key_fn=lambda kv: self._key_fn(kv[0]))
                | "Apply" >> beam.ParDo(_ApplyModelFn(self._handler)))
