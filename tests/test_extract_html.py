"""HTML pages: malformed URLs, binary sniffing, base URLs, advertised feeds for auto sources, and
the lxml selector engine measured against what Beautiful Soup and soupsieve did."""

from __future__ import annotations

import gzip
import io
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import soupsieve
from bs4 import BeautifulSoup, Tag

from feedtool import extract, normalize
from feedtool.cli import main
from feedtool.errors import ExtractError
from feedtool.extract import syntax
from feedtool.extract.html import Page, parse_html
from feedtool.extract.selector import Selector, inner_html, text_of
from feedtool.extract.syntax import SelectorError
from feedtool.fetch import HttpFetcher
from feedtool.model import Fetched, Paginate, Selectors, Source, Validators
from feedtool.textcodec import decode
from tests.conftest import Site, listing, news_items

FEEDS = Path(__file__).parent / "data" / "feeds"
LOGO = Path(__file__).parent.parent / "feedtool" / "demo_site" / "local" / "templates" / "ico"
URL = "https://example.org/news/"
SELECT = Selectors(item=".news-item", title=".news-title", link="a.news-title@href")
EMPTY_RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def page_of(html: str, url: str = URL) -> Page:
    return Page.parse(html.encode(), "utf-8", "text/html", url)


def fetched(html: str | bytes, url: str = URL) -> Fetched:
    body = html.encode() if isinstance(html, str) else html
    return Fetched(
        url=url,
        status=200,
        body=body,
        content_type="text/html",
        charset=None,
        validators=Validators(),
    )


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(retries=0, timeout=5) as f:
        yield f


# --- malformed URLs ----------------------------------------------------------------------------


def test_unjoinable_link_skips_only_its_item() -> None:
    html = listing(news_items(3)).replace("/news/news_odkb/item-1/", "http://[broken/x")

    extracted = page_of(html).extract(SELECT)

    assert [item.title for item in extracted.items] == ["News item number 0", "News item number 2"]
    assert extracted.skipped == 1


def test_unjoinable_base_href_is_ignored() -> None:
    html = listing(news_items(3)).replace("<head>", '<head><base href="http://[broken/">')

    page = page_of(html)

    assert page.base == URL
    assert page.extract(SELECT).items[0].link == "https://example.org/news/news_odkb/item-0/"


def test_unjoinable_next_page_and_advertised_feed_are_none() -> None:
    head = (
        '<head><link rel="next" href="http://[broken/2">'
        '<link rel="alternate" type="application/rss+xml" href="http://[broken/feed">'
    )
    page = page_of(listing(news_items(3)).replace("<head>", head))

    assert page.next_url(Paginate()) is None
    assert page.next_url(Paginate(next='link[rel="next"]')) is None
    assert page.advertised_feed() is None


# --- binary content ----------------------------------------------------------------------------


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


BINARIES = {
    "png": (LOGO / "images" / "logo.png").read_bytes(),
    "gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
    "pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    "zip": _zip(),
    "gzip": gzip.compress(b"<html>compressed</html>"),
    "unknown": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("body", BINARIES.values(), ids=BINARIES.keys())
def test_binary_files_are_refused(body: bytes) -> None:
    with pytest.raises(ExtractError, match="binary content"):
        decode(body, None)


def test_stray_nul_bytes_do_not_refuse_the_page() -> None:
    html = listing(news_items(3)).replace("<title>", "<title>\x00")

    page = Page.parse(html.encode(), None, "text/html", URL)

    assert len(page.extract(SELECT).items) == 3


def test_utf16_with_bom_decodes() -> None:
    html = listing(news_items(3))

    assert decode(html.encode("utf-16"), None) == html


# --- base URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize("select", [SELECT, None], ids=["selectors", "detection"])
def test_base_url_is_the_base_href(select: Selectors | None, fetcher: HttpFetcher) -> None:
    html = listing(news_items(5)).replace("<head>", '<head><base href="https://www.example.org/">')
    source = Source(id="s", url=URL, type="html", select=select)

    extracted = extract.items(source, fetched(html), fetch=fetcher.get)

    assert extracted.base_url == "https://www.example.org/"
    assert extracted.items[0].link == "https://www.example.org/news/news_odkb/item-0/"


def test_base_url_is_the_url_without_base_href(fetcher: HttpFetcher) -> None:
    source = Source(id="s", url=URL, type="html", select=SELECT)

    extracted = extract.items(source, fetched(listing(news_items(3))), fetch=fetcher.get)

    assert extracted.base_url == URL


# --- advertised feeds ----------------------------------------------------------------------------


def advertising(site: Site, content_type: str, href: str) -> str:
    """A listing page on `site` that advertises `href` as a feed of `content_type`."""
    link = f'<link rel="alternate" type="{content_type}" href="{href}">'
    return site.page("/news/", listing(news_items(5)).replace("<head>", "<head>" + link))


def extract_from(
    site: Site, fetcher: HttpFetcher, url: str, kind: str = "auto"
) -> list[str | None]:
    source = Source(id="s", url=url, type=kind)  # type: ignore[arg-type]
    document = fetcher.get(url)
    assert isinstance(document, Fetched)
    return [item.title for item in extract.items(source, document, fetch=fetcher.get).items]


DETECTED = [f"News item number {i}" for i in range(5)]


def test_wordpress_rest_api_is_not_taken_for_a_feed(site: Site, fetcher: HttpFetcher) -> None:
    site.page("/wp-json/", b'{"name": "Blog", "routes": {}}', content_type="application/json")
    url = advertising(site, "application/json", "/wp-json/")

    assert extract_from(site, fetcher, url) == DETECTED
    assert not site.hits("/wp-json/")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (None, ""),  # 404
        (b"<html><body>Not a feed</body></html>", "application/rss+xml"),
        (EMPTY_RSS, "application/rss+xml"),
    ],
    ids=["missing", "not-a-feed", "empty"],
)
def test_failing_or_empty_advertised_feed_falls_back_to_detection(
    site: Site,
    fetcher: HttpFetcher,
    caplog: pytest.LogCaptureFixture,
    body: bytes | None,
    content_type: str,
) -> None:
    if body is not None:
        site.page("/feed.xml", body, content_type=content_type)
    url = advertising(site, "application/rss+xml", "/feed.xml")

    with caplog.at_level(logging.WARNING, logger="feedtool.extract"):
        assert extract_from(site, fetcher, url) == DETECTED

    assert len(site.hits("/feed.xml")) == 1
    assert "/feed.xml" in caplog.text
    assert "detecting items on the page" in caplog.text


def test_html_source_without_selectors_does_not_follow_the_advertised_feed(
    site: Site, fetcher: HttpFetcher
) -> None:
    site.page("/feed.xml", (FEEDS / "rss20.xml").read_bytes(), content_type="application/rss+xml")
    url = advertising(site, "application/rss+xml", "/feed.xml")

    assert extract_from(site, fetcher, url, "html") == DETECTED
    assert not site.hits("/feed.xml")
    assert extract_from(site, fetcher, url)[0] == "Harbour bridge reopens after repairs"


def test_an_advertised_feed_is_marked_from_feed(site: Site, fetcher: HttpFetcher) -> None:
    site.page("/feed.xml", (FEEDS / "rss20.xml").read_bytes(), content_type="application/rss+xml")
    url = advertising(site, "application/rss+xml", "/feed.xml")
    document = fetcher.get(url)
    assert isinstance(document, Fetched)

    extracted = extract.items(Source(id="s", url=url), document, fetch=fetcher.get)

    assert extracted.from_feed is True
    assert extract.items(Source(id="s", url=url, type="html"), document, fetcher.get).from_feed is (
        False
    )


# --- default title -------------------------------------------------------------------------------


def with_image_links(html: str) -> str:
    """Every item starting with an image link to its article, as Bitrix templates do."""
    return html.replace(
        '<div class="news-date">',
        '<a class="preview-picture" href="/news/img/"><img src="/p.jpg" alt=""></a>'
        '<a class="category" href="/news/category/">Category</a>\n<div class="news-date">',
    )


@pytest.mark.parametrize("link", ["a.news-title", "a.news-title@href", ".news-title@href"])
def test_without_a_title_selector_the_title_is_the_text_of_the_link_selectors_match(
    link: str,
) -> None:
    page = page_of(with_image_links(listing(news_items(3))))

    extracted = page.extract(Selectors(item=".news-item", link=link))

    assert [item.title for item in extracted.items] == [f"News item number {i}" for i in range(3)]
    assert extracted.items[0].link == "https://example.org/news/news_odkb/item-0/"


def test_without_title_and_link_selectors_the_title_is_the_first_link_with_text() -> None:
    html = listing(news_items(2)).replace(
        '<div class="news-date">',
        '<a href="/news/img/"><img src="/p.jpg" alt=""></a><div class="news-date">',
    )

    extracted = page_of(html).extract(Selectors(item=".news-item"))

    assert [item.title for item in extracted.items] == ["News item number 0", "News item number 1"]
    assert extracted.items[0].link == "https://example.org/news/img/"  # still the first link


# --- selectors on lxml ---------------------------------------------------------------------------

TRICKY = [
    "<p>Hello <b>bold</b>, <i>it<em>al</em>ic</i> &amp; more&nbsp;</p>",
    "<div>a<!-- a comment -->b<script>var x = '<b>no</b>';</script>c<style>p{}</style>d</div>",
    "<div><template><p>hidden</p></template>after<?php echo 1; ?>tail</div>",
    "<div><ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby> text</div>",
    "<div>\n  spaced\n\t<span>  out  </span>\n  <br>lines &lt;tag&gt; &quot;q&quot;</div>",
    "<div><noscript><a href='/x'>no script</a></noscript><p></p><p> </p>end</div>",
    "<script>only script</script>",
    "<table><tr><td>1</td><td>2<td>3</table>",
]


def _bs4_and_lxml(markup: str) -> list[tuple[Any, Any]]:
    """Each element of markup as Beautiful Soup and as feedtool's parser see it, in order."""
    soup = BeautifulSoup(markup, "lxml")
    root = parse_html(markup, URL)
    tags = [t for t in soup.descendants if isinstance(t, Tag)]
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    assert [t.name for t in tags] == [e.tag for e in elements]
    return list(zip(tags, elements, strict=True))


@pytest.mark.parametrize("markup", TRICKY)
def test_text_of_is_beautiful_soups_get_text(markup: str) -> None:
    for tag, element in _bs4_and_lxml(markup):
        assert text_of(element) == tag.get_text(" ", strip=True), tag.name


@pytest.mark.parametrize("markup", TRICKY)
def test_inner_html_is_beautiful_soups_decode_contents(markup: str) -> None:
    """The same markup once sanitized, up to whitespace (Beautiful Soup trims some around <br>)."""

    def published(fragment: str) -> str:
        return " ".join((normalize.sanitize_html(fragment, URL) or "").split())

    for tag, element in _bs4_and_lxml(markup):
        ours, theirs = inner_html(element), tag.decode_contents()
        assert published(ours) == published(theirs)
        assert text_of(parse_html(ours, URL)) == text_of(parse_html(theirs, URL))


SOUPSIEVE_CASES = [
    ".a.b",
    "li:nth-child(2n+1)",
    "li:not(.a)",
    'a[rel~="next"]',
    'a[href*="PAGEN_"]',
    "ul > li",
    "div li",
    "li + li",
    "li ~ li.b",
    "div > ul li.a, p",
    "section:has(> h2) li",
    "li:first-child, li:last-of-type",
]
SOUPSIEVE_PAGE = """<div id="d"><ul><li class="a b">1</li><li class="a">2</li>
<li class="b"><a rel="next up" href="?PAGEN_1=2">3</a></li><li>4</li></ul></div>
<section><h2>t</h2><ol><li class="a">5</li></ol></section><p>p</p>"""


@pytest.mark.parametrize("css", SOUPSIEVE_CASES)
def test_css_selects_and_matches_as_soupsieve_did(css: str) -> None:
    pairs = _bs4_and_lxml(SOUPSIEVE_PAGE)
    selector = Selector.compile(css)
    assert [e for _, e in pairs if selector.matches(e)] == [
        e for t, e in pairs if soupsieve.match(css, t)
    ]
    for tag, element in pairs:  # from every scope, its matching descendants, never itself
        expected = {id(t) for t in soupsieve.select(css, tag)}
        assert selector.all(element) == [e for t, e in pairs if id(t) in expected]


def test_field_selectors_may_name_the_items_ancestors_but_never_select_the_item() -> None:
    page = page_of(listing(news_items(2)))
    item = Selector.compile(".news-item").all(page.root)[0]

    assert Selector.compile(".news-item .news-title").text(item) == "News item number 0"
    assert Selector.compile("body div").first(item) is not item
    assert Selector.compile(".news-item").first(item) is None


XPATH_PAGE = """<html><body><div class="news-item"><h3><a href="/a/1">One</a></h3>
<time datetime="2024-12-23">23 Dec</time><p class="lead">Lead <b>one</b></p></div>
<div class="news-item"><h3><a href="/a/2">Two</a></h3><p class="lead">Lead two</p></div>
</body></html>"""


def test_xpath_selectors_select_elements_attributes_and_strings() -> None:
    selectors = Selectors(
        item="xpath://div[@class='news-item']",
        title="xpath:.//h3/a",
        link="xpath:.//h3/a/@href",
        date="xpath:string(.//time/@datetime)",
        summary="xpath:.//p[@class='lead']",
    )

    items = page_of(XPATH_PAGE).extract(selectors).items

    assert [(i.title, i.link, i.date, i.summary) for i in items] == [
        ("One", "https://example.org/a/1", "2024-12-23", "Lead <b>one</b>"),
        ("Two", "https://example.org/a/2", "", "Lead two"),
    ]


def test_an_xpath_link_to_an_element_reads_its_href_and_gives_the_default_title() -> None:
    extracted = page_of(XPATH_PAGE).extract(Selectors(item=".news-item", link="xpath:.//h3/a"))

    assert [(i.title, i.link) for i in extracted.items] == [
        ("One", "https://example.org/a/1"),
        ("Two", "https://example.org/a/2"),
    ]


def test_preview_with_xpath_selectors(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    url = site.page("/news/", listing(news_items(3)))

    item, link = "xpath://div[contains(@class, 'news-item')]", "xpath:.//a[@class='news-title']"
    assert main(["preview", url, "--item", item, "--link", link]) == 0

    out = capsys.readouterr().out
    assert "3 items, 0 skipped" in out
    assert "News item number 2" in out


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("p:first", "invalid CSS selector 'p:first': The pseudo-class :first is unknown"),
        ("a::text", "invalid CSS selector 'a::text': pseudo-element ::text unsupported"),
        ("svg|rect", "invalid CSS selector 'svg|rect': Undefined namespace prefix"),
        ("xpath://a[", "invalid XPath '//a[': Invalid expression"),
        ("xpath:foo(.)", "invalid XPath 'foo(.)': Unregistered function"),
    ],
)
def test_what_the_engine_cannot_evaluate_is_an_extract_error(spec: str, problem: str) -> None:
    with pytest.raises(ExtractError, match=f"^invalid selector {re.escape(repr(spec))}: ") as e:
        Selector.compile(spec)
    assert isinstance(e.value, SelectorError)
    assert e.value.problem == problem


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("html", ["", "  \n\t", "<!-- nothing -->", "\x00\x00"])
def test_an_empty_document_is_an_empty_page(html: str) -> None:
    page = Page(html, URL)

    assert page.root.tag == "html"
    assert page.title is None
    assert page.base == URL
    assert page.extract(SELECT).items == ()
    assert page.next_url(Paginate()) is None
    assert page.advertised_feed() is None


def test_a_nul_laden_page_reads_whole() -> None:
    html = listing(news_items(5)).replace("News item", "News\x00 item").replace("<", "\x00<")

    items = Page.parse(html.encode(), None, "text/html", URL).extract(SELECT).items

    assert [i.title for i in items] == [f"News item number {i}" for i in range(5)]


def test_xhtml_with_an_xml_declaration() -> None:
    body = (
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Новости</title></head><body>'
        + listing(news_items(2)).split("<body>", 1)[1]
    ).encode("windows-1251")

    page = Page.parse(body, None, "application/xhtml+xml", URL)

    assert page.title == "Новости"
    assert [i.title for i in page.extract(SELECT).items] == [
        "News item number 0",
        "News item number 1",
    ]


def test_the_next_page_is_looked_for_only_when_pages_are_followed(
    monkeypatch: pytest.MonkeyPatch, fetcher: HttpFetcher
) -> None:
    html = listing(news_items(3)).replace("<head>", '<head><link rel="next" href="?page=2">')
    calls: list[Paginate] = []
    next_url = Page.next_url

    def counted(page: Page, paginate: Paginate) -> str | None:
        calls.append(paginate)
        return next_url(page, paginate)

    monkeypatch.setattr(Page, "next_url", counted)
    single = Source(id="s", url=URL, type="html", select=SELECT)
    paged = replace(single, paginate=Paginate(max_pages=3))

    assert extract.items(single, fetched(html), fetch=fetcher.get).next_url is None
    assert not calls
    assert extract.items(paged, fetched(html), fetch=fetcher.get).next_url == URL + "?page=2"
    assert len(calls) == 1


@pytest.mark.parametrize(
    "spec",
    [
        "div.news-item",
        "h1 ~ p",
        "h1 + p > a",
        "a[href^=http]@href",
        "p:not(.x)",
        "div:nth-child(2n+1)",
        "a:contains(x)",
        "p:lang(en)",
        ".a\\:b",
        "@data-id",
        "a@data-x",
        "li:first",
        "a::text",
        "p::before",
        "a:hover",
        "div:has(p)",
        "svg|g",
        "*|div",
        "a[href|='en']",
        "a[x=']",
        "@",
        "@1x",
        "",
        "xpath://li[",
        "xpath:date(.)",
        "xpath:string(.//time/@datetime)",
        "xpath:.//h3/a",
    ],
)
def test_checking_a_selector_agrees_with_compiling_it(spec: str) -> None:
    """Config loads check selectors without building their XPath: the same verdict."""
    verdicts = []
    for judge in (Selector.compile, syntax.check):
        try:
            verdicts.append(judge(spec))
        except SelectorError as e:
            verdicts.append(str(e))
    compiled, checked = verdicts
    assert checked == (compiled.attribute if isinstance(compiled, Selector) else compiled)
