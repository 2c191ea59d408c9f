"""The feed list: ``--feeds`` values are URLs, OPML files or text files of URLs."""

from __future__ import annotations

from typing import NamedTuple

from apache_beam.io.filesystems import FileSystems
from lxml import etree

from transforms.lib.urls import is_http_url

MAX_FEED_LIST_BYTES = 50 * 1024 * 1024


class FeedListProblem(NamedTuple):
    source: str  # the file (or argument) the problem is in
    line: int | None
    value: str
    reason: str  # "not_http_url", "unreadable_opml", "empty_opml"


class FeedList(NamedTuple):
    urls: list[str]  # distinct, in first-seen order
    problems: list[FeedListProblem]


def read_feed_list(values: list[str]) -> FeedList:
    """Expand ``--feeds`` values into feed URLs. Raises FileNotFoundError for a missing file."""
    urls: list[str] = []
    problems: list[FeedListProblem] = []
    for value in values:
        value = value.strip()
        if is_http_url(value):
            urls.append(value)
            continue
        if "://" in value and not value.startswith(("gs://", "s3://", "file://", "hdfs://", "azfs://")):
            problems.append(FeedListProblem("--feeds", None, value, "not_http_url"))
            continue
        if not FileSystems.exists(value):
            raise FileNotFoundError(f"--feeds {value!r} is neither an http(s) URL nor an existing file")
        with FileSystems.open(value) as handle:
            data = handle.read(MAX_FEED_LIST_BYTES + 1)
        if len(data) > MAX_FEED_LIST_BYTES:
            raise ValueError(f"feed list {value!r} is larger than {MAX_FEED_LIST_BYTES} bytes")
        if _looks_like_xml(data) or value.lower().endswith(".opml"):
            found, bad = parse_opml(data, value)
            broken = [p for p in bad if p.reason in ("unreadable_opml", "empty_opml")]
            if broken:  # a list of feeds that cannot be read is an error, not a run over nothing
                raise ValueError(f"feed list {value!r} is not an OPML document: {broken[0].value or 'empty'}")
        else:
            found, bad = parse_url_lines(data, value)
        urls += found
        problems += bad
    return FeedList(list(dict.fromkeys(urls)), problems)


def _looks_like_xml(data: bytes) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
    return head.startswith(b"<?xml") or head.startswith(b"<opml")


def parse_url_lines(data: bytes, source: str) -> tuple[list[str], list[FeedListProblem]]:
    """One URL a line; blank lines and ``#`` comments (whole-line or trailing) are ignored."""
    urls, problems = [], []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        if is_http_url(text):
            urls.append(text)
        else:
            problems.append(FeedListProblem(source, number, text[:500], "not_http_url"))
    return urls, problems


def parse_opml(data: bytes, source: str) -> tuple[list[str], list[FeedListProblem]]:
    """Every ``outline`` with an ``xmlUrl``, at any depth. No entities, no network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        return [], [FeedListProblem(source, None, str(error)[:300], "unreadable_opml")]
    if root is None:
        return [], [FeedListProblem(source, None, "", "empty_opml")]
    urls, problems = [], []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        if is_http_url(url):
            urls.append(url)
        else:
            problems.append(FeedListProblem(source, outline.sourceline, url[:500], "not_http_url"))
    return urls, problems
