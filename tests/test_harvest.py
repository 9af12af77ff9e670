"""One harvest path for run, preview, snapshot and check; pagination that finds next pages and
backfills once when its config changes; a diagnosis instead of "0 items"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedtool import harvest
from feedtool.cli import main
from feedtool.errors import EmptyPageError
from feedtool.extract.diagnose import diagnose
from feedtool.extract.html import Page
from feedtool.model import Fetched, Paginate, Source, Validators
from tests.conftest import Site, Webhook, html_source, listing, news_items, write_config
from tests.feedcheck import parse_clean

NOW = datetime(2024, 12, 30, 12, 0, tzinfo=UTC)
URL = "https://example.org/news/?page=2"


def run(config: Path) -> int:
    return main(["--config", str(config), "run", "--force"])


def published(tmp_path: Path, source_id: str) -> list[tuple[str, str]]:
    entries = parse_clean((tmp_path / "public" / f"{source_id}.atom.xml").read_bytes()).entries
    return [(e.title, e.link) for e in entries]


def previewed(out: str) -> list[tuple[str, str]]:
    """(title, link) of each item row of `preview`'s table."""
    rows = []
    for line in out.split("\n\n", 1)[0].splitlines()[1:]:
        if line[:4].isdigit():
            title, link = line[12:72].strip(), line[73:].strip()
            rows.append((title, link))
    return rows


# --- one path ----------------------------------------------------------------------------------


def test_preview_of_a_source_id_shows_what_run_publishes(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = news_items(5)
    items[1] = (items[1][0], "Anons: a press conference", items[1][2])
    site.page("/news/", listing(items, next_page="/news/?PAGEN_1=2"))
    site.page("/news/?PAGEN_1=2", listing(news_items(3, start=5)))
    extra = 'exclude = ["^anons"]\npaginate = { max_pages = 2 }'
    config = write_config(tmp_path, html_source("news", site.url + "/news/", extra))

    assert main(["--config", str(config), "preview", "news"]) == 0
    out = capsys.readouterr().out
    assert run(config) == 0

    assert previewed(out) == published(tmp_path, "news")
    assert len(previewed(out)) == 7  # 8 on two pages, one excluded
    assert "7 items, 0 skipped, 1 filtered out by include/exclude" in out
    assert f"page 1: {site.url}/news/  4 items" not in out  # counts are before the filters
    assert f"page 1: {site.url}/news/  5 items" in out
    assert f"page 2: {site.url}/news/?PAGEN_1=2  3 items" in out
    assert not (tmp_path / "snapshots").exists()


def test_preview_of_an_unknown_source_id_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, html_source("news", "http://127.0.0.1:9/news/"))
    assert main(["--config", str(config), "preview", "other"]) == 2
    assert "no source with id 'other'" in capsys.readouterr().err


def test_preview_of_a_url_prints_a_sources_block_to_paste(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/en/news/index.html", listing(news_items(8)))
    assert main(["preview", url]) == 0
    out = capsys.readouterr().out
    block = out[out.index("[[sources]]") :]
    pasted = write_config(tmp_path, block)

    assert 'id = "127-0-0-1-en-news"' in block
    assert 'type = "html"' in block
    assert "[sources.select]" in block
    assert run(pasted) == 0
    assert len(published(tmp_path, "127-0-0-1-en-news")) == 8


def test_check_reports_an_item_a_new_exclude_drops(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(3)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "snapshot", "news"]) == 0
    capsys.readouterr()

    config.write_text(
        config.read_text().replace('type = "html"', 'type = "html"\nexclude = ["number 1"]')
    )
    assert main(["--config", str(config), "check"]) == 1

    out = capsys.readouterr().out
    assert "1 change(s), 2 items" in out
    link = f"{site.url}/news/news_odkb/item-1/"
    assert f"- News item number 1  {link}  (filtered out by include/exclude)" in out


def test_check_matches_items_by_the_identity_rule(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(3)))
    source = html_source("news", site.url + "/news/", 'identity = "title"')
    config = write_config(tmp_path, source)
    assert main(["--config", str(config), "snapshot", "news"]) == 0
    (body,) = (tmp_path / "snapshots" / "news").glob("*.body")
    body.write_bytes(body.read_bytes().replace(b"/news_odkb/", b"/archive/"))  # links moved
    capsys.readouterr()

    assert main(["--config", str(config), "check"]) == 1

    out = capsys.readouterr().out
    assert "3 change(s)" in out  # the same three items, each with a new link: no -/+ pairs
    assert "\n  - " not in out
    assert "\n  + " not in out
    assert f"link '{site.url}/news/news_odkb/item-0/' -> '{site.url}/news/archive/item-0/'" in out


def test_snapshot_and_check_replay_the_pages_walked(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(4), next_page="/news/?PAGEN_1=2"))
    site.page("/news/?PAGEN_1=2", listing(news_items(2, start=4)))
    extra = "paginate = { max_pages = 2 }"
    config = write_config(tmp_path, html_source("news", site.url + "/news/", extra))
    assert main(["--config", str(config), "snapshot", "news"]) == 0
    assert "news: 6 items saved" in capsys.readouterr().out
    site.routes.clear()

    assert main(["--config", str(config), "check"]) == 0
    assert "ok, 6 items as saved" in capsys.readouterr().out


# --- finding the next page ---------------------------------------------------------------------


def listing_with(pager: str, head: str = "") -> str:
    return (
        listing(news_items(3))
        .replace("<footer>", pager + "<footer>")
        .replace("<head>", "<head>" + head)
    )


@pytest.mark.parametrize(
    ("pager", "expected"),
    [
        ('<a class="next" href="/news/?page=3">→</a>', "/news/?page=3"),
        (
            '<ul class="pager"><li class="next"><a href="/news/?page=3">x</a></li></ul>',
            "/news/?page=3",
        ),
        (
            '<ul class="pagination"><li><a href="/news/?page=1">« Previous</a></li>'
            '<li><a href="/news/?page=1">1</a></li><li><a href="/news/?page=3">3</a></li>'
            '<li><a href="/news/?page=3">Next ›</a></li>'
            '<li><a href="/news/?page=9">»»</a></li></ul>',
            "/news/?page=3",
        ),
        (
            '<nav class="nav-links"><a href="/news/?page=1">Newer posts</a>'
            '<a href="/news/page/3/">Older posts</a></nav>',
            "/news/page/3/",
        ),
        ('<div class="pager"><a href="/news/?page=3">»</a></div>', "/news/?page=3"),
        ('<div class="pager"><a href="/n/?p=9">»</a><a href="/n/?p=3">›</a></div>', "/n/?p=3"),
        ('<div class="modern-page-navigation"><a href="/n/?p=3">Следующая</a></div>', "/n/?p=3"),
        ('<nav><a href="/n/?p=3">ДАЛЕЕ</a></nav>', "/n/?p=3"),
        ('<nav><a class="preview-card" href="/n/?p=3">Next</a></nav>', "/n/?p=3"),
        (
            '<nav><a class="pagination__prev" href="/n/?p=1">›</a><a href="/n/?p=3">›</a></nav>',
            "/n/?p=3",
        ),
        ('<nav><a href="/n/?p=3" aria-label="Next page"><svg></svg></a></nav>', "/n/?p=3"),
        ('<a href="/news/?PAGEN_1=2">2</a><a href="/news/?PAGEN_1=3">3</a>', "/news/?PAGEN_1=3"),
    ],
)
def test_the_next_page_is_found_in_common_pagers(pager: str, expected: str) -> None:
    url = "https://example.org/news/?page=2&PAGEN_1=2"
    page = Page(listing_with(pager), url)
    assert page.next_url(Paginate(max_pages=2)) == "https://example.org" + expected


@pytest.mark.parametrize(
    "pager",
    [
        '<div class="pagination"><a href="/news/?page=1">Previous</a></div>',
        '<div class="pagination"><a href="/news/?page=1">‹ Prev</a></div>',
        '<nav><a rel="prev" href="/news/?page=1">Next</a></nav>',  # a lying label
        '<ul class="pagination"><li class="prev"><a href="/news/?page=1">»</a></li></ul>',
        '<div class="pagination"><a href="/news/?page=2#top">Next</a></div>',  # this page
        '<a class="next" href="#">Next</a>',
        '<div class="sidebar"><a href="/news/?page=3">Next</a></div>',  # not in a pager
        '<div class="pagination"><a href="/news/?page=99">Last »</a></div>',
    ],
)
def test_previous_links_links_to_this_page_and_stray_links_are_no_next_page(pager: str) -> None:
    assert Page(listing_with(pager), URL).next_url(Paginate(max_pages=2)) is None


def test_rel_next_is_preferred_to_a_pagers_text() -> None:
    pager = '<div class="pagination"><a href="/news/?page=7">Next</a></div>'
    page = Page(listing_with(pager, head='<link rel="next" href="/news/?page=3">'), URL)
    assert page.next_url(Paginate(max_pages=2)) == "https://example.org/news/?page=3"


def test_preview_next_and_max_pages_list_the_pages_walked(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in (1, 2, 3):
        more = f'<p><a class="more" href="/news/{number + 1}">More news</a></p>'
        body = listing(news_items(4, start=4 * number)).replace("<footer>", more + "<footer>")
        site.page(f"/news/{number}", body)

    url = site.url + "/news/1"
    assert main(["preview", url, "--next", "a.more@href", "--max-pages", "3"]) == 0

    out = capsys.readouterr().out
    assert "12 items, 0 skipped" in out
    assert f"page 1: {site.url}/news/1  4 items" in out
    assert f"page 2: {site.url}/news/2  4 items" in out
    assert f"page 3: {site.url}/news/3  4 items" in out
    assert not site.hits("/news/4")  # max_pages respected
    assert '[sources.paginate]\nnext = "a.more@href"\nmax_pages = 3' in out


def test_preview_says_when_it_found_no_next_page(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", listing(news_items(3)))
    assert main(["preview", url, "--max-pages", "2"]) == 0
    out = capsys.readouterr().out
    assert f"page 1: {url}  3 items\nno link to a further page found on page 1" in out


# --- backfill when the pagination config changes -----------------------------------------------


PAGER = '<div class="pagination"><a class="next" href="/news/older">Next</a></div>'
MORE = '<p><a class="more" href="/news/older">More news</a></p>'


@pytest.mark.parametrize(
    ("pager", "before", "after"),
    [
        (PAGER, "", "paginate = { max_pages = 2 }"),  # max_pages raised
        (
            MORE,
            "paginate = { max_pages = 2 }",  # no next page found...
            'paginate = { max_pages = 2, next = "a.more@href" }',  # ...until `next` is added
        ),
    ],
)
def test_a_changed_pagination_config_backfills_once_without_notifying(
    site: Site, tmp_path: Path, webhook: Webhook, pager: str, before: str, after: str
) -> None:
    def front(items: list[tuple[str, str, str]]) -> None:
        site.page("/news/", listing(items).replace("<footer>", pager + "<footer>"))

    site.page("/news/older", listing(news_items(4, start=4)))
    front(news_items(4))
    notify = f'\n[[notify]]\nurl = "{webhook.url}"\n'
    config = write_config(tmp_path, html_source("news", site.url + "/news/", before) + notify)
    assert run(config) == 0
    assert not site.hits("/news/older")
    assert len(published(tmp_path, "news")) == 4

    fresh = [("29.12.2024", "A fresh item", "/news/news_odkb/fresh/")]
    front(fresh + news_items(4))
    write_config(tmp_path, html_source("news", site.url + "/news/", after) + notify)
    assert run(config) == 0

    assert len(site.hits("/news/older")) == 1  # page 2 read once
    assert len(published(tmp_path, "news")) == 9
    assert webhook.wait_for(1)
    messages = webhook.messages()
    assert len(messages) == 1  # page 1's news only
    assert "A fresh item" in messages[0]

    newer = [("30.12.2024", "A newer item", "/news/news_odkb/newer/")]
    front(newer + fresh + news_items(4))
    assert run(config) == 0
    assert len(site.hits("/news/older")) == 1  # known items on page 1: stop there again
    assert webhook.wait_for(2)
    assert "A newer item" in webhook.messages()[-1]


# --- a diagnosis instead of "0 items" ---------------------------------------------------------

JS_SHELL = """<!DOCTYPE html><html><head><title>News</title>
<script src="/static/js/main.4f2a.js"></script></head>
<body><noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root"></div></body></html>"""
NEXT_SHELL = (
    '<html><head><title>News</title></head><body><div id="__next"></div>'
    '<script id="__NEXT_DATA__" type="application/json">{"props": {}}</script>'
    + "".join(f'<script src="/_next/{i}.js"></script>' for i in range(9))
    + "</body></html>"
)
ARTICLE = (
    '<html><head><title>A long story</title><meta property="og:type" content="article"></head>'
    "<body><article><h1>A long story</h1>"
    + "<p>A paragraph of the story that goes on. </p>" * 80
    + "</article></body></html>"
)
ARTICLE_NO_OG = ARTICLE.replace('<meta property="og:type" content="article">', "")
LOGIN = """<html><head><title>Sign in</title></head><body><h1>Welcome back</h1>
<form action="/login" method="post"><label>E-mail <input name="email"></label>
<label>Password <input type="password" name="password"></label>
<button>Sign in</button></form></body></html>"""
CONSENT = """<html><head><title>Before you continue</title></head><body>
<form id="consent-form" action="/consent"><p>We use cookies and data to deliver our services.
</p><button>Accept all</button><button>Reject all</button></form></body></html>"""
ERROR_200 = """<html><head><title>404 Not Found</title></head><body><h1>Page not found</h1>
<p>Sorry, the page you are looking for does not exist.</p></body></html>"""


@pytest.mark.parametrize(
    ("page", "looks_like"),
    [
        (JS_SHELL, 'a JavaScript-rendered shell (0 characters of text, an empty <div id="root">)'),
        (NEXT_SHELL, "a JavaScript-rendered shell (0 characters of text, an empty <div id"),
        (ARTICLE, "a single article (og:type=article)"),
        (ARTICLE_NO_OG, "a single article (one long text)"),
        (LOGIN, "a login wall (a password form)"),
        (CONSENT, "a cookie consent wall"),
        (ERROR_200, "an error page served with HTTP 200 (title '404 Not Found')"),
    ],
)
def test_a_page_without_items_says_what_it_looks_like(page: str, looks_like: str) -> None:
    source = Source(id="s", url="https://example.org/news/")
    document = Fetched(
        url=source.url,
        status=200,
        body=page.encode(),
        content_type="text/html",
        charset="utf-8",
        validators=Validators(),
    )

    with pytest.raises(EmptyPageError) as raised:
        harvest.stateless(source, document, now=NOW, fetch=lambda url: document)

    assert str(raised.value).startswith(f"no items found: the page looks like {looks_like}")


def test_next_data_and_many_scripts_are_named() -> None:
    looks = diagnose(Page(NEXT_SHELL, "https://example.org/"))
    assert looks is not None
    assert "__NEXT_DATA__, 10 scripts" in looks


@pytest.mark.parametrize(
    "page",
    [
        listing(news_items(12)),
        listing(news_items(12)).replace("<footer>", '<form><input type="search"></form><footer>'),
        "<html><body><p>We moved our news.</p></body></html>",
    ],
)
def test_ordinary_pages_get_no_diagnosis(page: str) -> None:
    assert diagnose(Page(page, "https://example.org/news/")) is None


def test_the_diagnosis_reaches_run_status_and_preview(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", JS_SHELL)
    config = write_config(tmp_path, f'[[sources]]\nid = "app"\nurl = "{url}"\n')
    expected = "no items found: the page looks like a JavaScript-rendered shell"

    assert run(config) == 1
    assert expected in capsys.readouterr().err
    assert main(["--config", str(config), "status"]) == 0
    assert expected in capsys.readouterr().out
    assert main(["--config", str(config), "preview", "app"]) == 1
    assert main(["preview", url]) == 1
    err = capsys.readouterr().err
    assert err.count(expected) == 2
    assert "0 items" not in err


def test_preview_of_a_page_without_items_exits_1_with_a_hint(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", listing(news_items(3)))

    assert main(["preview", url, "--item", ".nothing-like-this"]) == 1

    err = capsys.readouterr().err
    assert "no items found (do the selectors still match?)" in err
    assert "does --item '.nothing-like-this' match the items on the page?" in err
