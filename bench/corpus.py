"""A generated benchmark corpus: news sites with article pages and feeds, a known share of reprints.

    python -m bench.corpus --out bench/corpus --sites 24 --articles 1080

Writes ``OUT/site/<host>/...`` (served by ``pipeline.siteserver.SiteServer``)
and ``OUT/manifest.json`` (feed URLs, host names, which articles are
reprints of which, which report the same event). Each story has its own
people, places, organisations and figures (names built from syllables), and
its sentences are assembled from word lists long enough that unrelated
stories share almost no five words in a row (random pairs: median 0 shared
5-shingles, 99th percentile 1; real pages of different events in
../shared/corpora/reprints-dev: median 0, at most 3). 15% of articles are
reprints of another site's article (two thirds verbatim under the other
site's boilerplate, one third edited: a new lead and a dropped paragraph);
10% are independent reports of another site's story (its names and
figures, new wording), which must stay separate records. Deterministic for
a given seed.
"""

from __future__ import annotations

import argparse
import html
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Names are built from syllables so that, as in real news, each story has its own people, places and
# organisations: two unrelated stories rarely share more than a common place or a big institution.
FIRST = ("Ana Ben Chloe Dmitri Elena Farid Grace Hugo Ines Jonas Kemi Liam Mei Nadia Omar Priya Quentin Rosa Sami "
         "Tara Umar Vera Wen Xavier Yara Zoltan Amir Bea Carlos Dana Emil Fatima Gita Hans Ivo Jana Kofi Lena Mateo "
         "Nora Oskar Pia Rafael Sofia Tomas Uma Viktor Willa Yusuf Zara Adaeze Bilal Cyrus Delphine Esther Femi Goran "
         "Helga Ilse Jamal Kaito Leila Marek Niamh Olu Pavel Rania Sven Thandi Ugo Wanjiru Yosef Zainab").split()
SYLLABLES = ("ab ar bel bri cal cor dan del en fal gar har hol in jor kel kir lan lor mar mel nor ok pen quil "
             "ran ros sel sor tal tor ul val ven wil wyn yar zel").split()
PLACE_ENDINGS = ("ford ton by mouth holm wick field bridge haven stead mere dale port").split()
INSTITUTIONS = ("Harbour Authority|Health Trust|Teachers' Union|City Council|Farmers' Cooperative|Water Board|"
                "Chamber of Commerce|Police Federation|University|Rail Operators' Group|Consumer Council|"
                "Environment Agency|Court of Appeal|Statistics Office|Housing Association|Energy Company|"
                "Football Club|Hospital|Port Authority|Arts Council|Fire Service|Planning Board").split("|")
ROLES = ("chief executive", "spokesperson", "chair", "senior official", "lawyer", "head of research",
         "board member", "finance director", "treasurer", "deputy leader", "press officer", "adviser", "founder",
         "trustee", "inspector", "secretary")
TOPICS = {
    "budget": ("budget", "spending plan", "funding package", "tax proposal", "savings programme"),
    "strike": ("strike", "walkout", "pay dispute", "overtime ban", "ballot"),
    "health": ("waiting list", "hospital plan", "vaccination drive", "clinic closure", "staffing review"),
    "transport": ("rail line", "bridge repair", "bus network", "road scheme", "cycle route"),
    "weather": ("storm", "flood warning", "heatwave", "cold snap", "drought order"),
    "sport": ("cup final", "transfer deal", "stadium plan", "league season", "youth academy"),
    "science": ("research project", "satellite launch", "lab opening", "climate study", "fossil find"),
    "courts": ("trial", "appeal ruling", "fraud case", "inquiry", "licensing hearing"),
    "housing": ("housing estate", "rent cap", "tower block", "planning row", "eviction notice"),
    "schools": ("school merger", "exam overhaul", "term-time policy", "nursery scheme", "teacher shortage"),
}
# Sentences are assembled word class by word class from lists this long so that, as on real pages (in
# ../shared/corpora/reprints-dev, articles about different events share at most 3 word 5-shingles, the median 0),
# unrelated stories share common phrasing ("said on Tuesday that the") but almost never five words in a row.
ADJECTIVES = """controversial disputed long-awaited revised delayed ambitious costly scaled-back emergency proposed
temporary permanent regional flagship troubled modest sweeping unexpected fragile overdue expanded rival interim
national local private public fresh lengthy brief detailed vague cautious bold hasty unpopular popular quiet noisy
crowded empty rural urban coastal northern southern eastern western annual monthly weekly secret leaked draft final
partial formal informal strict lenient generous meagre urgent routine rare familiar bitter heated calm tense
historic modern ageing new former senior junior independent joint separate combined binding voluntary mandatory
""".split()
NOUNS = """plan scheme budget contract report review deal proposal policy strategy project fund levy grant loan tax
fee charge tariff subsidy audit inquiry probe hearing ruling verdict appeal claim complaint petition protest rally
march strike dispute ballot vote election campaign merger takeover closure opening launch expansion extension
upgrade repair renovation demolition bridge tunnel road railway station harbour pier airport runway terminal depot
warehouse factory mill mine quarry farm orchard vineyard forest park garden square market library museum theatre
stadium arena pool gym clinic hospital ward surgery pharmacy school college campus nursery academy laboratory
studio office headquarters branch depot pipeline reservoir dam canal river shoreline dune cliff valley hillside
estate tower block flat terrace cottage shelter hostel hotel restaurant bakery brewery newspaper broadcaster
licence permit quota target deadline timetable schedule shortfall surplus deficit backlog waiting list shortage
surge decline slump recovery boom outbreak flood drought storm heatwave blaze collapse leak spill outage
""".split()
VERBS = """criticised defended welcomed rejected approved delayed announced cancelled questioned praised blocked
backed challenged funded opposed supported postponed reviewed revised scrapped unveiled endorsed condemned
investigated audited expanded reduced doubled halved extended paused resumed overturned upheld signed renewed
abandoned completed inspected published leaked disclosed disputed confirmed denied""".split()
PREPOSITIONS = "for in near beside behind across outside around along after before despite without".split()
SPEECH = ("said", "warned", "insisted", "argued", "claimed", "admitted", "stressed", "conceded", "added",
          "suggested", "maintained", "noted", "complained", "acknowledged", "predicted", "explained")
TIMES = ("on {day}", "in {month}", "on {day} {date}", "by {month}", "since {month}", "until {day}", "on {date} {month}")

COSTS = ("a move worth {money} million", "at a cost of {money} million", "spending {money} million",
         "with {money} million at stake", "saving {money} million", "for {money} million", "costing {money} million",
         "worth {money} million to {org}", "a {money} million decision", "putting {money} million at risk")
EFFECTS = ("affecting {figure} people", "with {figure} residents affected", "for {figure} households",
           "leaving {figure} workers waiting", "touching {figure} families", "hitting {figure} firms",
           "reaching {figure} homes", "while {figure} people wait", "as {figure} tenants object")


def noun_phrase(rng: random.Random) -> str:
    words = [rng.choice(("the", "a", "the", "its", "this"))]
    if rng.random() < 0.7:
        words.append(rng.choice(ADJECTIVES))
    words.append(rng.choice(NOUNS))
    if rng.random() < 0.4:
        words += [rng.choice(PREPOSITIONS), rng.choice(("the", "a")), rng.choice(NOUNS)]
    return " ".join(words)


DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
BOILER = ("Sign up for our morning briefing", "Most read", "Advertisement", "Share this story", "Related stories",
          "Follow us", "Cookie settings", "Subscribe for unlimited access")


def surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {surname(rng)}"


def place(rng: random.Random) -> str:
    return (rng.choice(SYLLABLES) + rng.choice(PLACE_ENDINGS)).capitalize()


def organisation(rng: random.Random, city: str) -> str:
    if rng.random() < 0.5:
        return f"the {city} {rng.choice(INSTITUTIONS)}"
    return f"{surname(rng)} {rng.choice(('Holdings', 'Group', 'Partners', 'Foundation', 'Trust', 'Industries'))}"


def story(rng: random.Random) -> dict:
    """One news event: its topic and the names and places every report of it uses."""
    topic = rng.choice(list(TOPICS))
    cities = [place(rng) for _ in range(2)]
    return {"topic": topic, "thing": rng.choice(TOPICS[topic]), "cities": cities,
            "people": [person(rng) for _ in range(3)], "orgs": [organisation(rng, cities[0]) for _ in range(2)],
            "figures": [rng.randrange(12, 90_000) for _ in range(2)]}


def sentence(rng: random.Random, event: dict) -> str:
    """A sentence about ``event``, built from its names and figures and freely chosen words."""
    fill = {"person": rng.choice(event["people"]), "org": rng.choice(event["orgs"]),
            "city": rng.choice(event["cities"]), "thing": event["thing"], "day": rng.choice(DAYS),
            "month": rng.choice(MONTHS), "date": rng.randrange(1, 29), "figure": rng.choice(event["figures"]),
            "count": rng.randrange(12, 9000), "money": round(rng.uniform(1.5, 900), 1)}
    who = rng.choice(("{person}", "{person}", "{person}", "{person} of {org}",
                      "{org}'s " + rng.choice(ROLES) + " {person}", "{org}", "{org}", "Officials in {city}"))
    shape = rng.random()
    if shape < 0.35:
        text = f"{who} {rng.choice(SPEECH)} {rng.choice(TIMES)} that {noun_phrase(rng)} {rng.choice(VERBS)} " \
               f"{noun_phrase(rng)} {rng.choice(PREPOSITIONS)} {{city}}."
    elif shape < 0.6:
        text = f"{who} {rng.choice(VERBS)} {noun_phrase(rng)} {rng.choice(TIMES)}, " + rng.choice(COSTS) + "."
    elif shape < 0.8:
        text = f"The {{thing}} {rng.choice(VERBS)} {noun_phrase(rng)} {rng.choice(PREPOSITIONS)} {{city}}, " \
               + rng.choice(EFFECTS) + f", {{person}} {rng.choice(SPEECH)}."
    else:
        text = f"\u201c{noun_phrase(rng).capitalize()} {rng.choice(VERBS)} {noun_phrase(rng)},\u201d {{person}} " \
               f"{rng.choice(SPEECH)}."
    text = text.format(**fill).format(**fill)
    return text[0].upper() + text[1:]


def headline(rng: random.Random, event: dict) -> str:
    return f"{event['cities'][0]} {event['thing']}: {rng.choice(event['people'])} speaks out"


def article_text(rng: random.Random, event: dict | None = None) -> tuple[str, list[str]]:
    event = event or story(rng)
    title = headline(rng, event)
    paragraphs = [" ".join(sentence(rng, event) for _ in range(rng.randrange(1, 4)))
                  for _ in range(rng.randrange(7, 13))]
    return title, paragraphs


def page(site: dict, title: str, paragraphs: list[str], published: str, rng: random.Random) -> str:
    variant = site["variant"]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    sections = ("News", "Politics", "Business", "Sport", "Opinion")
    nav = "".join(f"<li><a href='/{s.lower()}/'>{s}</a></li>" for s in sections)
    related = "".join(f"<li><a href='/r/{rng.randrange(10**6)}.html'>{html.escape(headline(rng, story(rng)))}</a></li>"
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


def build(out: Path, sites: int = 24, articles: int = 1080, reprint_share: float = 0.15,
          same_event_share: float = 0.10, seed: int = 2026) -> dict:
    """``reprint_share`` of articles copy another site's article; ``same_event_share`` are independent
    reports of another site's story (same names and places, new wording): not duplicates."""
    rng = random.Random(seed)
    site_list = [{"host": f"www.bench{i:02d}-news.com", "name": f"Bench {i:02d} News", "variant": i % 6}
                 for i in range(sites)]
    start = datetime(2026, 11, 16, tzinfo=UTC)
    items: dict[str, list[dict]] = {s["host"]: [] for s in site_list}
    originals: list[dict] = []
    reprints, same_event = [], []
    for n in range(articles):
        site = site_list[n % sites]
        when = start + timedelta(minutes=7 * n)
        published = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/{when:%Y/%m/%d}/story-{n:05d}.html"
        url = f"http://{site['host']}{path}"
        draw = rng.random()
        recent = [o for o in originals[-200:] if o["host"] != site["host"]] or originals
        if originals and draw < reprint_share:
            source = rng.choice(recent)
            title, paragraphs = source["title"], list(source["paragraphs"])
            kind = "verbatim" if rng.random() < 2 / 3 else "edited"
            if kind == "edited":
                title = f"{title} (updated)"
                del paragraphs[rng.randrange(1, len(paragraphs))]
                paragraphs[0] = "In a development reported on " + rng.choice(DAYS) + ", " + paragraphs[0]
            reprints.append({"url": url, "of": source["url"], "kind": kind})
        else:
            event = None
            if originals and draw < reprint_share + same_event_share:
                source = rng.choice(recent)
                event = source["event"]
                same_event.append({"url": url, "about": source["url"]})
            event = event or story(rng)
            title, paragraphs = article_text(rng, event)
            originals.append({"url": url, "host": site["host"], "title": title, "paragraphs": paragraphs,
                              "event": event})
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
                "reprints": reprints, "reprint_share": len(reprints) / articles, "same_event": same_event,
                "seed": seed}
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
