"""Splitting article text into sentences, for sentence-level comparison."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (optionally followed by a closing quote) before a
# space and an upper-case letter, digit or opening quote.
_BOUNDARY_RE = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c\u2018(]?[A-Z0-9])")
# Abbreviations that end in a full stop without ending a sentence.
_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Gen.", "Sen.", "Rep.", "Gov.", "Lt.", "Col.",
                  "Sgt.", "Capt.", "Jr.", "Sr.", "No.", "Co.", "Inc.", "Ltd.", "U.S.", "U.K.", "U.N.", "E.U.",
                  "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.", "vs.", "approx.")
MIN_WORDS = 4  # shorter lines (datelines, credits, "Advertisement") are not statements
# A statement ends like one. List items (tour dates, results tables), captions
# and headings do not, and would otherwise align one to one between any two
# articles that print the same list.
_STATEMENT_END_RE = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
MAX_SENTENCES = 80  # long articles are compared on their first 80 sentences


def split_sentences(text: str, max_sentences: int = MAX_SENTENCES) -> list[str]:
    """The statements of a text, in order: paragraphs split into sentences of at least MIN_WORDS words."""
    sentences: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        pieces = _BOUNDARY_RE.split(paragraph)
        merged: list[str] = []
        for piece in pieces:
            if merged and merged[-1].endswith(_ABBREVIATIONS):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        sentences += [s.strip() for s in merged
                      if len(s.split()) >= MIN_WORDS and _STATEMENT_END_RE.search(s.strip())]
        if len(sentences) >= max_sentences:
            break
    return sentences[:max_sentences]
