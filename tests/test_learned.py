"""An "auto" source detects its items once and re-uses the selectors until they stop holding."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import feedparser

from feedtool.cli import main
from feedtool.store import Store
from tests.conftest import Site, listing, news_items, write_config


def _redesigned(items: list[tuple[str, str, str]]) -> str:
    rows = "".join(
        f'<li class="entry"><span class="when">{date}</span>'
        f'<h3><a href="{link}">{title}</a></h3><p>About {title}, at length.</p></li>'
        for date, title, link in items
    )
    return (
        f"<html><body><nav><a href='/'>Home</a></nav><ul class='stream'>{rows}</ul></body></html>"
    )


def _learned(path: Path):  # type: ignore[no-untyped-def]
    with Store.open(path.parent / "state") as store:
        state = store.source("news")
        assert state is not None
        return state.learned


def _titles(tmp_path: Path) -> list[str]:
    feed = feedparser.parse((tmp_path / "public" / "news.atom.xml").read_bytes())
    return [entry.title for entry in feed.entries]


def test_detected_selectors_are_remembered_and_replaced_after_a_redesign(
    site: Site, tmp_path: Path
) -> None:
    url = site.page("/news/", listing(news_items(6, start=2)))
    path = write_config(tmp_path, f'[[sources]]\nid = "news"\nurl = "{url}"\n')
    assert main(["-c", str(path), "run"]) == 0
    first = _learned(path)
    assert first is not None
    assert first.item  # what detection found, kept for the next runs

    site.page("/news/", listing(news_items(8)))  # two new items, same markup
    assert main(["-c", str(path), "run", "--force"]) == 0
    assert _learned(path) == first
    assert len(_titles(tmp_path)) == 8

    site.page("/news/", _redesigned(news_items(9)))  # a new layout, one more item
    assert main(["-c", str(path), "run", "--force"]) == 0
    second = _learned(path)
    assert second is not None
    assert second != first
    titles = _titles(tmp_path)
    assert len(titles) == 9  # the new item, and no old one twice
    assert len(set(titles)) == 9


def test_remembered_selectors_read_dates_in_the_order_detection_decided(
    site: Site, tmp_path: Path
) -> None:
    layout = Path(__file__).parent / "data" / "layouts" / "us-press-month-first"
    page = (layout / "page.html").read_text(encoding="utf-8")
    expected = {
        urlsplit(item["link"]).path: item["date"]
        for item in json.loads((layout / "expected.json").read_text(encoding="utf-8"))["items"]
    }
    url = site.page("/media/press-releases", page)
    path = write_config(tmp_path, f'[[sources]]\nid = "news"\nurl = "{url}"\ntype = "html"\n')

    def dates() -> dict[str, str]:
        feed = feedparser.parse((tmp_path / "public" / "news.atom.xml").read_bytes())
        return {urlsplit(e.link).path: e.published[:10] for e in feed.entries}

    assert main(["-c", str(path), "run"]) == 0
    assert _learned(path).date_format == "%m.%d.%y"
    assert dates() == expected
    newer = (
        '<div class="press-item"><span class="date">03.12.25</span>'
        '<a class="title" href="/media/press-releases/new-one">Smith on the new one</a></div>'
    )
    first = '<div class="press-item">'
    site.page("/media/press-releases", page.replace(first, newer + first, 1))
    assert main(["-c", str(path), "run", "--force"]) == 0  # the remembered selectors read it
    assert dates() == {"/media/press-releases/new-one": "2025-03-12", **expected}
