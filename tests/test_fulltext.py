"""extract_article: main content without page chrome, absolute links, publication dates."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedtool import fulltext
from feedtool.errors import ExtractError, Interrupted
from feedtool.fetch import HttpFetcher
from feedtool.fulltext import enrich, extract_article
from feedtool.model import Item
from tests.conftest import Site

ARTICLES = Path(__file__).parent / "data" / "articles"
NEWS_URL = "https://example.org/news/2024/bridge.html"
BODY = "<p>" + "A sentence of article text that is long enough to count. " * 12 + "</p>"

CHROME = (
    "Masthead slogan",
    "Politics navigation link",
    "Sidebar story about trams",
    "Footer copyright notice",
    "Privacy policy",
)


@pytest.fixture
def news() -> bytes:
    return (ARTICLES / "news.html").read_bytes()


def test_main_content_without_page_chrome(news: bytes) -> None:
    article = extract_article(news, NEWS_URL)

    assert article.content is not None
    assert "after eight months of repairs" in article.content
    assert "Bus routes 12 and 14 return" in article.content
    assert "41 million euros" in article.content
    for chrome in CHROME:
        assert chrome not in article.content
    assert article.published == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)


def test_main_content_links_and_images_resolved_against_the_page(news: bytes) -> None:
    content = extract_article(news, NEWS_URL).content

    assert content is not None
    # "../" relative to the page, not to the site root (trafilatura's own resolution)
    assert 'href="https://example.org/news/reports/bridge-2024.pdf"' in content
    assert 'href="https://example.org/archive/bridge"' in content
    assert 'src="https://example.org/news/2024/images/bridge.jpg"' in content


def test_content_selector_takes_the_first_match_inner_html(news: bytes) -> None:
    content = extract_article(news, NEWS_URL, "div.story-body").content

    assert content is not None
    assert content.startswith("<p>The harbour bridge reopened")
    assert "<figcaption>The reopened bridge at dawn.</figcaption>" in content
    assert 'href="https://example.org/news/reports/bridge-2024.pdf"' in content
    assert 'src="https://example.org/news/2024/images/bridge.jpg"' in content
    assert "Harbour bridge reopens after repairs</h1>" not in content  # outside the match
    for chrome in CHROME:
        assert chrome not in content


def test_content_selector_with_several_matches_takes_the_first(news: bytes) -> None:
    content = extract_article(news, NEWS_URL, ".story-body > p").content

    assert content is not None
    assert content.startswith("The harbour bridge reopened to traffic")
    assert "Commuters" not in content


def test_content_selector_without_a_match_gives_no_content(news: bytes) -> None:
    article = extract_article(news, NEWS_URL, "div.no-such-thing")

    assert article.content is None
    assert article.published == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)


def test_invalid_content_selector_is_an_extract_error(news: bytes) -> None:
    with pytest.raises(ExtractError, match="invalid selector 'div\\[':"):
        extract_article(news, NEWS_URL, "div[")


def test_windows_1251_page_with_base_href_srcset_and_jsonld_date() -> None:
    html = (ARTICLES / "cp1251.html").read_bytes()
    url = "https://novosti.example.ru/2024/most.html"

    article = extract_article(html, url)
    assert article.content is not None
    assert "Движение по городскому мосту восстановлено" in article.content
    assert "Спортивный раздел" not in article.content
    assert "подвал сайта" not in article.content
    assert 'href="https://novosti.example.ru/static/docs/report.html"' in article.content
    assert article.published == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # JSON-LD @graph

    selected = extract_article(html, url, ".text").content
    assert selected is not None
    assert (
        'srcset="https://novosti.example.ru/static/img/most-480.jpg 480w, '
        'https://novosti.example.ru/static/img/most-960.jpg 960w"'
    ) in selected


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        (
            '<meta property="article:published_time" content="2024-03-05T10:00:00">',
            "",
            datetime(2024, 3, 5, 10, 0, tzinfo=UTC),  # naive: UTC
        ),
        (
            '<meta property="article:published_time" content="yesterday">'
            '<script type="application/ld+json">'
            '{"datePublished": "2024-02-01T08:00:00+01:00"}</script>',
            "",
            datetime(2024, 2, 1, 7, 0, tzinfo=UTC),  # unparseable metadata falls through
        ),
        (
            "",
            '<span itemprop="datePublished" content="2024-01-02T03:04:05Z">2 January</span>',
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        (
            "",
            '<aside><time datetime="2020-01-01">old</time></aside>'
            '<article><time datetime="2024-03-05">5 March</time></article>',
            datetime(2024, 3, 5, tzinfo=UTC),  # date only: midnight UTC; sidebar time ignored
        ),
        ("", "", None),
    ],
)
def test_published_from_page_metadata(head: str, body: str, expected: datetime | None) -> None:
    html = f"<html><head>{head}</head><body>{body}{BODY}</body></html>".encode()

    assert extract_article(html, "https://example.org/a/story").published == expected


def test_published_falls_back_to_htmldate_quick_search() -> None:
    html = f"<html><body>{BODY}</body></html>".encode()

    article = extract_article(html, "https://example.org/2024/03/07/story")
    assert article.published == datetime(2024, 3, 7, tzinfo=UTC)


@pytest.mark.parametrize("html", [b"", b"  \n ", b"<!-- nothing -->"])
def test_empty_page(html: bytes) -> None:
    assert extract_article(html, NEWS_URL) == fulltext.Article(content=None, published=None)


def test_oversized_page_is_truncated_without_breaking_a_character(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = "<html><body><article><p>Мост открыт. " + "Текст статьи. " * 40
    html = (start + "Конец</p></article></body></html>").encode()
    cut = len(start.encode()) + 1  # inside the two bytes of "К"
    monkeypatch.setattr(fulltext, "MAX_HTML_BYTES", cut)

    content = extract_article(html, NEWS_URL, "article").content
    assert content is not None
    assert content.startswith("<p>Мост открыт. Текст статьи.")
    assert "Конец" not in content
    assert "\ufffd" not in content


def test_content_selector_reads_an_attribute_like_the_listing() -> None:
    html = b'<html><head><meta name="description" content="The lead."></head><body></body></html>'

    assert extract_article(html, NEWS_URL, "meta[name=description]@content").content == "The lead."


def test_unjoinable_base_href_is_ignored() -> None:
    html = f'<html><head><base href="http://[broken/"></head><body>{BODY}'
    html += '<p><a href="../more.html">More</a></p></body></html>'

    content = extract_article(html.encode(), NEWS_URL, "body").content

    assert content is not None
    assert 'href="https://example.org/news/more.html"' in content


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_binary_file_has_no_article() -> None:
    assert extract_article(PDF, NEWS_URL) == fulltext.Article(content=None, published=None)


def test_enrich_leaves_items_linking_binary_files_unchanged(
    site: Site, news: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    links = {
        "typed": site.page("/report.pdf", PDF, content_type="application/pdf"),
        "untyped": site.page("/download", PDF, content_type="application/octet-stream"),
        "article": site.page("/bridge.html", news),
    }
    when = datetime(2024, 12, 1, tzinfo=UTC)
    items = [
        Item(key=key, title=key, link=link, published=when, date_inferred=True, summary="<p>s</p>")
        for key, link in links.items()
    ]

    with HttpFetcher(retries=0, timeout=5) as fetcher, caplog.at_level(logging.INFO, "feedtool"):
        typed, untyped, article = enrich(items, new_keys=set(links), fetcher=fetcher, delay=0)

    assert (typed, untyped) == (items[0], items[1])
    assert "not an HTML page (application/pdf)" in caplog.text
    assert "binary content" in caplog.text
    binaries = [
        r for r in caplog.records if r.getMessage().startswith((links["typed"], links["untyped"]))
    ]
    assert [r.levelno for r in binaries] == [logging.INFO, logging.INFO]
    assert article.content is not None
    assert "after eight months of repairs" in article.content


def article_items(site: Site, news: bytes, count: int) -> list[Item]:
    when = datetime(2024, 12, 1, tzinfo=UTC)
    return [
        Item(
            key=f"a{i}",
            title=f"a{i}",
            link=site.page(f"/a{i}.html", news),
            published=when,
            date_inferred=True,
        )
        for i in range(count)
    ]


def test_enrich_raises_interrupted_at_once_when_the_fetcher_is_stopping(
    site: Site, news: bytes
) -> None:
    items = article_items(site, news, 3)
    stop = threading.Event()
    stop.set()
    started = time.monotonic()

    with HttpFetcher(retries=0, timeout=5, stop=stop) as fetcher, pytest.raises(Interrupted):
        enrich(items, new_keys={"a0", "a1", "a2"}, fetcher=fetcher, delay=30)

    assert time.monotonic() - started < 2
    assert not site.requests  # checked before each fetch: nothing fetched


def test_stopping_ends_the_per_host_pacing_wait(site: Site, news: bytes) -> None:
    items = article_items(site, news, 2)
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    started = time.monotonic()
    timer.start()

    with HttpFetcher(retries=0, timeout=5, stop=stop) as fetcher, pytest.raises(Interrupted):
        enrich(items, new_keys={"a0", "a1"}, fetcher=fetcher, delay=60, workers=2)

    timer.cancel()
    assert time.monotonic() - started < 5  # not the 60 s pacing delay
    assert len(site.requests) == 1  # the first article; the second was waiting its turn


def test_a_leading_heading_that_repeats_the_title_is_dropped() -> None:
    from feedtool.fulltext import _without_title

    body = "<h1>Council  meets</h1><p>23.12.2024</p><p>Body <b>text</b></p>"
    assert _without_title(body, "Council meets") == "<p>23.12.2024</p><p>Body <b>text</b></p>"
    assert _without_title("<h2>Another heading</h2><p>x</p>", "Council meets") == (
        "<h2>Another heading</h2><p>x</p>"
    )


def test_a_page_mislabelled_utf16_still_reads() -> None:
    page = (
        b'<html><head><meta charset="utf-16"></head>'
        b"<body><article><p>Hello there</p></article></body></html>"
    )
    assert extract_article(page, "http://example.org/a").content == "<p>Hello there</p>"


def test_xpath_content_selector(news: bytes) -> None:
    content = extract_article(news, NEWS_URL, "xpath://div[@class='story-body']").content
    by_css = extract_article(news, NEWS_URL, "div.story-body").content

    assert content is not None
    assert content == by_css
    lead = extract_article(news, NEWS_URL, "xpath:string(//div[@class='story-body']/p[1])")
    assert lead.content is not None
    assert lead.content.startswith("The harbour bridge reopened to traffic")


def test_an_inexpressible_content_selector_is_an_extract_error(news: bytes) -> None:
    with pytest.raises(ExtractError, match="invalid selector 'p:first': "):
        extract_article(news, NEWS_URL, "p:first")


@pytest.mark.parametrize(
    "start", ["<html><body>\x00", "<?xml version='1.0' encoding='utf-8'?>\n<html><body>"]
)
def test_a_page_with_a_nul_or_an_xml_declaration_reads(start: str) -> None:
    page = f"{start}<article>{BODY}<p id='end'>Конец</p></article></body></html>".encode()

    assert extract_article(page, NEWS_URL, "#end").content == "Конец"
