"""A generated benchmark corpus: news sites with article pages and feeds, a known share of reprints.

    python -m bench.corpus --out bench/corpus --sites 24 --articles 1080

Writes ``OUT/site/<host>/...`` (served by ``pipeline.siteserver.SiteServer``)
and ``OUT/manifest.json`` (feed URLs, host names, which articles are
reprints of which). Texts are built from sentence templates filled with
names, places, organisations and figures, so that every article is distinct,
carries named entities, and unrelated articles share only common phrasing;
15% of articles are reprints of another site's article (two thirds
verbatim under the other site's boilerplate, one third edited: a new lead
and a dropped paragraph). Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import html
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIRST = ("Ana Ben Chloe Dmitri Elena Farid Grace Hugo Ines Jonas Kemi Liam Mei Nadia Omar Priya Quentin Rosa Sami "
         "Tara Umar Vera Wen Xavier Yara Zoltan Amir Bea Carlos Dana Emil Fatima Gita Hans Ivo Jana Kofi Lena Mateo "
         "Nora Oskar Pia Rafael Sofia Tomas Uma Viktor Willa Yusuf Zara").split()
LAST = ("Abara Bianchi Costa Dube Eriksen Fischer Garcia Haddad Ivanova Jensen Kowalski Lindqvist Moreau Nakamura "
        "Okafor Petrov Quist Rossi Santos Tanaka Umarov Varga Weber Xu Yilmaz Zeller Arslan Brennan Castillo Delacroix "
        "Engel Ferreira Gallo Horvat Iqbal Janssen Kaur Laine Mendes Novak Olsen Park Reyes Silva Torres Ueda Vance "
        "Wolff Young Zielinski").split()
CITIES = ("Carrow Halvergate Ashcombe Wealdmoor Dunmore Riverbend Norland Tarrow Kelby Marlow Pemberton Quayside "
          "Stonebridge Fallowfield Greyhaven Oakridge Brindle Caldermouth Eastwick Farrowby Glenmere Hollins Ivybridge "
          "Juniper Kingsholm Larkspur Millbrook Northwold Orchardton Pinehurst").split()
ORGS = ("the Harbour Authority|the Regional Health Trust|the Transport Ministry|the Teachers' Union|Nordbank|"
        "the City Council|the Farmers' Cooperative|Tarrow Energy|the Water Board|the Chamber of Commerce|"
        "the Police Federation|Greyhaven University|the Rail Operators' Association|Caldermouth Steel|"
        "the Consumer Council|the Environment Agency|the Court of Appeal|the Statistics Office|Brindle Motors|"
        "the Football Association").split("|")
TOPICS = {
    "budget": ("budget", "spending plan", "funding package", "tax proposal"),
    "strike": ("strike", "walkout", "pay dispute", "industrial action"),
    "health": ("waiting list", "hospital plan", "vaccination drive", "clinic closure"),
    "transport": ("rail line", "bridge repair", "bus network", "road scheme"),
    "weather": ("storm", "flood warning", "heatwave", "cold snap"),
    "sport": ("cup final", "transfer deal", "stadium plan", "league season"),
    "science": ("research project", "satellite launch", "lab opening", "climate study"),
    "courts": ("trial", "appeal ruling", "fraud case", "inquiry"),
}
TEMPLATES = (
    "{person}, who leads {org}, said on {day} that the {thing} in {city} would cost {money} million.",
    "Officials in {city} confirmed that {count} people were affected by the {thing}.",
    "\u201cWe cannot accept a {thing} that leaves {count} families without support,\u201d {person} said.",
    "The {thing} was first announced in {month}, when {org} warned of a shortfall of {money} million.",
    "According to {org}, {percent} per cent of residents in {city} backed the {thing}.",
    "{person} told reporters in {city} that talks with {org} would resume next week.",
    "Critics, including {person} of {org}, argued that the {thing} had been rushed.",
    "A spokesperson for {org} said the figures for {month} showed a rise of {percent} per cent.",
    "In {city}, {count} workers gathered outside the offices of {org} on {day}.",
    "The decision follows a report by {org} that found {count} cases in the {city} area since {month}.",
    "{person} said the {thing} was \u201cthe most important change for {city} in a generation\u201d.",
    "Residents of {city} will be able to comment on the {thing} until the end of {month}.",
    "The {thing} is expected to be completed by {year}, {org} said in a statement.",
    "Opposition councillor {person} called for an independent review of the {thing}.",
    "Figures published by {org} show that {money} million has already been spent in {city}.",
    "Speaking in {city}, {person} added that {org} had received {count} complaints.",
)
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
BOILER = ("Sign up for our morning briefing", "Most read", "Advertisement", "Share this story", "Related stories",
          "Follow us", "Cookie settings", "Subscribe for unlimited access")


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def sentence(rng: random.Random, topic: str) -> str:
    return rng.choice(TEMPLATES).format(
        person=person(rng), org=rng.choice(ORGS), city=rng.choice(CITIES), thing=rng.choice(TOPICS[topic]),
        day=rng.choice(DAYS), month=rng.choice(MONTHS), count=rng.randrange(12, 9000),
        money=round(rng.uniform(1.5, 900), 1), percent=rng.randrange(3, 95), year=rng.randrange(2027, 2035))


def article_text(rng: random.Random) -> tuple[str, list[str]]:
    topic = rng.choice(list(TOPICS))
    title = f"{rng.choice(CITIES)} {rng.choice(TOPICS[topic])}: {person(rng)} speaks out"
    paragraphs = [" ".join(sentence(rng, topic) for _ in range(rng.randrange(1, 4)))
                  for _ in range(rng.randrange(7, 13))]
    return title, paragraphs


def page(site: dict, title: str, paragraphs: list[str], published: str, rng: random.Random) -> str:
    variant = site["variant"]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    sections = ("News", "Politics", "Business", "Sport", "Opinion")
    nav = "".join(f"<li><a href='/{s.lower()}/'>{s}</a></li>" for s in sections)
    related = "".join(f"<li><a href='/r/{rng.randrange(10**6)}.html'>{html.escape(article_text(rng)[0])}</a></li>"
                      for _ in range(4))
    comments = "".join(f"<div class='c{variant}-comment'><b>{person(rng)}</b><p>{rng.choice(BOILER)}? I disagree "
                       f"with this.</p></div>" for _ in range(rng.randrange(1, 4)))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | {site['name']}</title><meta property="og:site_name" content="{site['name']}">
<meta property="article:published_time" content="{published}">
</head><body><div class="v{variant}-banner">{BOILER[variant % len(BOILER)]}</div>
<header class="v{variant}-head"><a href="/">{site['name']}</a><nav><ul>{nav}</ul></nav></header>
<div class="ad-slot v{variant}">Advertisement</div>
<main><article class="v{variant}-story"><h1>{html.escape(title)}</h1>
<p class="byline">By {person(rng)}, {published[:10]}</p>{body}</article>
<aside class="v{variant}-related"><h2>Related stories</h2><ul>{related}</ul></aside>
<section class="v{variant}-comments"><h2>Comments</h2>{comments}</section></main>
<footer>&copy; {site['name']}. {BOILER[(variant + 3) % len(BOILER)]}.</footer></body></html>"""


def feed(site: dict, items: list[dict]) -> str:
    base = f"http://{site['host']}"
    if site["variant"] % 2:  # Atom
        entries = "".join(
            f"<entry><title>{html.escape(i['title'])}</title><id>{base}{i['path']}</id>"
            f"<link rel='alternate' href='{base}{i['path']}'/><published>{i['published']}</published>"
            f"<updated>{i['published']}</updated><summary>{html.escape(i['summary'])}</summary></entry>" for i in items)
        return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                f"<title>{site['name']}</title><id>{base}/</id><updated>{items[-1]['published']}</updated>"
                f"{entries}</feed>")
    entries = "".join(
        f"<item><title>{html.escape(i['title'])}</title><link>{base}{i['path']}</link><guid>{base}{i['path']}</guid>"
        f"<pubDate>{i['rfc822']}</pubDate><description>{html.escape(i['summary'])}</description></item>" for i in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{site['name']}</title>"
            f"<link>{base}/</link><description>News</description>{entries}</channel></rss>")


def build(out: Path, sites: int = 24, articles: int = 1080, reprint_share: float = 0.15, seed: int = 2026) -> dict:
    rng = random.Random(seed)
    site_list = [{"host": f"www.bench{i:02d}-news.com", "name": f"Bench {i:02d} News", "variant": i % 6}
                 for i in range(sites)]
    start = datetime(2026, 11, 16, tzinfo=UTC)
    items: dict[str, list[dict]] = {s["host"]: [] for s in site_list}
    originals: list[dict] = []
    reprints = []
    for n in range(articles):
        site = site_list[n % sites]
        when = start + timedelta(minutes=7 * n)
        published = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/{when:%Y/%m/%d}/story-{n:05d}.html"
        if originals and rng.random() < reprint_share:
            source = rng.choice([o for o in originals[-200:] if o["host"] != site["host"]] or originals)
            title, paragraphs = source["title"], list(source["paragraphs"])
            kind = "verbatim" if rng.random() < 2 / 3 else "edited"
            if kind == "edited":
                title = f"{title} (updated)"
                del paragraphs[rng.randrange(1, len(paragraphs))]
                paragraphs[0] = "In a development reported on " + rng.choice(DAYS) + ", " + paragraphs[0]
            reprints.append({"url": f"http://{site['host']}{path}", "of": source["url"], "kind": kind})
        else:
            title, paragraphs = article_text(rng)
            originals.append({"url": f"http://{site['host']}{path}", "host": site["host"], "title": title,
                              "paragraphs": paragraphs})
        target = out / "site" / site["host"] / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page(site, title, paragraphs, published, rng), encoding="utf-8")
        items[site["host"]].append({"title": title, "path": path, "published": published,
                                    "rfc822": when.strftime("%a, %d %b %Y %H:%M:%S GMT"), "summary": paragraphs[0]})
    feeds = []
    for site in site_list:
        name = "atom.xml" if site["variant"] % 2 else "rss.xml"
        (out / "site" / site["host"] / name).write_text(feed(site, items[site["host"]]), encoding="utf-8")
        feeds.append(f"http://{site['host']}/{name}")
    manifest = {"feeds": feeds, "hosts": [s["host"] for s in site_list], "articles": articles,
                "reprints": reprints, "reprint_share": len(reprints) / articles, "seed": seed}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (out / "feeds.txt").write_text("\n".join(feeds) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench/corpus")
    parser.add_argument("--sites", type=int, default=24)
    parser.add_argument("--articles", type=int, default=1080)
    args = parser.parse_args()
    manifest = build(Path(args.out), args.sites, args.articles)
    print(f"{manifest['articles']} articles in {len(manifest['feeds'])} feeds, {len(manifest['reprints'])} reprints")


if __name__ == "__main__":
    main()
