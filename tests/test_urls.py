from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.lib.urls import BadUrl, canonical_url, is_http_url, record_id, source_domain


@pytest.mark.parametrize("raw, expected", [
    ("HTTP://Example.COM:80/a/./b/../c?utm_source=x&b=2&a=1#top", "http://example.com/a/c?a=1&b=2"),
    ("https://www.dailyherald.example/2026/a.html?utm_campaign=world&utm_source=section",
     "https://www.dailyherald.example/2026/a.html"),
    ("https://news.example:443/x?fbclid=abc&gclid=1&id=7", "https://news.example/x?id=7"),
    ("https://news.example:8443/x", "https://news.example:8443/x"),
    ("http://user:secret@news.example/x", "http://news.example/x"),
    ("http://news.example", "http://news.example/"),
    ("http://news.example/dir/", "http://news.example/dir/"),
    ("http://bücher.example/caf%C3%A9", "http://xn--bcher-kva.example/caf%C3%A9"),
    ("http://news.example/a b", "http://news.example/a%20b"),
    ("http://news.example/%7Euser", "http://news.example/~user"),
    ("  http://news.example/x  ", "http://news.example/x"),
])
def test_canonical_url(raw, expected):
    assert canonical_url(raw) == expected


def test_content_selecting_parameters_are_kept():
    # "source" or "ref" may select content on some sites: only known trackers go.
    assert canonical_url("http://n.example/story?source=rss&ref=7&p=1") == "http://n.example/story?p=1&ref=7&source=rss"


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "ftp://files.example/a", "file:///etc/passwd", "/relative",
                                 "http://", "mailto:a@b.example", "http://[::1"])
def test_unfetchable_urls_are_refused(bad):
    with pytest.raises(BadUrl):
        canonical_url(bad)


def test_ids_are_deterministic_and_differ_per_url():
    a = record_id(canonical_url("http://n.example/a?utm_source=x"))
    assert a == record_id("http://n.example/a")
    assert a != record_id("http://n.example/b")
    assert len(a) == 16


def test_source_domain_and_http_check():
    assert source_domain("https://www.herald.example/x") == "herald.example"
    assert source_domain("https://live.herald.example/x") == "live.herald.example"
    assert is_http_url("https://a.example/") and not is_http_url("javascript:x") and not is_http_url(None)


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){1,2}", fullmatch=True)
paths = st.lists(st.from_regex(r"[A-Za-z0-9._~%-]{0,8}", fullmatch=True), max_size=4).map(lambda p: "/" + "/".join(p))
params = st.lists(st.tuples(st.sampled_from(["id", "page", "q", "utm_source", "utm_medium", "fbclid", "x"]),
                            st.from_regex(r"[a-z0-9]{0,5}", fullmatch=True)), max_size=5)


@given(st.sampled_from(["http", "https", "HTTP"]), hosts, paths, params, st.booleans())
def test_canonicalisation_properties(scheme, host, path, query, fragment):
    url = f"{scheme}://{host.upper()}{path}?" + "&".join(f"{k}={v}" for k, v in query) + ("#frag" if fragment else "")
    canonical = canonical_url(url)
    assert canonical_url(canonical) == canonical  # idempotent
    assert "#" not in canonical and "utm_" not in canonical and "fbclid" not in canonical
    assert canonical.split("://", 1)[1].split("/", 1)[0] == host.lower()
    shuffled = f"{scheme}://{host}{path}?" + "&".join(f"{k}={v}" for k, v in reversed(query))
    assert canonical_url(shuffled) == canonical  # parameter order does not matter
