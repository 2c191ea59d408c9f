"""Pages built at test time from ../shared/seeds (the seed's sentences are never committed)."""

from __future__ import annotations

import html
from pathlib import Path

TRIBUNE_HOST = "tribuneonline.example"
REPRINT_HOST = "dailyreprint.example"


def seed_paragraphs(shared: Path) -> tuple[list[str], list[str]]:
    """(article paragraphs, trailing lines after the "(BBC)" credit) of the Tribune's text."""
    lines = [line.strip() for line in (shared / "seeds" / "tribune_reprint_of_bbc.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    credit = lines.index("(BBC)")
    return lines[: credit + 1], lines[credit + 1:]


def page(title: str, paragraphs: list[str], site: str, related: list[str]) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    links = "".join(f"<li><a href='/related/{i}'>{html.escape(text)}</a></li>" for i, text in enumerate(related))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} - {site}</title>
<meta property="og:site_name" content="{site}"></head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/politics">Politics</a>
<a href="/sports">Sports</a></nav></header><div class="advert">Advertisement: {site} mobile app</div>
<main><article><h1>{html.escape(title)}</h1><div class="byline">By {site} staff</div>
<div class="entry-content">{body}</div></article>
<aside class="related"><h3>Related</h3><ul>{links}</ul></aside>
<section class="comments"><h3>Comments</h3><p>Reader comment: share your thoughts below.</p></section></main>
<footer>Copyright {site}. All rights reserved. Terms. Privacy.</footer></body></html>"""


def rss(host: str, items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{html.escape(t)}</title><link>http://{host}{path}</link><guid>http://{host}{path}</guid>"
        f"<pubDate>{date}</pubDate></item>" for t, path, date in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{host}</title>"
            f"<link>http://{host}/</link><description>news</description>{entries}</channel></rss>")


def write_site(root: Path, host: str, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / host / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
