"""``../shared/corpora/reprints-dev``: real news page excerpts labelled as reprint clusters (read its README).

``load()`` gives one document per file in the ``newsbeam dedup`` input shape
(``id``, ``url``, ``title``, ``text``, ``published`` when the page showed a
date, ``source``) plus the labels (``cluster``, ``event``, ``kind``). The
texts are not copied into the project: the set is read where it lies, and
callers skip when it is absent (a user's clone has no ``../shared``).

``folds()`` splits the events in two halves, for choosing thresholds on one
half and reporting on the other.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "reprints-dev"
_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
KIND_NAMES = {"light-edit": "edited"}  # the corpus's kind names -> the evaluation's


def available() -> bool:
    return (CORPUS / "labels.tsv").exists()


def parse_document(raw: str) -> tuple[dict[str, str], str]:
    """(header fields, excerpt) of one file: ``# key: value`` lines, a blank line, then the text as stored."""
    header: dict[str, str] = {}
    lines = raw.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith("# "):
        key, _, value = lines[i][2:].partition(":")
        header[key.strip()] = value.strip()
        i += 1
    return header, "\n".join(lines[i:]).strip()


def load(corpus: Path = CORPUS) -> list[dict]:
    documents = []
    with (corpus / "labels.tsv").open(encoding="utf-8") as handle:
        for label in csv.DictReader(handle, delimiter="\t"):
            header, text = parse_document((corpus / label["file"]).read_text(encoding="utf-8"))
            doc = {"id": Path(label["file"]).stem, "url": label["url"], "text": text, "source": label["outlet"],
                   "cluster": label["cluster_id"], "event": label["event"],
                   "kind": KIND_NAMES.get(label["kind"], label["kind"])}
            title = header.get("title", "")
            if title and "(not in excerpt)" not in title:
                doc["title"] = title.replace("(from URL)", "").strip()
            date = _DATE_RE.search(header.get("published", ""))
            if date:
                doc["published"] = f"{date.group(1)}T12:00:00Z"
            documents.append(doc)
    return documents


def folds(documents: list[dict]) -> tuple[set[str], set[str]]:
    """Two halves of the events, alternating in sorted order (fixed, so every run reports the same folds)."""
    events = sorted({d["event"] for d in documents})
    return set(events[0::2]), set(events[1::2])
