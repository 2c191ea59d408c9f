"""The run summary: counters -> a dict, a few human lines, and the accounting invariant."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from transforms.deadletters import NAMESPACE
from transforms.lib.times import ISO_FORMAT


def read_counters(result: Any) -> dict[str, int] | None:
    """newsbeam's counters from a finished pipeline, summed over steps; None if the runner has no metrics."""
    totals: dict[str, int] = defaultdict(int)
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    except NotImplementedError:
        return None
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] += int(value or 0)
    return dict(totals)


def summarise(counters: dict[str, int], feeds_listed: int, wall_seconds: float) -> dict[str, Any]:
    def total(prefix: str) -> int:
        return sum(v for k, v in counters.items() if k.startswith(prefix))

    def by_suffix(prefix: str) -> dict[str, int]:
        return {k[len(prefix):]: v for k, v in sorted(counters.items()) if k.startswith(prefix) and v}

    dead_by_stage: dict[str, dict[str, dict[str, int]]] = {"feed": {}, "entry": {}}
    for name, value in sorted(counters.items()):
        if name.startswith("dead_letter.") and value:
            _, unit, stage, reason = name.split(".", 3)
            dead_by_stage.setdefault(unit, {}).setdefault(stage, {})[reason] = value
    stages_in = by_suffix("stage_in.")
    dead_per_stage = {stage: sum(r.values()) for unit in dead_by_stage.values() for stage, r in unit.items()}
    # A stage that dead-letters every element it is given is broken (a bug) or cut off (an outage).
    failed_stages = sorted(stage for stage, n in stages_in.items() if n and dead_per_stage.get(stage, 0) >= n)
    entries_in = counters.get("entries.in", 0)
    records = counters.get("out.records", 0)
    duplicates = counters.get("out.duplicates", 0)
    entry_dead = counters.get("out.dead_letters.entry", 0)
    seen_before = counters.get("entries.seen_before", 0)
    return {
        "feeds": {
            "listed": feeds_listed,
            "fetched": counters.get("feeds.fetched", 0),
            "parsed": counters.get("feeds.parsed", 0),
            "not_modified": counters.get("feeds.not_modified", 0),
            "failed": sum(sum(r.values()) for r in dead_by_stage["feed"].values()),
            "formats": by_suffix("feeds.format."),
        },
        "entries": entries_in,
        "pages": {"fetched": counters.get("pages.fetched", 0), "failed": by_suffix("pages.failed."),
                  "robots_disallowed": counters.get("pages.robots_disallowed", 0)},
        "bodies": {"page": counters.get("bodies.from_page", 0), "feed": counters.get("bodies.from_feed", 0)},
        "records": records,
        "records_with_entities": counters.get("entities.records_with_entities", 0),
        "duplicates": duplicates,
        "duplicates_by_kind": by_suffix("dedup.duplicate."),
        "dead_letters": dead_by_stage,
        "stories": {  # (transforms.stories; all 0 with --no_stories)
            "stories": counters.get("out.stories", 0),
            "with_several_reports": counters.get("out.stories.several_reports", 0),
            "continued": counters.get("stories.continued", 0),  # stories of earlier runs that took a report
        },
        "invariant": {
            "entries": entries_in,
            "records": records,
            "duplicates": duplicates,
            "dead_letters": entry_dead,
            "seen_before": seen_before,
            "holds": entries_in == records + duplicates + entry_dead + seen_before,
        },
        "stages_in": stages_in,
        "failed_stages": failed_stages,
        "wall_seconds": round(wall_seconds, 2),
        # time spent in each stage, summed over threads and workers (transforms.deadletters.busy)
        "busy_seconds": {stage: round(us / 1e6, 3) for stage, us in by_suffix("busy_us.").items()},
        "counters": dict(sorted(counters.items())),
    }


def render(summary: dict[str, Any]) -> str:
    feeds, inv = summary["feeds"], summary["invariant"]
    kinds = ", ".join(f"{k} {v}" for k, v in summary["duplicates_by_kind"].items()) or "none"
    lines = [
        f"feeds      {feeds['listed']} listed, {feeds['parsed']} parsed, {feeds['failed']} failed"
        + (f", {feeds['not_modified']} not modified" if feeds["not_modified"] else "")
        + (f", {feeds['not_due']} not due" if feeds.get("not_due") else ""),
        f"entries    {summary['entries']}",
        _pages_line(summary),
        f"bodies     {summary['bodies']['page']} from page, {summary['bodies']['feed']} from feed",
        f"records    {summary['records']} canonical ({summary['records_with_entities']} with entities)",
        f"duplicates {summary['duplicates']} ({kinds})",
    ]
    stories = summary.get("stories") or {}
    if stories.get("stories"):
        lines.append(f"stories    {stories['stories']} ({stories['with_several_reports']} with several reports"
                     + (f", {stories['continued']} continued from earlier runs" if stories["continued"] else "")
                     + ")")
    if summary.get("streaming"):
        stream = summary["streaming"]
        lines.insert(1, f"messages   {stream['messages']} read ({stream['message_entries']} entries, "
                        f"{stream['message_feeds']} feed URLs)")
        lines.append(f"corrections {stream['corrections']} (earlier copies that arrived after their reprints)")
        if stream.get("story_corrections") or stream.get("copies_without_story"):
            lines.append(f"stories    {stream.get('story_corrections', 0)} story corrections, "
                         f"{stream.get('copies_without_story', 0)} copies sent before their original had a story")
    lines += _politeness_lines(summary)
    for unit in ("entry", "feed", "message", "row"):  # row: a record BigQuery refused (it is in the files)
        for stage, reasons in summary["dead_letters"].get(unit, {}).items():
            detail = ", ".join(f"{reason} {n}" for reason, n in reasons.items())
            lines.append(f"dead       {unit} at {stage}: {detail}")
    verdict = "holds" if inv["holds"] else "FAILS"
    if summary.get("streaming") and not inv["holds"]:  # a stream stopped mid-flight
        verdict = f"{inv['entries'] - inv['records'] - inv['duplicates'] - inv['dead_letters'] - inv['seen_before']}" \
                  " still in flight when the stream stopped"
    seen = f" + seen before {inv['seen_before']}" if inv["seen_before"] else ""
    lines.append(f"invariant  entries {inv['entries']} = records {inv['records']} + duplicates {inv['duplicates']}"
                 f" + dead letters {inv['dead_letters']}{seen}: {verdict}")
    for stage in summary["failed_stages"]:
        lines.append(f"FAILED     stage {stage} dead-lettered all {summary['stages_in'][stage]} elements it was given")
    lines += _health_lines(summary)
    lines.append(f"wall time  {summary['wall_seconds']:.1f} s")
    return "\n".join(lines)


def _health_lines(summary: dict[str, Any]) -> list[str]:
    """With --state: the sources whose extraction degraded or that keep failing (pipeline.health)."""
    health = summary.get("source_health")
    if health is None:
        return []
    flagged = health["flagged"]
    if not flagged:
        return [f"health     {health['sources']} sources tracked, none flagged"]
    lines = [f"health     {len({f['source'] for f in flagged})} of {health['sources']} sources flagged:"]
    lines += [f"           {f['source']}: {f['flag'].replace('_', ' ')}: {f['detail']}" for f in flagged]
    return lines


def _pages_line(summary: dict[str, Any]) -> str:
    if summary.get("counters_from") == "tallies":  # counted only as Beam metrics, which this runner lacks
        return f"pages      not counted on {summary.get('runner', 'this runner')} (no metrics; bodies below are)"
    pages = summary["pages"]
    return (f"pages      {pages['fetched']} fetched, {sum(pages['failed'].values())} failed"
            + (f" ({', '.join(f'{k} {v}' for k, v in pages['failed'].items())})" if pages["failed"] else "")
            + (f", {pages['robots_disallowed']} disallowed by robots.txt" if pages.get("robots_disallowed") else ""))


def _politeness_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    robots = summary.get("robots")
    if robots and robots["origins"]:
        outcomes = ", ".join(f"{k} {v}" for k, v in robots["outcomes"].items())
        lines.append(f"robots     {robots['origins']} hosts ({robots['fetched']} fetched, {robots['from_state']} "
                     f"from state): {outcomes}")
        if robots["crawl_delay_capped"]:
            hosts = ", ".join(f"{origin} asked {delay:g} s" for origin, delay in robots["crawl_delay_capped"].items())
            lines.append(f"robots     Crawl-delay capped at {robots['max_crawl_delay']:g} s (--max_crawl_delay): "
                         f"{hosts}")
    not_due = summary.get("feeds_not_due")
    if not_due:
        first = min(v["due"] for v in not_due.values())
        waiting = sum(1 for v in not_due.values() if v["why"] == "retry_after")
        lines.append(f"not due    {len(not_due)} feeds (the next at {first})"
                     + (f"; {waiting} asked us to wait (Retry-After)" if waiting else ""))
    return lines


def read_rows(output: str, table: str, fields: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The rows of a table the run wrote under ``output`` (``TABLE-*.jsonl`` or ``TABLE-*.parquet``), as JSON
    would give them (timestamps as ISO strings); only ``fields`` of each row when given (bodies are large)."""
    def kept(row: dict[str, Any]) -> dict[str, Any]:
        return row if fields is None else {name: row.get(name) for name in fields}

    rows = []
    for result in FileSystems.match([FileSystems.join(output, f"{table}-*.jsonl")]):
        for metadata in sorted(result.metadata_list, key=lambda m: m.path):
            with FileSystems.open(metadata.path) as handle:
                rows += [kept(json.loads(line)) for line in io.TextIOWrapper(handle, encoding="utf-8")
                         if line.strip()]
    for result in FileSystems.match([FileSystems.join(output, f"{table}-*.parquet")]):
        for metadata in sorted(result.metadata_list, key=lambda m: m.path):
            import pyarrow.parquet as pq  # only for Parquet runs

            with FileSystems.open(metadata.path) as handle:
                parquet = pq.read_table(io.BytesIO(handle.read()), columns=list(fields) if fields else None)
                rows += [_as_json(row) for row in parquet.to_pylist()]
    return rows


def _as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(ISO_FORMAT)
    return value


def summarise_robots(counters: dict[str, int], rows: list[dict[str, Any]], policy: Any) -> dict[str, Any]:
    """robots.txt in the summary, from the run's ``robots`` table (so on runners without metrics too)."""
    outcomes: dict[str, int] = defaultdict(int)
    for row in rows:
        outcomes[row["outcome"]] += 1
    capped = {row["origin"]: row["crawl_delay"] for row in rows
              if row["crawl_delay"] is not None and row["crawl_delay"] > policy.max_crawl_delay}
    return {
        "origins": len(rows),
        "fetched": sum(1 for row in rows if row["source"] == "fetched"),
        "from_state": sum(1 for row in rows if row["source"] == "state"),
        "outcomes": dict(sorted(outcomes.items())),
        "pages_disallowed": counters.get("pages.robots_disallowed", 0),
        "crawl_delay_capped": dict(sorted(capped.items())),
        "max_crawl_delay": policy.max_crawl_delay,
        "ignored_hosts": sorted(policy.ignore_hosts),
    }


def read_tallies(output: str) -> dict[str, int]:
    """The outcome counts the pipeline wrote as data (``tallies.jsonl``; absent when there was no outcome)."""
    path = FileSystems.join(output, "tallies.jsonl")
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as handle:
        rows = [json.loads(line) for line in handle.read().decode("utf-8").splitlines() if line.strip()]
    return {row["name"]: int(row["value"]) for row in rows}


def write_summary(output: str, summary: dict[str, Any]) -> str:
    path = FileSystems.join(output, "run_summary.json")
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(summary, indent=2, sort_keys=False).encode("utf-8"))
    return path
