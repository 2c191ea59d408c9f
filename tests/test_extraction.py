from __future__ import annotations

import pytest

from schemas.records import FetchedPage
from tests.builders import entry
from transforms.lib.extraction import ExtractSettings, NoText, build_article, declared_language
from transforms.lib.text import decode_html, html_to_text

BODY = " ".join(f"Sentence {i} about the Halvergate port strike and the union's demands." for i in range(30))
PAGE = (f"<html lang='en-GB'><head><title>Strike | Wire</title><meta name='author' content='Page Author'></head>"
        f"<body><nav><a href='/'>Home</a><a href='/world'>World</a></nav><div class='ad'>Advert: buy now</div>"
        f"<article><h1>Port strike</h1><p>{BODY}</p></article>"
        f"<section class='comments'><p>Reader: this is outrageous</p></section><footer>(c) Wire</footer></body></html>")


def page(html=None, error=None, e=None) -> FetchedPage:
    return FetchedPage(e or entry(), html, "http://w.example/a" if html else None, 200 if html else 404, error,
                       "2026-11-24T00:00:00Z")


def test_page_body_without_boilerplate():
    article = build_article(page(PAGE), ExtractSettings())
    assert article.body_source == "page" and article.body_note is None
    assert "Sentence 29 about the Halvergate" in article.body
    assert "Advert" not in article.body and "outrageous" not in article.body and "Home" not in article.body
    assert article.title == "Feed title" and article.author == "Page Author" and article.language == "en"


def test_missing_page_falls_back_to_feed_content():
    article = build_article(page(None, "http_404: HTTP 404", entry(content="Full feed text " * 20)), ExtractSettings())
    assert article.body_source == "feed" and article.body.startswith("Full feed text")
    assert article.body_note == "page not fetched: http_404: HTTP 404"


def test_thin_page_falls_back_to_longer_feed_text():
    thin = "<html><body><article><p>Subscribe to read this article.</p></article></body></html>"
    article = build_article(page(thin, e=entry(content="The real story. " * 40)), ExtractSettings())
    assert article.body_source == "feed" and "thin" in article.body_note


def test_no_text_anywhere_is_an_error():
    with pytest.raises(NoText) as error:
        build_article(page(None, "http_404: gone"), ExtractSettings())
    assert error.value.reason == "page_http_404"


def test_decode_html_handles_mislabelled_charsets():
    cp1252 = "<p>caf\u00e9 \u2013 na\u00efve</p>".encode("cp1252")
    assert decode_html(cp1252, "utf-8") == "<p>caf\u00e9 \u2013 na\u00efve</p>"
    latin_meta = '<meta charset="iso-8859-1"><p>\u00e9t\u00e9</p>'.encode("iso-8859-1")
    assert "\u00e9t\u00e9" in decode_html(latin_meta, None)
    assert decode_html("\u00e9".encode(), "no-such-charset") == "\u00e9"


def test_html_to_text_and_language():
    assert html_to_text("<p>One</p><script>x()</script><p>Two &amp; three</p>") == "One\n\nTwo & three"
    assert html_to_text("Plain &lt;b&gt; text") == "Plain <b> text"
    assert declared_language('<html class="x" lang="fr-CA">') == "fr"
    assert declared_language("<html>") is None
