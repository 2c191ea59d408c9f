"""The pipeline's work as a plain sequential Python loop: the baseline for ``pipeline_vs_loop``.

    python -m bench.loop --feeds FEEDS.txt --output OUT --connect_to HOST:80:127.0.0.1:PORT ...

Calls the same functions the pipeline's stages call (the fetcher, feed
parsing, extraction, the reprint index with the same scoring, the spaCy NER
handler's merge, the story index, JSON lines), one element at a time, and times each stage.
Prints one JSON object: articles, seconds per stage, wall seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from schemas.records import FetchedPage
from transforms.lib.embeddings import encode_documents, load_sentence_model
from transforms.lib.extraction import ExtractSettings, NoText, build_article
from transforms.lib.feedlist import read_feed_list
from transforms.lib.feedparse import parse_feed
from transforms.lib.fingerprints import article_features
from transforms.lib.http import Fetcher, FetchError, FetchSettings
from transforms.lib.ner import load_spacy_model, merge_mentions
from transforms.lib.netpolicy import ConnectTo
from transforms.lib.records import CANONICAL, record_from_article
from transforms.lib.reprint_index import ReprintIndex
from transforms.lib.stories import StoryIndex, order_key, story_text
from transforms.lib.text import decode_html
from transforms.lib.times import utc_now
from transforms.sinks import to_json_line
from transforms.stories import story_unit


def run(feeds: list[str], output: Path, settings: FetchSettings, dedup: bool = True, entities: bool = True,
        stories: bool = True) -> dict:
    started = time.perf_counter()
    seconds: dict[str, float] = defaultdict(float)

    def timed(stage: str, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds[stage] += time.perf_counter() - t0

    fetcher = Fetcher(settings)
    nlp = timed("entities", load_spacy_model) if entities else None
    sentence_model = None

    def embed(sentences: list[str]) -> bytes:
        nonlocal sentence_model
        if sentence_model is None:
            sentence_model = load_sentence_model()
        return encode_documents(sentence_model, [sentences])[0]

    entries, seen = [], set()
    for feed_url in read_feed_list(feeds).urls:
        try:
            result = timed("fetch", fetcher.fetch, feed_url, "feed")
        except FetchError:
            continue
        for entry in timed("extract", lambda r: parse_feed(r).entries, result):
            if entry.canonical_url not in seen:
                seen.add(entry.canonical_url)
                entries.append(entry)

    articles = []
    for entry in entries:
        try:
            fetched = timed("fetch", fetcher.fetch, entry.url, "page")
            page = FetchedPage(entry, decode_html(fetched.body, fetched.charset), fetched.final_url, fetched.status,
                               None, fetched.fetched_at)
        except FetchError as error:
            page = FetchedPage(entry, None, None, error.status, f"{error.reason}: {error}", utc_now())
        try:
            articles.append(timed("extract", build_article, page, ExtractSettings()))
        except NoText:
            continue

    index = ReprintIndex(horizon_days=7)
    records, duplicates = [], []
    # Publication order (ties by id): the order the pipeline's verdict step visits articles in.
    for article in sorted(articles, key=lambda a: (a.published, a.id, a.entry_key)):
        if dedup:
            features = timed("dedup", article_features, article)
            verdict = timed("dedup", index.assign, features, embed)
            duplicate_of, info = verdict.duplicate_of, verdict.info
        else:
            duplicate_of, info = None, CANONICAL
        record = record_from_article(article, duplicate_of, info)
        (duplicates if duplicate_of else records).append(record)

    if entities:
        for i, record in enumerate(records):
            doc = timed("entities", nlp, (record.body or "")[:100_000])
            mentions = ((ent.text, ent.label_, ent.start_char) for ent in doc.ents)
            records[i] = record._replace(entities=merge_mentions(mentions))

    if stories:
        story_model = timed("stories", load_sentence_model)
        units = []
        for record in records:
            unit = timed("stories", story_unit, record)
            text = timed("stories", story_text, record.title, record.body or "")
            vector = timed("stories", encode_documents, story_model, [[text or "-"]])[0]
            units.append(unit._replace(vector=vector))
        story_index = StoryIndex()
        story_of = {u.record_id: timed("stories", story_index.add, u).story_id for u in sorted(units, key=order_key)}
        for d in duplicates:
            timed("stories", story_index.add_copy, d.duplicate_of, d.id)
        records = [r._replace(story_id=story_of.get(r.id)) for r in records]
        duplicates = [d._replace(story_id=story_index.story_of(d.id)) for d in duplicates]
        story_rows = timed("stories", story_index.rows)
    else:
        story_rows = []

    def write() -> None:
        output.mkdir(parents=True, exist_ok=True)
        for name, rows in (("records", records), ("duplicates", duplicates), ("stories", story_rows)):
            (output / f"{name}.jsonl").write_text("".join(to_json_line(r) + "\n" for r in rows), encoding="utf-8")

    timed("write", write)
    return {"articles": len(articles), "records": len(records), "duplicates": len(duplicates),
            "stage_seconds": dict(seconds), "wall_seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", action="append", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--connect_to", action="append", default=[])
    parser.add_argument("--no_dedup", dest="dedup", action="store_false")
    parser.add_argument("--no_entities", dest="entities", action="store_false")
    parser.add_argument("--no_stories", dest="stories", action="store_false")
    args = parser.parse_args()
    settings = FetchSettings(allow_private_networks=True, per_host_delay=0.0,
                             connect_to=tuple(ConnectTo.parse(c) for c in args.connect_to))
    print(json.dumps(run(args.feeds, Path(args.output), settings, args.dedup, args.entities, args.stories)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
