"""Stage 4: fetched pages -> articles (trafilatura, with the feed's content as fallback).

``ExtractArticles`` takes ``PCollection[FetchedPage]`` and returns
``{"articles": PCollection[Article], "dead_letters": PCollection[DeadLetter]}``.
An entry with neither page text nor feed text is a dead letter.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from schemas.records import Article, FetchedPage
from transforms.deadletters import StageDoFn, count, with_dead_letters
from transforms.lib.extraction import ExtractSettings, build_article


class ExtractArticleFn(StageDoFn):
    stage = "extract"
    unit = "entry"

    def __init__(self, settings: ExtractSettings):
        self._settings = settings

    def url_of(self, page: FetchedPage) -> str:
        return page.entry.url

    def handle(self, page: FetchedPage) -> Iterable[Article]:
        article = build_article(page, self._settings)
        count(f"bodies.from_{article.body_source}")
        yield article


class ExtractArticles(beam.PTransform):
    def __init__(self, settings: ExtractSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pages: beam.PCollection) -> dict[str, beam.PCollection]:
        articles, dead = with_dead_letters(pages, ExtractArticleFn(self._settings), "Extract", Article)
        return {"articles": articles, "dead_letters": dead}
