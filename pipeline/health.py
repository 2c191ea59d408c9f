"""Source health across scheduled runs: each source's recent history, and the sources an operator should look at.

With ``--state``, every run adds one snapshot per source it saw (from its
``sources-*.jsonl``, ``transforms.sources``) to that source's history in the
state (``sources.json``, the last ``HISTORY_RUNS``). A source is flagged when,
against its own recent past (not a global threshold: sites differ):

``extraction_degraded``
    its pages stopped giving article text, as after a site redesign: the
    median body extracted from its pages fell below ``COLLAPSE_RATIO`` of
    its usual length, or the share of its pages that were thin (the feed's
    text used instead) or identical to another page of it (the extractor
    keeps boilerplate) rose by ``RISE`` or more;
``failing``
    in each of its last ``FAILING_RUNS`` runs, at least ``FAILING_SHARE`` of
    its entries had no page (errors, not robots.txt refusals), or its feed
    failed with nothing read.

A source needs ``BASELINE_RUNS`` earlier runs with ``MIN_ARTICLES`` articles
before it can be judged degraded, and a run judges only with
``MIN_ARTICLES`` of its own: two articles say nothing about a template.
"""

from __future__ import annotations

from statistics import median
from typing import Any

HISTORY_RUNS = 10
FORGET_AFTER_DAYS = 30  # a source no run has seen for this long leaves the state
MIN_ARTICLES = 3
BASELINE_RUNS = 2
COLLAPSE_RATIO = 0.5
MIN_USUAL_CHARS = 400  # a source whose pages were always short cannot collapse
RISE = 0.5
FAILING_RUNS = 3
FAILING_SHARE = 0.5
NOT_FAILURES = frozenset({"robots_disallowed"})  # the site's policy, honoured: not a fault


def snapshot(row: dict[str, Any], run: str) -> dict[str, Any]:
    """The figures of one source in one run that its history keeps (a ``SourceRun`` row, as written)."""
    articles = row["bodies_from_page"] + row["bodies_from_feed"]
    failures = sum(c["count"] for c in row["page_failures"] if c["name"] not in NOT_FAILURES)
    return {
        "run": run,
        "entries": row["entries"],
        "articles": articles,
        "median_page_body_chars": row["median_page_body_chars"],
        "thin_share": _share(row["thin_pages"], articles),
        "from_feed_share": _share(row["bodies_from_feed"], articles),
        "repeated_share": _share(row["repeated_page_bodies"], row["bodies_from_page"]),
        "failure_share": _share(failures, row["entries"]),
        "feed_failed": row["feed_failures"] > 0 and row["entries"] == 0,
    }


def next_history(previous: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]], run: str,
                 forget_before: str = "") -> dict[str, list[dict[str, Any]]]:
    """``previous`` with this run's snapshots added (the last ``HISTORY_RUNS`` kept per source), less the
    sources whose last run was before ``forget_before`` (ISO time)."""
    history = {source: list(snapshots) for source, snapshots in previous.items()}
    for row in rows:
        kept = [s for s in history.get(row["source_domain"], []) if s["run"] != run]
        history[row["source_domain"]] = (kept + [snapshot(row, run)])[-HISTORY_RUNS:]
    return {source: snaps for source, snaps in history.items() if snaps and snaps[-1]["run"] >= forget_before}


def flags(history: dict[str, list[dict[str, Any]]], run: str) -> list[dict[str, str]]:
    """The sources this run saw that need a look: ``{"source", "flag", "detail"}``, sorted."""
    found = []
    for source, snapshots in sorted(history.items()):
        if not snapshots or snapshots[-1]["run"] != run:
            continue
        degraded = _degraded(snapshots)
        if degraded:
            found.append({"source": source, "flag": "extraction_degraded", "detail": degraded})
        failing = _failing(snapshots)
        if failing:
            found.append({"source": source, "flag": "failing", "detail": failing})
    return found


def _degraded(snapshots: list[dict[str, Any]]) -> str | None:
    current, earlier = snapshots[-1], [s for s in snapshots[:-1] if s["articles"] >= MIN_ARTICLES]
    if current["articles"] < MIN_ARTICLES or len(earlier) < BASELINE_RUNS:
        return None
    signs = []
    usual_chars = median([s["median_page_body_chars"] for s in earlier if s["median_page_body_chars"]] or [0])
    now_chars = current["median_page_body_chars"]
    if usual_chars >= MIN_USUAL_CHARS and now_chars is not None and now_chars < COLLAPSE_RATIO * usual_chars:
        signs.append(f"median page body {usual_chars:,.0f} -> {now_chars:,} chars")
    for key, what in (("thin_share", "thin pages (feed text used)"), ("repeated_share", "identical page bodies")):
        usual = median(s[key] for s in earlier)
        if current[key] - usual >= RISE:
            signs.append(f"{what} {usual:.0%} -> {current[key]:.0%}")
    if not signs:
        return None
    return "; ".join(signs) + f" (usual: median of {len(earlier)} earlier runs)"


def _failing(snapshots: list[dict[str, Any]]) -> str | None:
    last = snapshots[-FAILING_RUNS:]
    if len(last) < FAILING_RUNS:
        return None
    if all(s["feed_failed"] for s in last):
        return f"feed failed in each of the last {FAILING_RUNS} runs"
    if all(s["entries"] and s["failure_share"] >= FAILING_SHARE for s in last):
        shares = ", ".join(f"{s['failure_share']:.0%}" for s in last)
        return f"pages failed in each of the last {FAILING_RUNS} runs ({shares} of entries)"
    return None


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
