"""Text helpers: HTML to plain text, decoding pages, normalising for comparison."""

from __future__ import annotations

import codecs
import html
import re
import unicodedata

import lxml.html
from lxml import etree

_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_WHITESPACE_RE = re.compile(r"\s+")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "section", "article")


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Decode a page: declared charset if it decodes cleanly, then the meta tag, then UTF-8, then cp1252.

    A server that labels cp1252 bytes as UTF-8 (common) still gives readable text.
    """
    candidates = [header_charset]
    match = _META_CHARSET_RE.search(body[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii", "ignore"))
    candidates += ["utf-8", "cp1252"]
    for name in candidates:
        if not name or not _known_codec(name):
            continue
        try:
            return body.decode(name)
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", errors="replace")


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def html_to_text(fragment: str | None, max_chars: int = 1_000_000) -> str:
    """Plain text of an HTML fragment (or of text with entities): no tags, scripts or styles.

    Block elements become paragraph breaks; runs of spaces collapse.
    """
    if not fragment:
        return ""
    fragment = fragment[:max_chars]
    if "<" not in fragment:
        return clean_whitespace(html.unescape(fragment))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return clean_whitespace(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    for block in root.iter(*_BLOCK_TAGS):
        block.tail = "\n\n" + (block.tail or "")
    return clean_whitespace(root.text_content())


def clean_whitespace(text: str) -> str:
    """Collapse spaces within lines and keep at most one blank line between paragraphs."""
    paragraphs = [_WHITESPACE_RE.sub(" ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def normalise_for_comparison(text: str) -> str:
    """Lower case, NFKC, typographic quotes and dashes folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.translate(_FOLD)
    return _WHITESPACE_RE.sub(" ", text).strip()


_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u00a0": " "})
_WORD_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Word tokens of normalised text."""
    return _WORD_RE.findall(normalise_for_comparison(text))
