"""``report.html`` in each run folder: one self-contained page an operator reads after a run.

Sections: the accounting (entries -> records, duplicates, seen before, dead
letters by stage and reason), the sources (per-source figures from
``sources-*.jsonl`` and source-health flags), reprints (who republishes whom,
the largest clusters with their evidence), and where the time went (busy
time per stage). Built from the run's own tables and summary after the
pipeline has finished; charts are inline SVG (``pipeline.report_charts``),
and the page loads nothing: no script, no stylesheet, no font, no image
from anywhere.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.report_charts import stacked_bars
from pipeline.summary import read_rows

REPORT = "report.html"
TOP_SOURCES = 40  # rows in the sources chart (the table has all)
TOP_CLUSTERS = 10
TOP_STORIES = 10
TOP_OUTLET_PAIRS = 20

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#1a202c;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #cbd5e0}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;border-bottom:1px solid #e2e8f0;
text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.flag{background:#fff5f5;color:#9b2c2c}.ok{color:#276749}.bad{color:#9b2c2c}.muted{color:#718096}
.evidence{font-size:.85em;color:#4a5568}svg{max-width:100%;height:auto}.wide{overflow-x:auto}"""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None,
          row_class: list[str] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{e(h)}</th>" for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        css = f" class='{row_class[r]}'" if row_class and row_class[r] else ""
        cells = "".join(f"<td{' class=n' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def accounting_section(summary: dict[str, Any]) -> str:
    inv = summary["invariant"]
    parts = {"records": inv["records"], "duplicates": inv["duplicates"], "seen before": inv["seen_before"],
             "dead letters": inv["dead_letters"]}
    verdict = ("<span class=ok>holds</span>" if inv["holds"] else "<span class=bad>does NOT hold</span>")
    chart = stacked_bars(["entries"], {name: [n] for name, n in parts.items()}, "Where every entry ended")
    dead_rows = [[e(unit), e(stage), e(reason), n] for unit, stages in summary["dead_letters"].items()
                 for stage, reasons in stages.items() for reason, n in reasons.items()]
    dead = table(["unit", "stage", "reason", "count"], dead_rows, {3}) if dead_rows else "<p>No dead letters.</p>"
    feeds = summary["feeds"]
    return f"""<h2 id=accounting>Accounting</h2>
<p>entries {inv['entries']} = records {inv['records']} + duplicates {inv['duplicates']} + seen before
{inv['seen_before']} + dead letters {inv['dead_letters']}: {verdict}.
Feeds: {feeds['listed']} listed, {feeds['parsed']} parsed, {feeds['failed']} failed,
{feeds.get('not_modified', 0)} not modified, {feeds.get('not_due', 0)} not due.</p>
{chart}<h3>Dead letters by stage and reason</h3>{dead}"""


def sources_section(sources: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    health = summary.get("source_health")
    flagged: dict[str, list[str]] = defaultdict(list)
    for flag in (health or {}).get("flagged", []):
        flagged[flag["source"]].append(f"{flag['flag'].replace('_', ' ')}: {flag['detail']}")
    sources = sorted(sources, key=lambda s: (-s["entries"], s["source_domain"]))
    rows, classes = [], []
    for s in sources:
        failures = ", ".join(f"{c['name']} {c['count']}" for c in s["page_failures"])
        languages = ", ".join(f"{c['name']} {c['count']}" for c in s["languages"])
        notes = "<br>".join(e(n) for n in flagged.get(s["source_domain"], []))
        rows.append([e(s["source_domain"]), s["entries"], s["records"], s["duplicates"], s["dead_letters"],
                     s["bodies_from_page"], s["bodies_from_feed"], s["thin_pages"], s["repeated_page_bodies"],
                     e(failures) or "<span class=muted>none</span>", e(s["median_page_body_chars"]),
                     e(languages), notes])
        classes.append("flag" if s["source_domain"] in flagged else "")
    shown = sources[:TOP_SOURCES]
    chart = stacked_bars(
        [s["source_domain"] for s in shown],
        {"from page": [s["bodies_from_page"] for s in shown], "from feed": [s["bodies_from_feed"] for s in shown],
         "same URL/GUID, not fetched": [max(0, s["entries"] - s["bodies_from_page"] - s["bodies_from_feed"]
                                            - s["dead_letters"]) for s in shown],
         "dead letter": [s["dead_letters"] for s in shown]},
        f"Bodies per source (top {len(shown)} by entries)", "entries") if shown else ""
    if health is None:
        health_line = ("<p class=muted>Source health needs --state (each source is judged against its own "
                       "recent runs).</p>")
    elif flagged:
        health_line = f"<p class=bad>{len(flagged)} of {health['sources']} tracked sources flagged (rows in red).</p>"
    else:
        health_line = f"<p class=ok>{health['sources']} sources tracked across runs; none flagged.</p>"
    headers = ["source", "entries", "records", "duplicates", "dead letters", "bodies from page", "from feed",
               "thin pages", "identical bodies", "page failures", "median page body (chars)", "languages", "health"]
    return (f"<h2 id=sources>Sources</h2>{health_line}{chart}<div class=wide>"
            + table(headers, rows, {1, 2, 3, 4, 5, 6, 7, 8, 10}, classes) + "</div>")


def reprints_section(records: list[dict[str, Any]], duplicates: list[dict[str, Any]]) -> str:
    by_id = {r["id"]: r for r in records}
    reprints = [d for d in duplicates if d["duplicate_of"] in by_id]
    earlier = len(duplicates) - len(reprints)
    earlier_line = f"<p>{earlier} more are copies of records published by earlier runs.</p>" if earlier else ""
    if not reprints:
        return f"<h2 id=reprints>Reprints</h2><p>No duplicates of this run's records.</p>{earlier_line}"
    pairs = Counter((d["source_domain"], by_id[d["duplicate_of"]]["source_domain"]) for d in reprints)
    kinds = Counter(d["dedup"]["kind"] for d in reprints)
    top_pairs = pairs.most_common(TOP_OUTLET_PAIRS)
    chart = stacked_bars([f"{copier} <- {original}" for (copier, original), _n in top_pairs],
                         {"duplicates": [n for _pair, n in top_pairs]}, "Who republishes whom (copy <- original)")
    clusters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in reprints:
        clusters[d["duplicate_of"]].append(d)
    largest = sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_CLUSTERS]
    blocks = []
    for record_id, copies in largest:
        original = by_id[record_id]
        rows = [[e(c["source_domain"]), f"<a href='{e(c['url'])}'>{e(c['title'] or c['url'])}</a>",
                 e(c["dedup"]["kind"]), f"{c['dedup']['score']:.3f}",
                 f"<span class=evidence>{e('; '.join(c['dedup']['evidence']))}</span>"]
                for c in sorted(copies, key=lambda c: (c["published"], c["id"]))]
        how_many = f"{len(copies)} {'copy' if len(copies) == 1 else 'copies'}"
        blocks.append(f"<h4>{e(original['source_domain'])}: <a href='{e(original['url'])}'>"
                      f"{e(original['title'] or original['url'])}</a> ({how_many})</h4>"
                      + table(["copy at", "title", "kind", "score", "evidence"], rows, {3}))
    kind_line = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
    return (f"<h2 id=reprints>Reprints</h2><p>{len(reprints)} duplicates of {len(clusters)} records "
            f"({e(kind_line)}).</p>{earlier_line}{chart}<h3>Largest clusters</h3>{''.join(blocks)}")


def stories_section(stories: list[dict[str, Any]]) -> str:
    """The largest stories of the run: every report of one event, with what joined each member."""
    several = [s for s in stories if s["records"] + s["copies"] > 1]
    if not stories:
        return "<h2 id=stories>Stories</h2><p>No stories (a run with --no_stories, or no records).</p>"
    largest = sorted(several, key=lambda s: (-s["records"], -s["copies"], s["story_id"]))[:TOP_STORIES]
    blocks = []
    for story in largest:
        rows = [[e(m["source_domain"]), e(m["title"]), e(m["published"]), str(len(m["copies"])),
                 f"{m['similarity']:.2f}", f"<span class=evidence>{e(', '.join(m['shared_names']))}</span>"]
                for m in story["members"]]
        blocks.append(f"<h4>{e(story['label'])} ({story['records']} reports, {story['copies']} copies, "
                      f"{len(story['outlets'])} outlets)</h4>"
                      + table(["outlet", "title", "published", "copies", "similarity", "shared names"], rows, {3, 4}))
    return (f"<h2 id=stories>Stories</h2><p>{len(stories)} stories took a report in this run; {len(several)} hold "
            f"more than one article. Similarity: a report's cosine to the story when it joined; shared names: the "
            f"names and numbers it shared with the story then.</p><h3>Largest stories</h3>{''.join(blocks)}")


def timings_section(summary: dict[str, Any]) -> str:
    busy = summary.get("busy_seconds") or {}
    wall = summary["wall_seconds"]
    if not busy:
        return (f"<h2 id=timings>Time</h2><p>Wall time {wall:.1f} s. Per-stage times are not available on "
                f"{e(summary.get('runner'))} (no metrics).</p>")
    stages = sorted(busy.items(), key=lambda kv: -kv[1])
    chart = stacked_bars([stage for stage, _s in stages], {"busy": [s for _stage, s in stages]},
                         "Busy time per stage (summed over threads and workers)", "seconds")
    rows = [[e(stage), f"{seconds:.2f}"] for stage, seconds in stages]
    return (f"<h2 id=timings>Time</h2><p>Wall time {wall:.1f} s on {e(summary.get('runner'))}. Stages overlap, and "
            f"their time is summed over threads, so it can add up to more than the wall time.</p>{chart}"
            + table(["stage", "busy seconds"], rows, {1}))


def render_report(folder: str, summary: dict[str, Any]) -> str:
    """The report page for the run in ``folder`` (its tables must be written)."""
    records = read_rows(folder, "records", ("id", "url", "title", "source_domain"))
    duplicates = read_rows(folder, "duplicates", ("id", "url", "title", "source_domain", "published",
                                                  "duplicate_of", "dedup"))
    sources = read_rows(folder, "sources")
    stories = read_rows(folder, "stories")
    name = folder.rstrip("/").rsplit("/", 1)[-1].removeprefix("run=")
    inv = summary["invariant"]
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>newsbeam run {e(name)}</title>
<style>{STYLE}</style></head><body>
<h1>newsbeam run {e(name)}</h1>
<p>{inv['entries']} entries: {inv['records']} records, {inv['duplicates']} duplicates, {inv['seen_before']} seen before,
{inv['dead_letters']} dead letters. Runner {e(summary.get('runner'))}, wall time {summary['wall_seconds']:.1f} s.</p>
<p><a href="#accounting">Accounting</a> · <a href="#sources">Sources</a> · <a href="#reprints">Reprints</a> ·
<a href="#stories">Stories</a> · <a href="#timings">Time</a></p>
{accounting_section(summary)}
{sources_section(sources, summary)}
{reprints_section(records, duplicates)}
{stories_section(stories)}
{timings_section(summary)}
</body></html>
"""


def write_report(folder: str, summary: dict[str, Any]) -> str:
    path = FileSystems.join(folder, REPORT)
    with FileSystems.create(path, mime_type="text/html") as handle:
        handle.write(render_report(folder, summary).encode("utf-8"))
    return path
