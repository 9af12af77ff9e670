"""Properties of the normalizers for any input, and a bounded fuzz of extraction and ingestion.

Hypothesis runs derandomized (a fixed seed per test) and without deadlines, so the suite is
reproducible and a slow machine is no failure.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedtool import normalize
from feedtool.errors import ExtractError
from feedtool.extract import feed
from feedtool.extract.html import Page
from feedtool.model import Fetched, RawItem, Selectors, Validators
from feedtool.urls import safe_url

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
QUICK = settings(max_examples=200, deadline=None, derandomize=True)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# --- dates -------------------------------------------------------------------------------------

date_texts = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "31.12.9999 23:59"]),
    st.text(max_size=40),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
        timezones=st.timezones() | st.just(UTC) | st.none(),
    ).map(lambda d: d.isoformat()),
    st.from_regex(r"\d{1,4}-\d{1,2}-\d{1,2}T\d\d:\d\d:\d\d[+-]\d\d:\d\d", fullmatch=True),
    st.from_regex(r"\d{1,2}\.\d{1,2}\.\d{2,4}( \d{1,2}:\d\d)?", fullmatch=True),
)  # fmt: skip


@QUICK
@given(date_texts)
def test_parse_date_never_raises_and_is_aware_utc_within_bounds(text: str) -> None:
    parsed = normalize.parse_date(text, NOW)
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)
        assert normalize.EARLIEST <= parsed < normalize.LATEST


@QUICK
@given(date_texts)
def test_parse_iso_never_raises_and_is_aware_utc_within_bounds(text: str) -> None:
    parsed = normalize.parse_iso(text)
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)
        assert normalize.EARLIEST <= parsed < normalize.LATEST


# --- URLs --------------------------------------------------------------------------------------

url_texts = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, path, query: f"{scheme}://{host}/{path}?{query}",
        st.sampled_from(["http", "HTTPS", "javascript", " JaVaScRiPt", "data", "file", "ftp"]),
        st.from_regex(r"[a-z0-9.-]{0,20}(:\d{1,6})?", fullmatch=True),
        st.text(max_size=20),
        st.text(max_size=20),
    ),
)


@QUICK
@given(url_texts, st.sampled_from(["http://example.org/news/", "https://x.org/a?b=1", ""]))
def test_canonical_link_is_idempotent_and_only_http(href: str, base: str) -> None:
    link = normalize.canonical_link(href, base)
    if link is not None:
        assert link.startswith(("http://", "https://"))
        assert normalize.canonical_link(link, "") == link


@QUICK
@given(url_texts)
def test_safe_url_lets_only_http_and_https_through(url: str) -> None:
    safe = safe_url(url)
    if safe is not None:
        assert re.match(r"(?i)https?://[^/?#]", safe)
        assert not re.search("[\x00-\x1f\x7f-\x9f]", safe)
        assert safe_url(safe) == safe


# --- identity ----------------------------------------------------------------------------------

noise = st.sampled_from([" ", "\t", "\n", "  \r\n ", "\u00a0"])


@QUICK
@given(st.text(min_size=1, max_size=40), noise, noise, st.sampled_from([None, "title", "link"]))
def test_identity_is_stable_under_whitespace_noise(
    title: str, before: str, after: str, rule: str | None
) -> None:
    source = normalize.Source(id="s", url="http://e.org/", identity=rule)

    def key(raw_title: str, link: str) -> str | None:
        raw = RawItem(title=raw_title, link=link)
        item = normalize.item(raw, source=source, page_url="http://e.org/", now=NOW,
                              require_link=True)  # fmt: skip
        return item.key if item else None

    plain = key(title, "/a/b")
    assert key(f"{before}{title}{after}", f"{before}/a/b{after}") == plain


# --- text --------------------------------------------------------------------------------------


@QUICK
@given(st.text(max_size=200))
def test_no_xml_forbidden_character_survives_cleaning(text: str) -> None:
    for cleaned in (
        normalize.clean_text(text),
        normalize.html_to_text(text),
        normalize.sanitize_html(text, "http://e.org/") or "",
        normalize.cut_text(normalize.clean_text(text), 50),
    ):
        assert not XML_FORBIDDEN.search(cleaned)


# --- fuzz: extraction and ingestion never raise anything but ExtractError ----------------------

HTML_SEED = b"""<html><head><title>T</title><base href="/x/"></head><body>
<div class="news-item"><span class="news-date">23.12.2024</span>
<a class="news-title" href="/a/1">One &amp; two</a><p class="news-preview">S <b>b</b></p></div>
<div class="news-item"><time datetime="9999-12-31T23:59:59-23:59">x</time>
<a class="news-title" href="javascript:alert(1)">Two</a></div></body></html>"""
RSS_SEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<link>javascript:x</link><item><title>a</title><link>/rel</link><guid>g</guid>
<pubDate>Fri, 31 Dec 9999 23:59:59 -2359</pubDate><description>&lt;b&gt;s</description>
</item></channel></rss>"""
JSON_SEED = json.dumps(
    {"version": "https://jsonfeed.org/version/1.1", "title": "j", "home_page_url": "data:x",
     "items": [{"id": 1, "url": "/a", "date_published": "9999-12-31T23:59:59-23:59",
                "content_html": "<p>x</p>"}]}
).encode()  # fmt: skip
SELECTORS = Selectors(
    item=".news-item", title=".news-title", link="a@href", date=".news-date, time@datetime",
    summary=".news-preview",
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed with a few bytes replaced, inserted or cut, or a slice repeated."""
    body = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(body)))
        kind = draw(st.sampled_from(["replace", "insert", "cut", "repeat"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if kind == "replace":
            body[at : at + len(chunk)] = chunk
        elif kind == "insert":
            body[at:at] = chunk
        elif kind == "cut":
            del body[at : at + draw(st.integers(1, 40))]
        else:
            body[at:at] = body[at : at + 30] * draw(st.integers(2, 50))
    return bytes(body)


def inputs(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), mutated(seed), st.just(seed))


def document(body: bytes, content_type: str) -> Fetched:
    return Fetched(
        url="http://example.org/news/", status=200, body=body, content_type=content_type,
        charset=None, validators=Validators(),
    )  # fmt: skip


def ingest(raws: tuple[RawItem, ...], from_feed: bool) -> None:
    source = normalize.Source(id="s", url="http://example.org/news/")
    for item in normalize.items(raws, source=source, page_url="http://example.org/news/",
                                now=NOW, require_link=not from_feed):  # fmt: skip
        assert item.link is None or safe_url(item.link) == item.link
        assert not XML_FORBIDDEN.search(item.title)


@FUZZ
@given(inputs(HTML_SEED))
def test_fuzzed_html_extraction_raises_only_extract_errors(body: bytes) -> None:
    try:
        page = Page.parse(body, None, "text/html", "http://example.org/news/")
        ingest(page.extract(SELECTORS).items, from_feed=False)
    except ExtractError:
        pass


@FUZZ
@given(st.one_of(inputs(RSS_SEED), inputs(JSON_SEED)))
def test_fuzzed_feed_ingestion_raises_only_extract_errors(body: bytes) -> None:
    try:
        extracted = feed.parse(document(body, "application/xml"))
    except ExtractError:
        return
    assert extracted.site_url is None or safe_url(extracted.site_url) == extracted.site_url
    ingest(extracted.items, from_feed=True)
