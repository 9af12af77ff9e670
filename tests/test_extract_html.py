"""HTML pages: malformed URLs, binary sniffing, base URLs and advertised feeds for auto sources."""

from __future__ import annotations

import gzip
import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedtool import extract
from feedtool.errors import ExtractError
from feedtool.extract.html import Page, decode
from feedtool.fetch import HttpFetcher
from feedtool.model import Fetched, Paginate, Selectors, Source, Validators
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
