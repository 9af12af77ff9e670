"""The status page at / and the pages per source, from a real server and real state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
import requests
from defusedxml import ElementTree

from feedtool.cli import main
from feedtool.serve import Background
from tests.conftest import Site, html_source, listing, news_items, write_config

FEED_TYPES = {
    "Atom": "application/atom+xml; charset=utf-8",
    "RSS": "application/rss+xml; charset=utf-8",
    "JSON Feed": "application/feed+json; charset=utf-8",
}


@pytest.fixture
def config_path(site: Site, tmp_path: Path) -> Path:
    """Three sources: one ok, one failing (its server is gone), one never checked."""
    hostile = listing([("27.12.2024", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co", "/x/")])
    path = write_config(
        tmp_path,
        html_source("news", site.page("/news/", listing(news_items(5))), 'title = "News <b>"')
        + html_source("hostile", site.page("/hostile/", hostile))
        + html_source("gone", "http://127.0.0.1:9/gone/"),
    )
    assert main(["-c", str(path), "run"]) == 1  # "gone" failed
    text = path.read_text()
    path.write_text(text + html_source("later", site.page("/later/", listing(news_items(2)))))
    return path


@pytest.fixture
def served(config_path: Path) -> Iterator[str]:
    with Background(config_path, host="127.0.0.1", port=0) as server:
        yield f"http://127.0.0.1:{server.port}/"


def page(url: str) -> lxml.html.HtmlElement:
    response = requests.get(url, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    root = lxml.html.fromstring(response.content, base_url=url)
    root.make_links_absolute(url)  # as a browser resolves them: relative links, any sub-path
    return root


def test_the_status_page_lists_every_source_with_working_subscribe_links(served: str) -> None:
    root = page(served)
    cards = {card.get("id"): card for card in root.cssselect("article.source")}
    assert list(cards) == ["news", "hostile", "gone", "later"]  # config order
    states = {i: c.cssselect(".badge")[0].text_content() for i, c in cards.items()}
    assert states == {"news": "ok", "hostile": "ok", "gone": "failing", "later": "new"}
    assert "Last error:" in cards["gone"].text_content()
    assert "Next check" in cards["news"].text_content()
    assert "5" in cards["news"].cssselect(".facts")[0].text_content()  # items
    assert "News item number 0" in cards["news"].cssselect(".newest")[0].text_content()
    for source_id in ("news", "hostile"):
        links = cards[source_id].cssselect("a.feed")
        assert [a.text_content() for a in links] == list(FEED_TYPES)
        for a in links:
            feed = requests.get(a.get("href"), timeout=5)  # lxml made it absolute
            assert feed.status_code == 200
            assert feed.headers["Content-Type"] == FEED_TYPES[a.text_content()]
    assert not cards["later"].cssselect("a.feed")  # nothing published yet
    assert not cards["gone"].cssselect("a.feed")


def test_every_published_feed_is_advertised_for_autodiscovery(served: str) -> None:
    alternates = page(served).cssselect('head link[rel="alternate"]')
    hrefs = sorted(link.get("href") for link in alternates)
    expected = [
        f"{served}{i}{s}" for i in ("hostile", "news") for s in (".atom.xml", ".json", ".rss.xml")
    ]
    assert hrefs == sorted(expected)
    assert {link.get("type") for link in alternates} == {
        "application/atom+xml",
        "application/rss+xml",
        "application/feed+json",
    }


def test_everything_shown_is_escaped(served: str) -> None:
    raw = requests.get(served, timeout=5).text
    assert "<script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in raw
    assert "News &lt;b&gt;" in raw


def test_a_source_page_shows_its_newest_entries(served: str) -> None:
    root = page(served + "source/news")
    entries = [li.cssselect("a")[0].text_content() for li in root.cssselect("ol.entries li")]
    assert entries == [f"News item number {i}" for i in range(5)]
    assert "no history of runs" in root.text_content()
    assert len(root.cssselect('head link[rel="alternate"]')) == 3
    for a in root.cssselect("a.feed"):
        assert requests.get(a.get("href"), timeout=5).status_code == 200
    assert requests.get(served + "source/nope", timeout=5).status_code == 404


def test_the_opml_download_lists_every_source(served: str) -> None:
    assert page(served).cssselect(f'a[download][href="{served}feeds.opml"]')
    response = requests.get(served + "feeds.opml", timeout=5)
    assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    outlines = ElementTree.fromstring(response.content).iter("outline")
    assert [o.get("xmlUrl").rsplit("/", 1)[1] for o in outlines] == [
        f"{i}.atom.xml" for i in ("news", "hostile", "gone", "later")
    ]


def test_the_stylesheet_and_a_page_without_state(tmp_path: Path) -> None:
    path = write_config(tmp_path, html_source("fresh", "http://127.0.0.1:9/"))
    with Background(path, host="127.0.0.1", port=0) as server:
        base = f"http://127.0.0.1:{server.port}/"
        root = page(base)
        assert root.cssselect("article#fresh .badge")[0].text_content() == "new"
        css = requests.get(base + "_/style.css", timeout=5)
        assert css.headers["Content-Type"] == "text/css; charset=utf-8"
        assert "@media" in css.text
    assert not (tmp_path / "state").exists()  # read-only: no database was created


def test_an_edited_config_shows_on_the_next_request(served: str, config_path: Path) -> None:
    text = config_path.read_text()
    config_path.write_text(text + html_source("added", "http://127.0.0.1:9/added/"))
    assert page(served).cssselect("article#added")
    config_path.write_text(text + "[[sources]]\nbroken = 1\n")  # a bad edit: the old one stays
    assert page(served).cssselect("article#news")


def test_control_characters_from_a_server_are_shown_as_escapes_on_pages() -> None:
    """A last error carrying a terminal escape ("\x1b[31m") reaches no browser raw."""
    from feedtool.web.app import _templates

    shown = _templates().from_string("<p>{{ error }}</p>").render(error='HTTP 500 <b>\x1b[31m"x')
    assert shown == "<p>HTTP 500 &lt;b&gt;\\x1b[31m&#34;x</p>"
