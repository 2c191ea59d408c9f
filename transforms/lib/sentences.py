"""Splitting article text into sentences, for sentence-level comparison."""

from __future__ import annotations

import re

# A sentence ends at . ! ? or the Devanagari danda (optionally followed by a closing quote) before a space
# and a word that does not start in lower case (scripts without case, such as Devanagari, have none).
_BOUNDARY_RE = re.compile(r"(?<=[.!?\u0964])[\"'\u201d\u2019)\u00bb]?\s+"
                          r"(?=[\"'\u201c\u2018(\u00ab\u00bf\u00a1]?[^\W_])")
# Abbreviations that end in a full stop without ending a sentence.
_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Gen.", "Sen.", "Rep.", "Gov.", "Lt.", "Col.",
                  "Sgt.", "Capt.", "Jr.", "Sr.", "No.", "Co.", "Inc.", "Ltd.", "U.S.", "U.K.", "U.N.", "E.U.",
                  "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.", "vs.", "approx.")
MIN_WORDS = 4  # shorter lines (datelines, credits, "Advertisement") are not statements
# A statement ends like one. List items (tour dates, results tables), captions
# and headings do not, and would otherwise align one to one between any two
# articles that print the same list.
_STATEMENT_END_RE = re.compile(r"[.!?\u0964][\"'\u201d\u2019)\]\u00bb]*$")
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
            if merged and (merged[-1].endswith(_ABBREVIATIONS) or _starts_lower(piece)):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        sentences += [s.strip() for s in merged
                      if len(s.split()) >= MIN_WORDS and _STATEMENT_END_RE.search(s.strip())]
        if len(sentences) >= max_sentences:
            break
    return sentences[:max_sentences]


def _starts_lower(piece: str) -> bool:
    """A piece that goes on in lower case continues the sentence before it ("e.g. the", "a.m. on")."""
    first = next((ch for ch in piece if ch.isalpha()), "")
    return first.islower()
