"""`feedtool run` end to end against a real local web site."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from feedtool.cli import main
from tests.conftest import Site, html_source, listing, news_items, write_config
from tests.feedcheck import assert_valid_atom, parse_clean

SUFFIXES = (".atom.xml", ".rss.xml", ".json")


def feeds(tmp_path: Path, source_id: str) -> dict[str, bytes]:
    return {s: (tmp_path / "public" / f"{source_id}{s}").read_bytes() for s in SUFFIXES}


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "run", "--force", *args])


@pytest.fixture
def news(site: Site, tmp_path: Path) -> Path:
    """One source over a 12-item listing with a second page the source does not ask for."""
    site.page("/news/", listing(news_items(12), next_page="/news/?PAGEN_1=2"))
    site.page("/news/?PAGEN_1=2", listing(news_items(5, start=12)))
    return write_config(tmp_path, html_source("news", site.url + "/news/"))


def test_listing_becomes_three_valid_feeds_with_twelve_entries(
    news: Path, site: Site, tmp_path: Path
) -> None:
    assert run(news) == 0

    docs = feeds(tmp_path, "news")
    assert_valid_atom(docs[".atom.xml"])
    for suffix in (".atom.xml", ".rss.xml"):
        parsed = parse_clean(docs[suffix])
        assert len(parsed.entries) == 12
        assert [e.title for e in parsed.entries] == [f"News item number {i}" for i in range(12)]
        assert [e.link for e in parsed.entries] == [
            f"{site.url}/news/news_odkb/item-{i}/" for i in range(12)
        ]
        assert parsed.entries[0].published_parsed[:3] == (2024, 12, 28)
        assert parsed.entries[11].published_parsed[:3] == (2024, 12, 17)
        assert "<b>News item number 0</b>" in parsed.entries[0].summary
    jsonfeed = json.loads(docs[".json"])
    assert jsonfeed["version"] == "https://jsonfeed.org/version/1.1"
    assert len(jsonfeed["items"]) == 12
    assert jsonfeed["items"][0]["date_published"].startswith("2024-12-28T00:00:00")
    assert site.hits("/news/?PAGEN_1=2") == []  # max_pages defaults to 1


def test_second_run_adds_nothing_and_rewrites_nothing(news: Path, tmp_path: Path) -> None:
    assert run(news) == 0
    paths = [tmp_path / "public" / f"news{s}" for s in SUFFIXES]
    before = {p: p.read_bytes() for p in paths}
    for p in paths:
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))

    assert run(news) == 0

    for p in paths:
        assert p.read_bytes() == before[p]
        assert p.stat().st_mtime_ns == 1_000_000_000


def test_unconditional_refetch_of_unchanged_page_rewrites_nothing(
    site: Site, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(12)), etag=False)
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert run(config) == 0
    before = feeds(tmp_path, "news")
    assert run(config) == 0
    assert feeds(tmp_path, "news") == before


def test_same_bytes_without_validators_are_not_parsed_again_unless_the_config_changed(
    site: Site, tmp_path: Path
) -> None:
    from feedtool import config as config_module
    from feedtool.model import Status
    from feedtool.runner import run_all

    site.page("/news/", listing(news_items(3)), etag=False)
    path = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert [r.status for r in run_all(config_module.load(path), force=True)] == [Status.OK]
    again = run_all(config_module.load(path), force=True)
    assert [r.status for r in again] == [Status.NOT_MODIFIED]

    path.write_text(path.read_text().replace('title = ".news-title"', 'title = "a"'))
    changed = run_all(config_module.load(path), force=True)
    assert [r.status for r in changed] == [Status.OK]


def test_a_changed_config_is_applied_although_the_server_would_answer_304(
    news: Path, site: Site, tmp_path: Path
) -> None:
    assert run(news) == 0
    news.write_text(news.read_text().replace('summary = ".news-preview"', 'summary = ".news-date"'))

    assert run(news) == 0

    assert "If-None-Match" not in site.hits("/news/")[-1]  # asked for the page itself
    entries = parse_clean(feeds(tmp_path, "news")[".atom.xml"]).entries
    assert entries[0].summary == "28.12.2024"


def test_a_new_item_on_the_page_is_exactly_one_new_entry(
    news: Path, site: Site, tmp_path: Path
) -> None:
    assert run(news) == 0
    fresh = [("29.12.2024", "Fresh news", "/news/news_odkb/fresh/")]
    site.page("/news/", listing(fresh + news_items(12)))

    assert run(news) == 0

    entries = parse_clean(feeds(tmp_path, "news")[".atom.xml"]).entries
    assert len(entries) == 13
    assert entries[0].title == "Fresh news"
    assert len({e.id for e in entries}) == 13
    row = capture_status(news).splitlines()[1].split()
    assert (row[0], row[1], row[-2], row[-1]) == ("news", "ok", "13", "1")  # items, new


def capture_status(config: Path) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "status"]) == 0
    return out.getvalue()


def test_304_short_circuits_the_run(news: Path, site: Site, tmp_path: Path) -> None:
    assert run(news) == 0
    atom = tmp_path / "public" / "news.atom.xml"
    os.utime(atom, ns=(1_000_000_000, 1_000_000_000))

    assert run(news) == 0

    second = site.hits("/news/")[1]
    assert second["If-None-Match"]
    assert atom.stat().st_mtime_ns == 1_000_000_000


def test_failing_source_exits_1_and_the_good_one_is_published(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(3)))
    config = write_config(
        tmp_path,
        html_source("good", site.url + "/news/") + html_source("gone", site.url + "/missing/"),
    )

    assert run(config) == 1

    assert len(parse_clean(feeds(tmp_path, "good")[".atom.xml"]).entries) == 3
    assert not (tmp_path / "public" / "gone.atom.xml").exists()
    err = capsys.readouterr().err
    assert "gone" in err
    assert "HTTP 404" in err
    assert "Traceback" not in err


def test_selectors_that_stop_matching_keep_the_last_good_feed(
    news: Path, site: Site, tmp_path: Path
) -> None:
    assert run(news) == 0
    before = feeds(tmp_path, "news")
    site.page("/news/", "<html><body><p>We moved our news.</p></body></html>")

    assert run(news) == 1

    assert feeds(tmp_path, "news") == before
    assert "no items found" in capture_status(news)


def test_a_changed_title_updates_the_entry_without_a_duplicate(
    news: Path, site: Site, tmp_path: Path
) -> None:
    assert run(news) == 0
    items = news_items(12)
    items[3] = (items[3][0], "A corrected headline", items[3][2])
    site.page("/news/", listing(items))

    assert run(news) == 0

    entries = parse_clean(feeds(tmp_path, "news")[".atom.xml"]).entries
    assert len(entries) == 12
    assert entries[3].title == "A corrected headline"
    assert entries[3].updated_parsed > entries[3].published_parsed


def test_second_page_is_read_when_asked(site: Site, tmp_path: Path) -> None:
    site.page("/news/", listing(news_items(12), next_page="/news/?PAGEN_1=2"))
    site.page("/news/?PAGEN_1=2", listing(news_items(5, start=12)))
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/", "paginate = { max_pages = 2 }")
    )
    assert run(config) == 0
    assert len(parse_clean(feeds(tmp_path, "news")[".atom.xml"]).entries) == 17


def test_runs_from_another_directory_resolve_dirs_against_the_config(
    news: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    assert run(news) == 0
    assert (tmp_path / "state" / "feedtool.sqlite3").exists()
    assert (tmp_path / "public" / "news.atom.xml").exists()


RSS_ITEM = "<item><title>{title}</title><link>{base}/r/{n}</link><guid>{base}/r/{n}</guid></item>"


def test_an_auto_source_reads_the_feed_its_unchanged_page_advertises_on_every_run(
    site: Site, tmp_path: Path
) -> None:
    """The page stays the same (304, or the same bytes) while its feed gets a new item."""

    def feed(count: int) -> str:
        items = "".join(
            RSS_ITEM.format(title=f"Release {n}", base=site.url, n=n) for n in range(count)
        )
        return f'<rss version="2.0"><channel><title>Press</title>{items}</channel></rss>'

    advert = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
    url = site.page("/news/", f"<html><head>{advert}</head><body><p>News</p></body></html>")
    site.page("/feed.xml", feed(2), content_type="application/rss+xml")
    config = write_config(tmp_path, f'[[sources]]\nid = "press"\nurl = "{url}"\ntype = "auto"\n')
    assert run(config) == 0
    site.page("/feed.xml", feed(3), content_type="application/rss+xml")
    assert run(config, "--force") == 0
    entries = parse_clean((tmp_path / "public" / "press.atom.xml").read_bytes()).entries
    assert sorted(e.title for e in entries) == ["Release 0", "Release 1", "Release 2"]


def test_a_feed_that_moves_keeps_its_items_whose_guids_are_not_urls(
    site: Site, tmp_path: Path
) -> None:
    """<guid>ord-1</guid> (no isPermaLink="false") is a name, not a link to resolve against
    wherever the feed lives: after a redirect to a new path only the new entry is new."""

    def feed(count: int) -> str:
        items = "".join(
            f"<item><title>Order {n}</title><link>{site.url}/o/{n}</link><guid>ord-{n}</guid>"
            "</item>"
            for n in range(count)
        )
        return f'<rss version="2.0"><channel><title>Orders</title>{items}</channel></rss>'

    url = site.page("/feed.xml", feed(2), content_type="application/rss+xml")
    config = write_config(tmp_path, f'[[sources]]\nid = "orders"\nurl = "{url}"\ntype = "feed"\n')
    assert run(config) == 0
    site.page("/feeds/feed.xml", feed(3), content_type="application/rss+xml")
    site.page("/feed.xml", "", status=301, headers={"Location": "/feeds/feed.xml"})
    assert run(config, "--force") == 0
    entries = parse_clean((tmp_path / "public" / "orders.atom.xml").read_bytes()).entries
    assert sorted(e.title for e in entries) == ["Order 0", "Order 1", "Order 2"]
