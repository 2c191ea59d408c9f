"""Which lines of an article body are the article's own prose, and which words are quoted speech.

Extractors (trafilatura on a page, or a caller's plain text in ``newsbeam
dedup``) leave page furniture in bodies: menus, bylines, captions, "Also
read" teasers, share and subscribe prompts, cookie notices, credit lines,
stock tickers. None of it says whether one article copies another, and all
of it dilutes every share-of-the-text measure, so reprint detection compares
``prose_paragraphs`` only. The filter is per line and conservative: a line is
kept when it reads as a sentence of running text.

Quoted speech is what independent reports of one event share (the same
statement, quoted by every outlet); the reporter's own narrative is what
copies share. ``quoted_flags`` tells the two apart word by word.
"""

from __future__ import annotations

import re
import unicodedata

MIN_PROSE_WORDS = 8
LONG_LINE_WORDS = 30  # a line this long is running text even without a full stop (cut-off excerpts)

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_ENDS_LIKE_SENTENCE_RE = re.compile(r"[.!?:;\u3002\u0964][\"'\u201d\u2019)\]\u00bb]*$")
_FURNITURE_START_RE = re.compile(
    r"^\W*(also read|read more|read also|related|recommended|more from|more on|see also|watch|listen|"
    r"subscribe|sign up|follow us|follow|share|click|tap here|advertisement|sponsored|trending|"
    r"latest|top stories|most read|editor'?s picks?|you may also like|don'?t miss|tags?|filed under|"
    r"image|photo|picture|video|credit|source|copyright|\u00a9|please|join our|download|get the|"
    r"leia também|lea también|lee también|ver también|mais lidas|publicidad|publicidade|lire aussi)\b",
    re.IGNORECASE)
_FURNITURE_ANYWHERE_RE = re.compile(
    r"cookies?\b|privacy policy|terms of (use|service)|all rights reserved|newsletter|"
    r"\b(ap|afp|getty|reuters|epa|ani|pti)\s*(photo|images?)\b|photo\s*:|\(photo|/\s*(afp|ap|reuters|getty)\b|"
    r"\bvia (ap|afp|reuters|getty)\b|enable javascript|your browser|log ?in to|sign in to|"
    r"please enter your|comments? (are|is) closed|leave a (reply|comment)",
    re.IGNORECASE)
# A photo caption closes on the day it was taken: "..., Thailand, July 19, 2024."
_CAPTION_DATE_RE = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}, \d{4}\.?\)?$", re.IGNORECASE)

_OPEN_QUOTES = "\u201c\u00ab\u201e"
_CLOSE_QUOTES = "\u201d\u00bb"


def prose_paragraphs(text: str) -> list[str]:
    """The lines of ``text`` that read as running prose, in order, each once."""
    kept: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or not is_prose(line):
            continue
        key = unicodedata.normalize("NFKC", line).casefold()
        if key in seen:  # a title or paragraph printed twice (headline + og:title, sticky teasers)
            continue
        seen.add(key)
        kept.append(line)
    return kept


def is_prose(line: str) -> bool:
    words = _WORD_RE.findall(line)
    if len(words) < MIN_PROSE_WORDS:
        return False
    if _FURNITURE_START_RE.match(line) or _FURNITURE_ANYWHERE_RE.search(line) or _CAPTION_DATE_RE.search(line):
        return False
    letters = sum(1 for word in words if not word.isdigit())
    if letters < 0.7 * len(words):  # tickers, scores, tables
        return False
    lower = sum(1 for word in words if word[:1].islower())
    if lower < 0.3 * len(words) and _has_case(line):  # menus and headlines in Title Case
        return False
    return bool(_ENDS_LIKE_SENTENCE_RE.search(line)) or len(words) >= LONG_LINE_WORDS


def _has_case(line: str) -> bool:
    """Whether the script distinguishes upper and lower case (Devanagari, Arabic, CJK do not)."""
    return any(ch.isupper() or ch.islower() for ch in line)


def quoted_flags(paragraph: str) -> list[tuple[str, bool]]:
    """The paragraph's words, each with whether it is inside quotation marks.

    Curly and guillemet quotes open and close; a straight double quote
    toggles. A close with no open in the paragraph quotes from the paragraph's
    start (a quotation carried over from the paragraph before), an open with
    no close quotes to its end.
    """
    spans = _quote_spans(paragraph)
    flags = []
    span_index = 0
    for match in _WORD_RE.finditer(paragraph):
        while span_index < len(spans) and spans[span_index][1] <= match.start():
            span_index += 1
        inside = span_index < len(spans) and spans[span_index][0] <= match.start() < spans[span_index][1]
        flags.append((match.group(), inside))
    return flags


def _quote_spans(paragraph: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    for position, char in enumerate(paragraph):
        if char in _OPEN_QUOTES or (char == '"' and opened is None):
            if opened is None:
                opened = position
        elif char in _CLOSE_QUOTES or char == '"':
            start = 0 if opened is None and not spans else opened
            if start is not None:
                spans.append((start, position + 1))
            opened = None
    if opened is not None:
        spans.append((opened, len(paragraph)))
    return spans
