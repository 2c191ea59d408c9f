"""Several outputs from one step, in a form every runner supports.

Beam's multi-output ParDo (``with_outputs``) is not translated by every
runner (DaskRunner 2.77 sends every output of a step to every consumer), so
steps here emit ``Tagged`` pairs and ``split`` fans them out with one filter
per tag. On fusing runners the filters cost a function call each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import apache_beam as beam

MAIN = "main"
DEAD_LETTERS = "dead_letters"


class Tagged(NamedTuple):
    tag: str
    value: Any


def tag(name: str, value: Any) -> Tagged:
    return Tagged(name, value)


def _select(item: Tagged, name: str) -> Iterable[Any]:
    if item.tag == name:
        yield item.value


def split(tagged: beam.PCollection, label: str, *names: str, types: dict[str, Any] | None = None
          ) -> dict[str, beam.PCollection]:
    """``{name: PCollection}`` for each tag name, from a PCollection of ``Tagged`` values."""
    outputs = {}
    for name in names:
        select = beam.FlatMap(_select, name)
        if types and name in types:
            select = select.with_output_types(types[name])
        outputs[name] = tagged | f"{label}_{name}" >> select
    return outputs
