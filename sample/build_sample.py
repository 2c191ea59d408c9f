#!/usr/bin/env python3
"""Render the newsbeam offline sample corpus (standard library only).

Reads every ``sample/articles/*.txt`` and writes:

* ``sample/site/<host>/<path>``  article pages, one HTML template per outlet
  (a path ending in ``/`` is written as ``<path>index.html``);
* ``sample/site/<host>/<feed path>``  every feed (RSS 2.0, RSS 1.0/RDF, Atom 1.0);
* ``sample/feeds.opml`` and ``sample/feeds.txt``  the list of feed URLs.

Output is deterministic: files are read in sorted order, and the only dates
written are the ones found in the articles (no "now").

Article source format
---------------------
Header lines ``key: value``, then a line ``---``, then the body::

    outlet: dailyherald
    path: /2026/11/18/some-slug.html
    title: Headline here
    author: Jane Doe
    published: 2026-11-18T08:30:00Z
    category: Health
    summary: One-sentence summary for the feed.
    feeds: atom, world
    missing_page: false
    ---
    First paragraph.

    Second paragraph.

Required keys: ``outlet``, ``path``, ``title``, ``author``, ``published``,
``category``, ``feeds``.  Optional keys:

``summary``
    Feed description / Atom summary and the page's meta description.  When
    empty the feed item has no description (the meta description then falls
    back to the first paragraph).
``updated``
    Last modification time (ISO 8601, UTC); defaults to ``published``.
``missing_page``
    ``true``: the page is NOT rendered, so the server answers 404.  The feed
    item always carries the full text in that case.
``feed_content``
    ``true``: the feed item carries the full body (RSS ``content:encoded`` or
    Atom ``<content type="html">``).
``feed_published``
    ``false``: the Atom entry has ``<updated>`` but no ``<published>``.
``feed_links``
    Query strings appended to the link in particular feeds (tracking
    parameters), e.g.
    ``atom=?utm_source=rss&utm_medium=feed; world=?utm_campaign=world&utm_source=section``.
``credit``
    Agency credit shown under the byline (e.g. ``Global Wire``).  It is page
    boilerplate, not body text.
``comment``
    Repeatable reader comment: ``Name | 2026-11-18T10:12:00Z | text``.

Body: paragraphs are separated by blank lines; a line starting with ``## `` is
a subheading and a line starting with ``> `` is a pull quote.

Feed ids per outlet are defined in ``OUTLETS`` below (``rss``, ``atom``,
``world``, ``rdf``).
"""

from __future__ import annotations

import html
import json
import shutil
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape as xml_escape

SAMPLE_DIR = Path(__file__).resolve().parent
ARTICLES_DIR = SAMPLE_DIR / "articles"
SITE_DIR = SAMPLE_DIR / "site"

REQUIRED_KEYS = ("outlet", "path", "title", "author", "published", "category", "feeds")


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """One body block: ``p`` (paragraph), ``h2`` (subheading) or ``quote``."""

    kind: str
    text: str


@dataclass(frozen=True)
class Comment:
    name: str
    posted: datetime
    text: str


@dataclass
class Article:
    slug: str
    outlet: str
    path: str
    title: str
    author: str
    published: datetime
    updated: datetime
    category: str
    summary: str
    feeds: list[str]
    blocks: list[Block]
    missing_page: bool = False
    feed_content: bool = False
    feed_published: bool = True
    feed_links: dict[str, str] = field(default_factory=dict)
    credit: str = ""
    comments: list[Comment] = field(default_factory=list)

    @property
    def story_id(self) -> int:
        """Stable numeric id derived from the path (used in GUIDs and ids)."""
        return 10000 + zlib.crc32(self.path.encode("utf-8")) % 90000

    @property
    def paragraphs(self) -> list[str]:
        return [b.text for b in self.blocks if b.kind == "p"]

    @property
    def description(self) -> str:
        """Meta description: the summary, else the first paragraph, shortened."""
        text = self.summary or self.paragraphs[0]
        return text if len(text) <= 200 else text[:197].rsplit(" ", 1)[0] + "..."


@dataclass(frozen=True)
class Feed:
    id: str
    path: str
    format: str  # "rss2" | "rdf" | "atom"
    title: str
    description: str
    guid: str = "{url}"  # RSS 2.0 guid pattern: {url}, {id}, {host}
    guid_is_permalink: bool = True
    categories: bool = True


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    host: str
    tagline: str
    language: str
    feeds: tuple[Feed, ...]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def feed(self, feed_id: str) -> Feed:
        for feed in self.feeds:
            if feed.id == feed_id:
                return feed
        raise KeyError(f"outlet {self.id} has no feed {feed_id!r}")


OUTLETS: dict[str, Outlet] = {
    "globalwire": Outlet(
        "globalwire", "Global Wire", "www.globalwire.example",
        "Independent news agency since 1961", "en-gb",
        (Feed("rss", "/rss.xml", "rss2", "Global Wire - Top News",
              "The latest stories from Global Wire correspondents worldwide.",
              guid="urn:globalwire:story:{id}", guid_is_permalink=False),),
    ),
    "dailyherald": Outlet(
        "dailyherald", "The Daily Herald", "www.dailyherald.example",
        "Trusted journalism, every day", "en-gb",
        (Feed("atom", "/atom.xml", "atom", "The Daily Herald",
              "News, analysis and comment from The Daily Herald."),
         Feed("world", "/world/rss.xml", "rss2", "The Daily Herald - World",
              "World news from The Daily Herald.",
              guid="{url}", guid_is_permalink=False)),
    ),
    "coastaltimes": Outlet(
        "coastaltimes", "Coastal Times", "www.coastaltimes.example",
        "Serving Marlow Bay and the Esk Valley", "en-us",
        (Feed("rdf", "/index.rdf", "rdf", "Coastal Times",
              "Local news from Marlow Bay, the Esk Valley and the Pellham coast."),),
    ),
    "metrogazette": Outlet(
        "metrogazette", "Metro Gazette", "www.metrogazette.example",
        "Kessington's city newspaper", "en-gb",
        (Feed("rss", "/feed.xml", "rss2", "Metro Gazette",
              "Kessington news, business, sport and what's on."),),
    ),
    "riverbendpost": Outlet(
        "riverbendpost", "Riverbend Post", "www.riverbendpost.example",
        "Riverbend's community newspaper", "en-us",
        (Feed("rss", "/rss.xml", "rss2", "Riverbend Post",
              "News for Riverbend and the upper Esk Valley.",
              guid="http://{host}/?p={id}", guid_is_permalink=False,
              categories=False),),
    ),
}


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def parse_bool(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "1")


def parse_feed_links(value: str) -> dict[str, str]:
    links: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        feed_id, _, query = part.partition("=")
        links[feed_id.strip()] = query.strip()
    return links


def parse_comment(value: str) -> Comment:
    name, posted, text = (p.strip() for p in value.split("|", 2))
    return Comment(name, parse_time(posted), text)


def parse_body(text: str) -> list[Block]:
    blocks: list[Block] = []
    for chunk in text.strip().split("\n\n"):
        line = " ".join(chunk.split())
        if line.startswith("## "):
            blocks.append(Block("h2", line[3:]))
        elif line.startswith("> "):
            blocks.append(Block("quote", line[2:]))
        elif line:
            blocks.append(Block("p", line))
    return blocks


def parse_article(source: Path) -> Article:
    header, sep, body = source.read_text(encoding="utf-8").partition("\n---\n")
    if not sep:
        raise ValueError(f"{source.name}: missing '---' separator")
    meta: dict[str, str] = {}
    comments: list[Comment] = []
    for line in header.splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "comment":
            comments.append(parse_comment(value))
        else:
            meta[key] = value
    missing = [k for k in REQUIRED_KEYS if not meta.get(k)]
    if missing:
        raise ValueError(f"{source.name}: missing keys {missing}")
    if meta["outlet"] not in OUTLETS:
        raise ValueError(f"{source.name}: unknown outlet {meta['outlet']!r}")
    published = parse_time(meta["published"])
    return Article(
        slug=source.stem,
        outlet=meta["outlet"],
        path=meta["path"],
        title=meta["title"],
        author=meta["author"],
        published=published,
        updated=parse_time(meta["updated"]) if meta.get("updated") else published,
        category=meta["category"],
        summary=meta.get("summary", ""),
        feeds=[f.strip() for f in meta["feeds"].split(",") if f.strip()],
        blocks=parse_body(body),
        missing_page=parse_bool(meta.get("missing_page", "false")),
        feed_content=parse_bool(meta.get("feed_content", "false")),
        feed_published=parse_bool(meta.get("feed_published", "true")),
        feed_links=parse_feed_links(meta.get("feed_links", "")),
        credit=meta.get("credit", ""),
        comments=comments,
    )


def load_articles() -> list[Article]:
    articles = [parse_article(p) for p in sorted(ARTICLES_DIR.glob("*.txt"))]
    for article in articles:
        outlet = OUTLETS[article.outlet]
        for feed_id in article.feeds:
            outlet.feed(feed_id)  # raises on an unknown feed id
    articles.sort(key=lambda a: (a.published, a.outlet, a.path))
    return articles


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------

def esc(text: str) -> str:
    return html.escape(text, quote=True)


def url_of(article: Article) -> str:
    return OUTLETS[article.outlet].base_url + article.path


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def page_file(host: str, path: str) -> Path:
    relative = path.lstrip("/")
    if relative.endswith("/") or not relative:
        relative += "index.html"
    return SITE_DIR / host / relative


def head_meta(article: Article, outlet: Outlet, extra: str = "") -> str:
    """The <head> metadata that every outlet template shares."""
    return f"""<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(article.title)} | {esc(outlet.name)}</title>
<meta name="description" content="{esc(article.description)}">
<meta name="author" content="{esc(article.author)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(article.title)}">
<meta property="og:description" content="{esc(article.description)}">
<meta property="og:url" content="{esc(url_of(article))}">
<meta property="og:site_name" content="{esc(outlet.name)}">
<meta property="article:published_time" content="{iso(article.published)}">
<meta property="article:modified_time" content="{iso(article.updated)}">
<meta property="article:section" content="{esc(article.category)}">
<link rel="canonical" href="{esc(url_of(article))}">{extra}"""


@dataclass(frozen=True)
class BodyStyle:
    """How one outlet marks up body paragraphs, subheadings and pull quotes."""

    paragraph: str
    heading: str
    quote: str


def render_body(article: Article, style: BodyStyle) -> str:
    parts = []
    for block in article.blocks:
        pattern = {"p": style.paragraph, "h2": style.heading, "quote": style.quote}[block.kind]
        parts.append(pattern.format(text=esc(block.text)))
    return "\n".join(parts)


def related_articles(article: Article, articles: list[Article], count: int = 3) -> list[Article]:
    """The ``count`` same-outlet pages published closest in time."""
    candidates = [a for a in articles
                  if a.outlet == article.outlet and a is not article and not a.missing_page]
    candidates.sort(key=lambda a: (abs((a.published - article.published).total_seconds()), a.path))
    return candidates[:count]


def related_list(items: list[Article], item_pattern: str) -> str:
    return "\n".join(item_pattern.format(url=esc(a.path), title=esc(a.title)) for a in items)


def comment_list(comments: list[Comment], item_pattern: str, date_format: str) -> str:
    return "\n".join(
        item_pattern.format(id=index, name=esc(c.name), iso=iso(c.posted),
                            date=c.posted.strftime(date_format), text=esc(c.text))
        for index, c in enumerate(comments, start=1)
    )


def slugify(text: str) -> str:
    """URL slug: "Farm & Business" -> "farm-business"."""
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def long_date(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment:%Y}"


# --------------------------------------------------------------------------
# Outlet templates
# --------------------------------------------------------------------------

def page_globalwire(article: Article, outlet: Outlet, related: list[Article]) -> str:
    body = render_body(article, BodyStyle(
        '<p class="story-text">{text}</p>',
        '<h2 class="story-subhead">{text}</h2>',
        '<blockquote class="story-pullquote"><p>{text}</p></blockquote>'))
    stamp = f"{article.published.day} {article.published:%b %Y %H:%M} UTC"
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
{head_meta(article, outlet)}
<link rel="stylesheet" href="/static/wire.css">
</head>
<body class="wire story-page">
<div id="consent" class="consent-banner" role="dialog" aria-label="Cookie consent">
<p>Global Wire uses cookies to measure audiences and keep you signed in. <a href="/legal/cookies.html">Cookie policy</a></p>
<button type="button" class="consent-accept">Accept all</button> <button type="button" class="consent-reject">Reject non-essential</button>
</div>
<header class="gw-topbar">
<a class="gw-logo" href="/">GLOBAL WIRE</a>
<span class="gw-tagline">{esc(outlet.tagline)}</span>
<nav class="gw-nav" aria-label="Sections">
<ul>
<li><a href="/world/">World</a></li>
<li><a href="/business/">Business</a></li>
<li><a href="/markets/">Markets</a></li>
<li><a href="/politics/">Politics</a></li>
<li><a href="/science/">Science</a></li>
<li><a href="/sport/">Sport</a></li>
</ul>
</nav>
</header>
<div class="ad ad-leaderboard" data-slot="gw_top_728x90">Advertisement</div>
<main class="gw-main">
<nav class="crumbs" aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/{esc(slugify(article.category))}/">{esc(article.category)}</a></li><li aria-current="page">{esc(article.title)}</li></ol></nav>
<article class="story" data-story-id="GW{article.story_id}">
<h1 class="story-headline">{esc(article.title)}</h1>
<div class="story-meta">By <span class="story-author">{esc(article.author)}</span> &middot; <time datetime="{iso(article.published)}">{stamp}</time></div>
<div class="story-body">
{body}
</div>
</article>
<div class="ad ad-inline" data-slot="gw_mid_300x250">Advertisement</div>
<aside class="more-from-wire">
<h2>Related stories</h2>
<ul>
{related_list(related, '<li><a href="{url}">{title}</a></li>')}
</ul>
</aside>
<section class="wire-briefing">
<h2>The Morning Wire</h2>
<p>The five stories you need before markets open, in your inbox every weekday at 06:00 GMT.</p>
<form action="/newsletters/subscribe" method="post"><input type="email" name="email" placeholder="Email address"> <button type="submit">Sign up</button></form>
</section>
<section id="comments" class="discussion">
<h2>Reader discussion ({len(article.comments)})</h2>
{comment_list(article.comments, '<div class="discussion-item" id="c{id}"><p class="discussion-author">{name} <time datetime="{iso}">{date}</time></p><p class="discussion-text">{text}</p></div>', '%d %b %Y %H:%M')}
</section>
</main>
<footer class="gw-footer">
<p>&copy; 2026 Global Wire Ltd. All rights reserved. Republication or redistribution of Global Wire content is expressly prohibited without prior written consent.</p>
<ul class="gw-footer-links"><li><a href="/about/">About us</a></li><li><a href="/legal/terms.html">Terms of use</a></li><li><a href="/legal/privacy.html">Privacy</a></li><li><a href="/contact/">Contact</a></li></ul>
</footer>
</body>
</html>
"""


def json_ld(article: Article, outlet: Outlet) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "datePublished": iso(article.published),
        "dateModified": iso(article.updated),
        "author": {"@type": "Person", "name": article.author},
        "publisher": {"@type": "Organization", "name": outlet.name},
        "mainEntityOfPage": url_of(article),
    }
    text = json.dumps(data, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return f'\n<script type="application/ld+json">{text}</script>'


def page_dailyherald(article: Article, outlet: Outlet, related: list[Article]) -> str:
    body = render_body(article, BodyStyle(
        "<p>{text}</p>",
        '<h2 class="article__subheading">{text}</h2>',
        '<aside class="pullquote"><blockquote>{text}</blockquote></aside>'))
    stamp = article.published.strftime("%A ") + f"{article.published.day} {article.published:%B %Y %H.%M} GMT"
    standfirst = f'<p class="article__standfirst">{esc(article.summary)}</p>' if article.summary else ""
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
{head_meta(article, outlet, json_ld(article, outlet))}
<link rel="stylesheet" href="/assets/herald.min.css">
</head>
<body class="page-article section-{esc(slugify(article.category))}">
<a class="skip-link" href="#main-content">Skip to main content</a>
<header class="masthead">
<div class="masthead__date">{stamp.split(' ', 1)[0]} edition</div>
<a class="masthead__logo" href="/">The Daily Herald</a>
<p class="masthead__strap">{esc(outlet.tagline)}</p>
<nav class="primary-nav" aria-label="Main">
<a href="/">Home</a> <a href="/national/">National</a> <a href="/world/">World</a> <a href="/politics/">Politics</a> <a href="/business/">Business</a> <a href="/health/">Health</a> <a href="/science/">Science</a> <a href="/sport/">Sport</a> <a href="/opinion/">Opinion</a>
</nav>
</header>
<div class="ad ad--billboard" id="ad-top">ADVERTISEMENT</div>
<div class="layout">
<main id="main-content" class="layout__main">
<ul class="breadcrumb"><li><a href="/">Home</a></li><li><a href="/{esc(slugify(article.category))}/">{esc(article.category)}</a></li></ul>
<article class="article">
<header class="article__header">
<p class="article__kicker">{esc(article.category)}</p>
<h1 class="article__title">{esc(article.title)}</h1>
{standfirst}
<p class="article__byline">By <a rel="author" href="/profile/{esc(slugify(article.author))}">{esc(article.author)}</a></p>
<p class="article__dateline"><time datetime="{iso(article.published)}">{stamp}</time></p>
</header>
<div class="article__content">
{body}
</div>
</article>
<div class="newsletter-signup">
<h3>Sign up to the Herald Briefing</h3>
<p>Our editors' pick of the day's essential news, free every evening.</p>
<form method="post" action="/newsletters"><label for="nl-email">Email</label> <input id="nl-email" type="email" name="email"> <button type="submit">Subscribe</button></form>
</div>
<section class="comments" id="comments">
<h2 class="comments__title">Comments</h2>
<p class="comments__policy">Comments are moderated. Please read our community guidelines.</p>
<ol class="comment-list">
{comment_list(article.comments, '<li class="comment" id="comment-{id}"><span class="comment__author">{name}</span> <time class="comment__time" datetime="{iso}">{date}</time><p class="comment__body">{text}</p></li>', '%d/%m/%Y %H:%M')}
</ol>
</section>
</main>
<aside class="layout__rail">
<div class="ad ad--mpu" id="ad-rail">ADVERTISEMENT</div>
<section class="related">
<h2>Related stories</h2>
<ul class="related__list">
{related_list(related, '<li class="related__item"><a href="{url}">{title}</a></li>')}
</ul>
</section>
</aside>
</div>
<footer class="site-footer">
<nav class="site-footer__nav"><a href="/about">About the Herald</a> <a href="/contact">Contact us</a> <a href="/complaints">Complaints and corrections</a> <a href="/privacy">Privacy policy</a> <a href="/cookies">Cookie settings</a></nav>
<p class="site-footer__legal">&copy; 2026 Herald Media Group. Registered office: 1 Fleetgate, Kessington.</p>
</footer>
</body>
</html>
"""


def page_coastaltimes(article: Article, outlet: Outlet, related: list[Article]) -> str:
    body = render_body(article, BodyStyle(
        '<p class="body-text">{text}</p>',
        '<h3 class="body-subhead">{text}</h3>',
        '<div class="pull-quote">&ldquo;{text}&rdquo;</div>'))
    stamp = f"{article.published:%b}. {article.published.day}, {article.published:%Y} {article.published:%I:%M %p} UTC"
    credit = f'\n<p class="storycredit">From {esc(article.credit)} reports</p>' if article.credit else ""
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
{head_meta(article, outlet)}
<link rel="stylesheet" href="/css/ct-2019.css">
</head>
<body>
<div id="wrapper">
<div id="cookie-notice" class="cookie-bar">We use cookies to improve your experience on coastaltimes.example. By continuing to browse you agree to our use of cookies. <a href="/privacy.html">Learn more</a> <a href="#" class="cookie-ok">OK</a></div>
<div id="hdr">
<div id="weather-strip">Marlow Bay: 48&deg;F, light rain &middot; High tide 4:12 p.m.</div>
<h1 id="sitename"><a href="/">Coastal Times</a></h1>
<div id="motto">{esc(outlet.tagline)}</div>
<ul id="menu">
<li><a href="/news/">News</a></li>
<li><a href="/news/local/">Local</a></li>
<li><a href="/weather/">Weather</a></li>
<li><a href="/sports/">Sports</a></li>
<li><a href="/business/">Business</a></li>
<li><a href="/obituaries/">Obituaries</a></li>
<li><a href="/classifieds/">Classifieds</a></li>
</ul>
</div>
<div class="ad" id="ad-banner-1"><span class="ad-label">Advertisement</span></div>
<div id="content">
<div id="col-main">
<div class="breadcrumbs"><a href="/">Home</a> &raquo; <a href="/news/">News</a> &raquo; <span>{esc(article.category)}</span></div>
<article id="story">
<h2 class="headline">{esc(article.title)}</h2>
<div class="byline">By {esc(article.author)} | <span class="dateline"><time datetime="{iso(article.published)}">{stamp}</time></span></div>{credit}
<div class="storytext">
{body}
</div>
<div class="share-tools"><a href="/share/email">Email</a> | <a href="/share/print">Print</a></div>
</article>
<div id="reader-comments">
<h3>Reader Comments</h3>
{comment_list(article.comments, '<div class="rc" id="rc-{id}"><div class="rc-head"><b>{name}</b> wrote on <time datetime="{iso}">{date}</time>:</div><div class="rc-text">{text}</div></div>', '%m/%d/%Y %I:%M %p')}
<p class="rc-note">Comments close 72 hours after publication.</p>
</div>
</div>
<div id="col-side">
<div class="ad" id="ad-side-1"><span class="ad-label">Advertisement</span></div>
<div class="sidebox" id="related-box">
<h4>Related stories</h4>
<ul>
{related_list(related, '<li><a href="{url}">{title}</a></li>')}
</ul>
</div>
<div class="sidebox" id="newsletter-box">
<h4>Get the Tide Report</h4>
<p>Coastal Times headlines delivered every morning.</p>
<form action="/subscribe.php" method="post"><input type="text" name="email" size="18"> <input type="submit" value="Join"></form>
</div>
<div class="ad" id="ad-side-2"><span class="ad-label">Advertisement</span></div>
</div>
</div>
<div id="ftr">
<p>Coastal Times &middot; 210 Harbor Street, Marlow Bay &middot; Newsroom (555) 014-2200</p>
<p>Copyright &copy; 2026 Coastal Times Publishing Co. <a href="/terms.html">Terms</a> | <a href="/privacy.html">Privacy</a> | <a href="/contact.html">Contact</a></p>
</div>
</div>
</body>
</html>
"""


def page_metrogazette(article: Article, outlet: Outlet, related: list[Article]) -> str:
    body = render_body(article, BodyStyle(
        '<p class="mg-p">{text}</p>',
        '<h2 class="mg-h2">{text}</h2>',
        '<figure class="mg-quote"><blockquote>{text}</blockquote></figure>'))
    stamp = article.published.strftime("%d/%m/%Y &middot; %H:%M")
    credit = f'<span class="mg-credit">Source: {esc(article.credit)}</span>' if article.credit else ""
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
{head_meta(article, outlet)}
<meta name="twitter:card" content="summary_large_image">
<link rel="stylesheet" href="/_next/static/css/mg.css">
</head>
<body class="mg">
<header class="mg-header">
<div class="mg-header__bar"><a class="mg-brand" href="/">Metro<strong>Gazette</strong></a> <a class="mg-subscribe" href="/subscribe/">Subscribe from &pound;1</a> <a class="mg-login" href="/account/login">Log in</a></div>
<nav class="mg-menu">
<a href="/news/">News</a>
<a href="/news/kessington/">Kessington</a>
<a href="/business/">Business</a>
<a href="/sport/">Sport</a>
<a href="/whats-on/">What's On</a>
<a href="/property/">Property</a>
<a href="/jobs/">Jobs</a>
</nav>
</header>
<div class="ad mg-ad--top" data-ad-unit="/2201/metrogazette/top">Advertisement</div>
<main class="mg-main">
<nav class="mg-breadcrumbs" aria-label="breadcrumbs"><a href="/">Metro Gazette</a> / <a href="/news/">News</a> / <a href="/news/{esc(slugify(article.category))}/">{esc(article.category)}</a></nav>
<div class="mg-grid">
<div class="mg-col">
<article class="mg-article">
<h1 class="mg-title">{esc(article.title)}</h1>
<div class="mg-meta"><span class="mg-author">{esc(article.author)}</span> <time class="mg-time" datetime="{iso(article.published)}">{stamp}</time> {credit}</div>
<div class="mg-article__text">
{body}
</div>
<div class="mg-tags"><span>Topics:</span> <a href="/topic/{esc(slugify(article.category))}/">{esc(article.category)}</a></div>
</article>
<section class="mg-comments" id="comments">
<h2>Join the conversation ({len(article.comments)})</h2>
<ul class="mg-comments__list">
{comment_list(article.comments, '<li class="mg-comment" data-comment-id="{id}"><div class="mg-comment__who">{name}</div><div class="mg-comment__when"><time datetime="{iso}">{date}</time></div><p class="mg-comment__text">{text}</p></li>', '%d %b, %H:%M')}
</ul>
</section>
</div>
<aside class="mg-sidebar">
<div class="ad mg-ad--mpu" data-ad-unit="/2201/metrogazette/mpu">Advertisement</div>
<section class="mg-related">
<h2>Related stories</h2>
<ol>
{related_list(related, '<li><a href="{url}">{title}</a></li>')}
</ol>
</section>
<section class="mg-newsletter">
<h2>Kessington Today</h2>
<p>Get the Gazette's top stories in your inbox every lunchtime.</p>
<form action="/newsletter/signup" method="post"><input type="email" name="email" placeholder="you@example.com"><button type="submit">Sign me up</button></form>
</section>
</aside>
</div>
</main>
<footer class="mg-footer">
<ul><li><a href="/contact-us/">Contact us</a></li><li><a href="/advertise/">Advertise</a></li><li><a href="/terms/">Terms and conditions</a></li><li><a href="/privacy-notice/">Privacy notice</a></li></ul>
<p>Metro Gazette is part of Kessington Media. &copy; 2026. All rights reserved.</p>
</footer>
</body>
</html>
"""


def page_riverbendpost(article: Article, outlet: Outlet, related: list[Article]) -> str:
    body = render_body(article, BodyStyle(
        "<p>{text}</p>",
        '<h2 class="wp-block-heading">{text}</h2>',
        '<blockquote class="wp-block-pullquote"><p>{text}</p></blockquote>'))
    post_id = article.story_id
    credit = f'<span class="source-credit">{esc(article.credit)}</span>' if article.credit else ""
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
{head_meta(article, outlet)}
<meta name="generator" content="WordPress 6.6">
<link rel="stylesheet" id="rbp-style-css" href="/wp-content/themes/rbp/style.css?ver=3.2">
</head>
<body class="post-template-default single single-post postid-{post_id}">
<div id="page" class="site">
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="/" rel="home">Riverbend Post</a></p><p class="site-description">{esc(outlet.tagline)}</p></div>
<nav id="site-navigation" class="main-navigation">
<ul id="primary-menu" class="menu">
<li class="menu-item"><a href="/category/news/">News</a></li>
<li class="menu-item"><a href="/category/schools/">Schools</a></li>
<li class="menu-item"><a href="/category/sports/">Sports</a></li>
<li class="menu-item"><a href="/category/farm-and-business/">Farm &amp; Business</a></li>
<li class="menu-item"><a href="/category/community/">Community</a></li>
<li class="menu-item"><a href="/submit-a-letter/">Letters</a></li>
</ul>
</nav>
</header>
<div class="ad ad-header" id="rbp-ad-728">Sponsored</div>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main">
<nav class="yoast-breadcrumb"><span><a href="/">Home</a> &gt; <a href="/category/{esc(slugify(article.category))}/">{esc(article.category)}</a> &gt; <span class="breadcrumb_last">{esc(article.title)}</span></span></nav>
<article id="post-{post_id}" class="post-{post_id} post type-post status-publish format-standard hentry">
<header class="entry-header">
<h1 class="entry-title">{esc(article.title)}</h1>
<div class="entry-meta"><span class="byline">by <span class="author vcard">{esc(article.author)}</span></span> <span class="posted-on"><time class="entry-date published" datetime="{iso(article.published)}">{long_date(article.published)}</time></span> {credit}</div>
</header>
<div class="entry-content">
{body}
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="/category/{esc(slugify(article.category))}/" rel="category tag">{esc(article.category)}</a></span></footer>
</article>
<div id="jp-relatedposts" class="jp-relatedposts">
<h3 class="jp-relatedposts-headline">Related stories</h3>
<ul>
{related_list(related, '<li class="jp-relatedposts-post"><a href="{url}">{title}</a></li>')}
</ul>
</div>
<div id="comments" class="comments-area">
<h2 class="comments-title">{len(article.comments)} thoughts on &ldquo;{esc(article.title)}&rdquo;</h2>
<ol class="comment-list">
{comment_list(article.comments, '<li id="comment-{id}" class="comment"><article class="comment-body"><footer class="comment-meta"><b class="fn">{name}</b> <time datetime="{iso}">{date}</time></footer><div class="comment-content"><p>{text}</p></div></article></li>', '%B %d, %Y at %I:%M %p')}
</ol>
<div id="respond" class="comment-respond"><h3 class="comment-reply-title">Leave a Reply</h3><p class="comment-notes">Your email address will not be published.</p></div>
</div>
</main>
</div>
<aside id="secondary" class="widget-area">
<section class="widget widget_newsletter"><h2 class="widget-title">The Weekly Post</h2><p>Riverbend news every Friday morning. Free.</p><form method="post" action="/?na=s"><input type="email" name="ne" required> <input type="submit" value="Subscribe"></form></section>
<section class="widget widget_ad"><div class="ad ad-sidebar" id="rbp-ad-300">Sponsored</div></section>
</aside>
</div>
<footer id="colophon" class="site-footer">
<div class="site-info">&copy; 2026 Riverbend Post &middot; 14 Main Street, Riverbend &middot; Proudly powered by local readers</div>
</footer>
</div>
</body>
</html>
"""


PageRenderer = Callable[[Article, Outlet, list[Article]], str]

TEMPLATES: dict[str, PageRenderer] = {
    "globalwire": page_globalwire,
    "dailyherald": page_dailyherald,
    "coastaltimes": page_coastaltimes,
    "metrogazette": page_metrogazette,
    "riverbendpost": page_riverbendpost,
}


# --------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------

def feed_link(article: Article, feed: Feed) -> str:
    return url_of(article) + article.feed_links.get(feed.id, "")


def content_html(article: Article) -> str:
    """Body as simple HTML for content:encoded / Atom content."""
    return "".join(
        f"<h2>{html.escape(b.text, quote=False)}</h2>" if b.kind == "h2"
        else f"<p>{html.escape(b.text, quote=False)}</p>"
        for b in article.blocks if b.kind != "quote"
    )


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def carries_content(article: Article) -> bool:
    return article.feed_content or article.missing_page


def rss2_item(article: Article, outlet: Outlet, feed: Feed) -> str:
    guid = feed.guid.format(url=url_of(article), id=article.story_id, host=outlet.host)
    lines = [
        "<item>",
        f"<title>{xml_escape(article.title)}</title>",
        f"<link>{xml_escape(feed_link(article, feed))}</link>",
        f'<guid isPermaLink="{str(feed.guid_is_permalink).lower()}">{xml_escape(guid)}</guid>',
        f"<pubDate>{format_datetime(article.published)}</pubDate>",
        f"<dc:creator>{xml_escape(article.author)}</dc:creator>",
    ]
    if feed.categories:
        lines.append(f"<category>{xml_escape(article.category)}</category>")
    if article.summary:
        lines.append(f"<description>{xml_escape(article.summary)}</description>")
    if carries_content(article):
        lines.append(f"<content:encoded>{cdata(content_html(article))}</content:encoded>")
    lines.append("</item>")
    return "\n".join(lines)


def render_rss2(outlet: Outlet, feed: Feed, items: list[Article]) -> str:
    newest = max(a.updated for a in items)
    body = "\n".join(rss2_item(a, outlet, feed) for a in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{xml_escape(feed.title)}</title>
<link>{outlet.base_url}/</link>
<atom:link href="{outlet.base_url}{feed.path}" rel="self" type="application/rss+xml"/>
<description>{xml_escape(feed.description)}</description>
<language>{outlet.language}</language>
<copyright>Copyright 2026 {xml_escape(outlet.name)}</copyright>
<lastBuildDate>{format_datetime(newest)}</lastBuildDate>
<ttl>15</ttl>
{body}
</channel>
</rss>
"""


def rdf_item(article: Article) -> str:
    url = xml_escape(url_of(article))
    lines = [
        f'<item rdf:about="{url}">',
        f"<title>{xml_escape(article.title)}</title>",
        f"<link>{url}</link>",
    ]
    if article.summary:
        lines.append(f"<description>{xml_escape(article.summary)}</description>")
    lines += [
        f"<dc:date>{iso(article.published)}</dc:date>",
        f"<dc:creator>{xml_escape(article.author)}</dc:creator>",
        f"<dc:subject>{xml_escape(article.category)}</dc:subject>",
    ]
    if carries_content(article):
        lines.append(f"<content:encoded>{cdata(content_html(article))}</content:encoded>")
    lines.append("</item>")
    return "\n".join(lines)


def render_rdf(outlet: Outlet, feed: Feed, items: list[Article]) -> str:
    newest = max(a.updated for a in items)
    seq = "\n".join(f'<rdf:li rdf:resource="{xml_escape(url_of(a))}"/>' for a in items)
    body = "\n".join(rdf_item(a) for a in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel rdf:about="{outlet.base_url}{feed.path}">
<title>{xml_escape(feed.title)}</title>
<link>{outlet.base_url}/</link>
<description>{xml_escape(feed.description)}</description>
<dc:language>{outlet.language}</dc:language>
<dc:date>{iso(newest)}</dc:date>
<items>
<rdf:Seq>
{seq}
</rdf:Seq>
</items>
</channel>
{body}
</rdf:RDF>
"""


def atom_entry(article: Article, outlet: Outlet, feed: Feed) -> str:
    authority = outlet.host.removeprefix("www.")
    lines = [
        "<entry>",
        f"<id>tag:{authority},{article.published:%Y}:article-{article.story_id}</id>",
        f'<title type="text">{xml_escape(article.title)}</title>',
        f'<link rel="alternate" type="text/html" href="{xml_escape(feed_link(article, feed))}"/>',
    ]
    if article.feed_published:
        lines.append(f"<published>{iso(article.published)}</published>")
    lines += [
        f"<updated>{iso(article.updated)}</updated>",
        f"<author><name>{xml_escape(article.author)}</name></author>",
        f'<category term="{xml_escape(slugify(article.category))}" label="{xml_escape(article.category)}"/>',
    ]
    if article.summary:
        lines.append(f'<summary type="text">{xml_escape(article.summary)}</summary>')
    if carries_content(article):
        lines.append(f'<content type="html">{xml_escape(content_html(article))}</content>')
    lines.append("</entry>")
    return "\n".join(lines)


def render_atom(outlet: Outlet, feed: Feed, items: list[Article]) -> str:
    newest = max(a.updated for a in items)
    body = "\n".join(atom_entry(a, outlet, feed) for a in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{outlet.language}">
<id>{outlet.base_url}{feed.path}</id>
<title>{xml_escape(feed.title)}</title>
<subtitle>{xml_escape(feed.description)}</subtitle>
<link rel="self" type="application/atom+xml" href="{outlet.base_url}{feed.path}"/>
<link rel="alternate" type="text/html" href="{outlet.base_url}/"/>
<updated>{iso(newest)}</updated>
<rights>Copyright 2026 {xml_escape(outlet.name)}</rights>
<generator>HeraldCMS</generator>
{body}
</feed>
"""


FEED_RENDERERS: dict[str, Callable[[Outlet, Feed, list[Article]], str]] = {
    "rss2": render_rss2,
    "rdf": render_rdf,
    "atom": render_atom,
}


# --------------------------------------------------------------------------
# Feed lists
# --------------------------------------------------------------------------

def all_feeds() -> list[tuple[Outlet, Feed]]:
    return [(o, f) for o in OUTLETS.values() for f in o.feeds]


def render_opml(feeds: list[tuple[Outlet, Feed]]) -> str:
    outlines = "\n".join(
        f'<outline type="rss" text="{xml_escape(f.title)}" title="{xml_escape(f.title)}" '
        f'xmlUrl="{o.base_url}{f.path}" htmlUrl="{o.base_url}/"/>'
        for o, f in feeds
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
<head>
<title>newsbeam offline sample feeds</title>
<ownerName>newsbeam</ownerName>
</head>
<body>
<outline text="Sample outlets" title="Sample outlets">
{outlines}
</outline>
</body>
</opml>
"""


def render_feed_list(feeds: list[tuple[Outlet, Feed]]) -> str:
    lines = ["# newsbeam offline sample feeds (fictional; served from sample/site by Host header)"]
    lines += [f"{o.base_url}{f.path}" for o, f in feeds]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

# robots.txt files, by host. One outlet keeps a day's stories from automated agents, so the demo shows a page
# that is not fetched (its record uses the feed's full text). The other hosts have none: a 404, everything
# allowed (RFC 9309 2.3.1.3).
ROBOTS_TXT = {
    "www.globalwire.example": (
        "# Global Wire (fictional): one day's stories are kept from automated agents.\n"
        "User-agent: *\n"
        "Disallow: /stories/2026-11-21/\n"
        "\n"
        "# An archive crawler that is asked to stay away entirely; its group does not apply to other agents.\n"
        "User-agent: archive-bot\n"
        "Disallow: /\n"
    ),
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build() -> None:
    articles = load_articles()
    if SITE_DIR.exists():
        shutil.rmtree(SITE_DIR)
    pages = 0
    for article in articles:
        if article.missing_page:
            continue
        outlet = OUTLETS[article.outlet]
        related = related_articles(article, articles)
        write(page_file(outlet.host, article.path), TEMPLATES[outlet.id](article, outlet, related))
        pages += 1
    feeds = all_feeds()
    entries = 0
    for outlet, feed in feeds:
        items = [a for a in articles if a.outlet == outlet.id and feed.id in a.feeds]
        items.sort(key=lambda a: (a.published, a.path), reverse=True)
        write(SITE_DIR / outlet.host / feed.path.lstrip("/"),
              FEED_RENDERERS[feed.format](outlet, feed, items))
        entries += len(items)
        print(f"{outlet.base_url}{feed.path}: {len(items)} entries")
    for host, text in ROBOTS_TXT.items():
        write(SITE_DIR / host / "robots.txt", text)
    write(SAMPLE_DIR / "feeds.opml", render_opml(feeds))
    write(SAMPLE_DIR / "feeds.txt", render_feed_list(feeds))
    print(f"{len(articles)} articles, {pages} pages, {entries} feed entries")


if __name__ == "__main__":
    build()
