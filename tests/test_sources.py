"""Sources beyond hand-written selectors, end to end: feeds, auto, pagination, full text,
filters, snapshots and preview."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedtool import config as config_module
from feedtool import snapshot
from feedtool.cli import main
from feedtool.model import Selectors
from feedtool.preview import select_block
from tests.conftest import Site, html_source, listing, news_items, write_config
from tests.feedcheck import assert_valid_atom, parse_clean

FEEDS = Path(__file__).parent / "data" / "feeds"
ARTICLE = (Path(__file__).parent / "data" / "articles" / "news.html").read_bytes()


def atom(tmp_path: Path, source_id: str) -> list:  # type: ignore[type-arg]
    data = (tmp_path / "public" / f"{source_id}.atom.xml").read_bytes()
    assert_valid_atom(data)
    return parse_clean(data).entries  # type: ignore[no-any-return]


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "run", "--force", *args])


def feed_source(source_id: str, url: str, extra: str = "") -> str:
    return f'\n[[sources]]\nid = "{source_id}"\nurl = "{url}"\n{extra}\n'


def test_existing_feeds_are_republished_and_a_malformed_one_does_not_stop_the_run(
    site: Site, tmp_path: Path
) -> None:
    served = {
        "rss": ("rss20.xml", "application/rss+xml"),
        "atom": ("atom10.xml", "application/atom+xml"),
        "json": ("jsonfeed11.json", "application/feed+json"),
        "broken": ("malformed.xml", "application/xml"),
    }
    sources = ""
    for name, (file, content_type) in served.items():
        url = site.page(f"/{file}", (FEEDS / file).read_bytes(), content_type=content_type)
        sources += feed_source(name, url, 'type = "feed"' if name != "json" else "")
    garbage = site.page("/garbage.xml", (FEEDS / "garbage.xml").read_bytes())
    config = write_config(tmp_path, sources + feed_source("garbage", garbage, 'type = "feed"'))

    assert run(config) == 1  # only the garbage source failed

    rss = atom(tmp_path, "rss")
    assert [e.title for e in rss] == [
        "Harbour bridge reopens after repairs",
        "Tram line 3 extended to the airport",
    ]
    assert rss[1].link == f"{site.url}/city/2024/tram"  # relative: against the feed's URL
    published = parse_clean((tmp_path / "public" / "rss.atom.xml").read_bytes())
    assert published.feed.link == "https://example.org/city/"  # the feed's site, not its URL
    assert rss[0].published_parsed[:5] == (2024, 3, 5, 7, 30)  # +0200 → UTC
    assert f"{site.url}/reports/bridge.pdf" in rss[0].content[0].value
    assert [e.title for e in atom(tmp_path, "atom")] == ["Release 2.0 is out", "Only updated"]
    assert [e.title for e in atom(tmp_path, "json")][1] == "Other"
    broken = atom(tmp_path, "broken")
    # the undated entry takes the time it was first seen, so it comes first
    assert [e.title for e in broken] == ["Second story", "Fish & chips prices rise"]
    status = status_of(config)
    assert "malformed" in status["broken"]
    assert status["garbage"].split()[1] == "failing"


def status_of(config: Path) -> dict[str, str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "status"]) == 0
    return {line.split()[0]: line for line in out.getvalue().splitlines()[1:] if line.strip()}


def test_auto_source_follows_the_feed_a_page_advertises(site: Site, tmp_path: Path) -> None:
    feed_url = site.page(
        "/feed.xml", (FEEDS / "rss20.xml").read_bytes(), content_type="application/rss+xml"
    )
    page = listing(news_items(3)).replace(
        "<head>", f'<head><link rel="alternate" type="application/rss+xml" href="{feed_url}">'
    )
    config = write_config(tmp_path, feed_source("auto", site.page("/news/", page)))

    assert run(config) == 0

    assert next(e.title for e in atom(tmp_path, "auto")) == "Harbour bridge reopens after repairs"


def test_auto_source_without_selectors_detects_the_items(site: Site, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, feed_source("auto", site.page("/news/", listing(news_items(12))))
    )
    assert run(config) == 0
    entries = atom(tmp_path, "auto")
    assert len(entries) == 12
    assert entries[0].title == "News item number 0"
    assert entries[0].published_parsed[:3] == (2024, 12, 28)


def test_two_pages_backfill_on_the_first_run_then_page_two_only_when_page_one_is_all_new(
    site: Site, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(6), next_page="/news/?PAGEN_1=2"))
    site.page("/news/?PAGEN_1=2", listing(news_items(6, start=6)))
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/", "paginate = { max_pages = 2 }")
    )

    assert run(config) == 0
    assert len(atom(tmp_path, "news")) == 12
    assert len(site.hits("/news/?PAGEN_1=2")) == 1

    fresh = [("29.12.2024", "One fresh item", "/news/news_odkb/fresh-1/")]
    site.page("/news/", listing(fresh + news_items(5), next_page="/news/?PAGEN_1=2"))
    assert run(config) == 0
    assert len(site.hits("/news/?PAGEN_1=2")) == 1  # page 1 held known items: stop there

    burst = [("30.12.2024", f"Burst item {i}", f"/news/news_odkb/burst-{i}/") for i in range(6)]
    site.page("/news/", listing(burst, next_page="/news/?PAGEN_1=2"))
    site.page("/news/?PAGEN_1=2", listing(fresh + news_items(5)))
    assert run(config) == 0
    assert len(site.hits("/news/?PAGEN_1=2")) == 2  # page 1 all new: page 2 was read
    assert len(atom(tmp_path, "news")) == 19


def test_fulltext_puts_the_article_body_into_new_entries_only(site: Site, tmp_path: Path) -> None:
    for i in range(3):
        site.page(f"/news/news_odkb/item-{i}/", ARTICLE)
    site.page("/news/", listing(news_items(2, start=1)))
    config = write_config(
        tmp_path,
        html_source("news", site.url + "/news/", "fulltext = true"),
        settings="host_delay = 0",
    )

    assert run(config) == 0
    entries = atom(tmp_path, "news")
    body = entries[0].content[0].value
    assert "harbour bridge reopened" in body.lower()
    assert "navigation link" not in body
    assert "Footer copyright" not in body
    assert f"{site.url}/archive/bridge" in body  # relative links made absolute
    assert len(site.hits("/news/news_odkb/item-1/")) == 1

    site.page("/news/", listing(news_items(3)))
    assert run(config) == 0
    assert len(site.hits("/news/news_odkb/item-0/")) == 1  # the new one
    assert len(site.hits("/news/news_odkb/item-1/")) == 1  # old ones never again
    assert len(site.hits("/news/news_odkb/item-2/")) == 1


def test_filters_keep_excluded_items_out_of_feed(site: Site, tmp_path: Path) -> None:
    items = [
        ("28.12.2024", "Summit on security opens", "/n/1/"),
        ("27.12.2024", "Anons: press conference", "/n/2/"),
        ("26.12.2024", "Weather report", "/n/3/"),
    ]
    site.page("/news/", listing(items))
    extra = 'include = ["security", "PRESS"]\nexclude = ["^anons"]'
    config = write_config(tmp_path, html_source("news", site.url + "/news/", extra))

    assert run(config) == 0

    assert [e.title for e in atom(tmp_path, "news")] == ["Summit on security opens"]


def test_snapshot_then_check_shows_what_a_config_change_does(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(4)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "snapshot", "news"]) == 0
    assert "news: 4 items saved" in capsys.readouterr().out
    site.routes.clear()  # check works offline

    assert main(["--config", str(config), "check"]) == 0
    assert "ok, 4 items as saved" in capsys.readouterr().out

    config.write_text(config.read_text().replace('title = ".news-title"', 'title = ".news-date"'))
    assert main(["--config", str(config), "check"]) == 1
    out = capsys.readouterr().out
    assert "4 change(s)" in out
    assert "title 'News item number 0' -> '28.12.2024'" in out


def test_an_edited_snapshot_is_named_unreadable_in_words(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(2)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "snapshot", "news"]) == 0
    [meta] = (tmp_path / "snapshots" / "news").glob("*.json")
    meta.write_text("[]")
    capsys.readouterr()
    assert main(["--config", str(config), "check"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: unreadable snapshot: not what `feedtool snapshot` writes (edited?)" in out
    assert "Error" not in out


def test_preview_without_selectors_prints_items_and_a_select_block(
    site: Site, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = site.page("/news/", listing(news_items(12)))
    assert main(["preview", url]) == 0
    out = capsys.readouterr().out
    assert "News item number 0" in out
    assert "2024-12-28" in out
    assert "12 items" in out
    assert "[sources.select]" in out
    assert not (tmp_path / "state").exists()


def test_preview_with_selectors(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    url = site.page("/news/", listing(news_items(3)))
    args = ["--item", ".news-item", "--title", ".news-title", "--date", ".news-date"]
    assert main(["preview", url, *args]) == 0
    out = capsys.readouterr().out
    assert "3 items, 0 skipped" in out
    assert f"{site.url}/news/news_odkb/item-2/" in out


def test_a_later_page_that_fails_keeps_the_pages_read(site: Site, tmp_path: Path) -> None:
    site.page("/news/", listing(news_items(6), next_page="/news/?PAGEN_1=2"))
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/", "paginate = { max_pages = 3 }")
    )
    assert run(config) == 0  # page 2 answers 404: a warning, not a failed source
    assert len(atom(tmp_path, "news")) == 6


def test_preview_titles_are_the_link_selectors_text_when_items_start_with_an_image_link(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    page = listing(news_items(3)).replace(
        '<div class="news-date">',
        '<a href="/news/pic/"><img src="/p.jpg" alt=""></a><div class="news-date">',
    )
    url = site.page("/news/", page)

    assert main(["preview", url, "--item", ".news-item", "--link", "a.news-title"]) == 0

    out = capsys.readouterr().out
    assert "3 items, 0 skipped" in out
    assert "News item number 2" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--item", "[[["], "--item: invalid CSS selector '[[['"),
        (["--item", ".news-item", "--date", "p@"], "--date: invalid attribute name"),
        (["--item", ".news-item", "--link", ".news-date"], "--link: '.news-date' is not a link"),
        (["--item", ".news-item", "--date-format", "%Q"], "--date-format: unknown directive"),
    ],
)
def test_preview_rejects_bad_selectors_as_usage_errors(
    site: Site, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    url = site.page("/news/", listing(news_items(3)))

    assert main(["preview", url, *options]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"feedtool: error: {message}")
    assert err.count("\n") == 1
    assert not site.requests  # checked before anything is fetched


def test_select_block_is_valid_toml_whatever_the_selectors_hold() -> None:
    selectors = Selectors(
        item='div[data-kind="news"]',
        title="h2.title\\:x",  # CSS escape: a backslash in the selector
        link='a[title="say \\"hi\\""]@href',
        date="time\t@datetime",
        date_format="%d.%m.%Y",
    )

    parsed = tomllib.loads(select_block(selectors))["sources"]["select"]

    assert parsed == {
        "item": selectors.item,
        "title": selectors.title,
        "link": selectors.link,
        "date": selectors.date,
        "date_format": "%d.%m.%Y",
    }


NO_LINK_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Bulletin</title>
  <item><title>Linked story</title><link>https://example.org/a</link></item>
  <item><title>Story without a link</title><guid isPermaLink="false">b-2</guid></item>
</channel></rss>"""


def test_preview_of_an_auto_source_keeps_feed_entries_without_links(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/feed.xml", NO_LINK_RSS, content_type="application/rss+xml")

    assert main(["preview", url]) == 0

    out = capsys.readouterr().out
    assert "Story without a link" in out
    assert "2 items, 0 skipped" in out


def test_check_replays_the_feed_an_auto_source_followed(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_url = site.page("/feed.xml", NO_LINK_RSS, content_type="application/rss+xml")
    page = listing(news_items(3)).replace(
        "<head>", '<head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
    )
    config = write_config(tmp_path, feed_source("auto", site.page("/news/", page)))
    assert main(["--config", str(config), "snapshot", "auto"]) == 0
    assert "auto: 2 items saved" in capsys.readouterr().out  # the feed's, link or not
    site.routes.clear()
    requests = len(site.requests)

    assert main(["--config", str(config), "check"]) == 0
    assert "ok, 2 items as saved" in capsys.readouterr().out

    # Offline, any URL but the saved one fails: the page is read instead.
    (body,) = (tmp_path / "snapshots" / "auto").glob("*Z.body")
    body.write_bytes(body.read_bytes().replace(b'href="/feed.xml"', b'href="/other.xml"'))
    assert main(["--config", str(config), "check"]) == 1
    out = capsys.readouterr().out
    assert "- Story without a link" in out
    assert "+ News item number 0" in out
    assert len(site.requests) == requests
    (meta,) = (tmp_path / "snapshots" / "auto").glob("*.json")
    assert feed_url in meta.read_text()


def test_two_snapshots_in_the_same_second_are_both_kept(site: Site, tmp_path: Path) -> None:
    site.page("/news/", listing(news_items(2)))
    cfg = config_module.load(write_config(tmp_path, html_source("news", site.url + "/news/")))
    now = datetime(2024, 12, 28, 12, 0, 0, 250000, tzinfo=UTC)

    first, _ = snapshot.take(cfg, cfg.sources[0], now)
    site.page("/news/", listing(news_items(3)))
    second, _ = snapshot.take(cfg, cfg.sources[0], now.replace(microsecond=750000))

    assert first != second
    assert [r.count for r in snapshot.check(cfg, cfg.sources[0])] == [2, 3]  # in order taken


def test_a_snapshot_that_cannot_be_taken_names_the_source_and_its_url(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.url + "/gone/"  # nothing there: 404
    path = write_config(tmp_path, html_source("news", url))
    assert main(["-c", str(path), "snapshot", "news"]) == 1
    err = capsys.readouterr().err
    assert err == f"feedtool: error: news: {url}: HTTP 404 Not Found\n"
