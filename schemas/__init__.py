"""Record types (``schemas.records``) and the schemas derived from them (``schemas.derive``)."""

from schemas.records import (
    Article,
    DeadLetter,
    DedupInfo,
    DedupNode,
    DedupVerdict,
    DocFeatures,
    Entity,
    FeedEntry,
    FetchedPage,
    FetchResult,
    Match,
    NewsRecord,
)

__all__ = [
    "Article", "DeadLetter", "DedupInfo", "DedupNode", "DedupVerdict", "DocFeatures", "Entity",
    "FeedEntry", "FetchResult", "FetchedPage", "Match", "NewsRecord",
]
