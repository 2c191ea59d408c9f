"""Dead letters: every stage's second output, and the counters behind the run summary.

A stage DoFn derives from ``StageDoFn`` and implements ``handle``; anything
``handle`` raises becomes a ``DeadLetter`` on the ``DEAD_LETTERS`` output
(see ``transforms.tagging``) instead of failing the bundle. Expected failures raise an exception
with a ``reason`` attribute (``FetchError``, ``BadEntry``...); others are
recorded with reason ``exception`` and their class, so a bug shows up in the
summary as a stage that dead-letters everything.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.derive import to_plain
from schemas.records import DeadLetter
from transforms.lib.times import utc_now
from transforms.tagging import DEAD_LETTERS, MAIN, Tagged, split, tag

NAMESPACE = "newsbeam"
MAX_ELEMENT_CHARS = 4_000

_LOG = logging.getLogger(__name__)


# Beam 2.77's BundleBasedDirectRunner (local streaming) loses counters: its
# StateSampler caches one ScopedState per step, holding the first bundle's
# metrics container, so later bundles count into a container already
# committed. A local streaming run therefore also tallies in process.
_local_tally: Counter[str] | None = None
_local_lock = threading.Lock()


def keep_local_tally() -> Counter[str]:
    """Start (or restart) counting in this process as well; returns the live tally."""
    global _local_tally
    with _local_lock:
        _local_tally = Counter()
        return _local_tally


def drop_local_tally() -> None:
    """Stop counting in this process (the metrics go on)."""
    global _local_tally
    with _local_lock:
        _local_tally = None


def local_tally() -> dict[str, int] | None:
    with _local_lock:
        return dict(_local_tally) if _local_tally is not None else None


def count(name: str, value: int = 1) -> None:
    """Increment the run counter ``name`` (namespace ``newsbeam``)."""
    Metrics.counter(NAMESPACE, name).inc(value)
    if _local_tally is not None:
        with _local_lock:
            _local_tally[name] += value


@contextmanager
def busy(stage: str) -> Iterator[None]:
    """Add the time spent in the block to the counter ``busy_us.STAGE`` (microseconds): summed over a run's
    threads and workers, so a stage can be busy for longer than the run's wall time."""
    started = time.perf_counter()
    try:
        yield
    finally:
        count(f"busy_us.{stage}", int((time.perf_counter() - started) * 1_000_000))


def describe(element: Any) -> str:
    """A JSON description of an element for a dead letter, truncated; bytes are summarised."""
    def default(value: Any) -> Any:
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>"
        return repr(value)[:500]

    try:
        text = json.dumps(to_plain(element), default=default, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(element)
    return text[:MAX_ELEMENT_CHARS]


def dead_letter(stage: str, unit: str, element: Any, error: BaseException, url: str | None = None,
                reason: str | None = None) -> DeadLetter:
    """A DeadLetter for ``element``, counted as ``dead_letter.UNIT.STAGE.REASON``."""
    reason = reason or getattr(error, "reason", None) or "exception"
    count(f"dead_letter.{unit}.{stage}.{reason}")
    return DeadLetter(
        stage=stage,
        unit=unit,
        element=describe(element),
        error_class=type(error).__name__,
        reason=reason,
        message=str(error)[:2000],
        time=utc_now(),
        url=url,
    )


class StageDoFn(beam.DoFn):
    """A DoFn whose failures become dead letters. Subclasses implement ``handle``."""

    stage = "unnamed"
    unit = "entry"  # "feed" for per-feed stages; entries count in the accounting invariant

    def handle(self, element: Any) -> Iterable[Any]:
        """The element's outputs: values, or ``tag(name, value)`` pairs for other outputs."""
        raise NotImplementedError

    def url_of(self, element: Any) -> str | None:
        return getattr(element, "url", None)

    def process(self, element: Any) -> Iterable[Any]:
        count(f"stage_in.{self.stage}")
        try:
            with busy(self.stage):
                outputs = list(self.handle(element))  # all or nothing: an element is never half-emitted
        except Exception as error:
            if getattr(error, "reason", None) is None:
                _LOG.warning("%s failed on an element: %r", self.stage, error, exc_info=True)
            yield tag(DEAD_LETTERS, dead_letter(self.stage, self.unit, element, error, url=self.url_of(element)))
            return
        for output in outputs:
            yield output if isinstance(output, Tagged) else tag(MAIN, output)


def with_dead_letters(pcoll: beam.PCollection, dofn: beam.DoFn, label: str, output_type: Any = None
                      ) -> tuple[beam.PCollection, beam.PCollection]:
    """Apply a DoFn that tags failures as DEAD_LETTERS; returns (main output, dead letters)."""
    tagged = pcoll | label >> beam.ParDo(dofn)
    outputs = split(tagged, label, MAIN, DEAD_LETTERS, types={MAIN: output_type} if output_type else None)
    return outputs[MAIN], outputs[DEAD_LETTERS]
