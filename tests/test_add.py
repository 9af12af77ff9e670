"""`feedtool init` and `feedtool add URL`: a config from nothing, sources from a URL."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from feedtool import config
from feedtool.cli import main
from feedtool.init import STARTER
from tests.conftest import Site, listing, news_items

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Press office</title><link>{base}/</link>
<description>d</description>
<item><title>First release</title><link>{base}/r/1</link><guid>{base}/r/1</guid>
<pubDate>Mon, 23 Dec 2024 10:00:00 GMT</pubDate></item>
<item><title>Second release</title><link>{base}/r/2</link><guid>{base}/r/2</guid>
<pubDate>Sun, 22 Dec 2024 10:00:00 GMT</pubDate></item>
</channel></rss>"""


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A config as `feedtool init` writes it: no sources yet."""
    path = tmp_path / "feedtool.toml"
    assert main(["-c", str(path), "init"]) == 0
    return path


def test_init_writes_a_commented_starter_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "etc" / "feedtool.toml"
    assert main(["-c", str(path), "init"]) == 0
    assert path.read_text() == STARTER
    assert tomllib.loads(STARTER)["settings"]["output_dir"] == "public"
    assert "# [[sources]]" in STARTER
    path.write_text("# mine\n")
    assert main(["-c", str(path), "init"]) == 2
    assert "exists; not overwritten" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"


def test_init_where_no_file_can_be_written_is_one_line_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = blocker / "feedtool.toml"  # a file stands where its folder would be
    assert main(["-c", str(path), "init"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "internal error" not in err
    assert str(blocker) in err


def test_add_a_url_that_serves_a_feed(
    site: Site, fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/feed.xml", RSS.format(base=site.url), content_type="application/rss+xml")
    assert main(["-c", str(fresh), "add", url, "--id", "press"]) == 0
    out = capsys.readouterr().out
    assert "the URL serves a feed" in out
    assert "First release" in out
    [source] = config.load(fresh).sources
    assert (source.id, source.url, source.type) == ("press", url, "feed")
    assert "# Add sources with `feedtool add URL`" in fresh.read_text()  # comments kept


def test_add_a_page_that_advertises_a_feed_adds_the_feed(
    site: Site, fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = site.page("/press/rss.xml", RSS.format(base=site.url), content_type="text/xml")
    page = site.page(
        "/press/",
        '<html><head><title>Press</title><link rel="alternate" type="application/rss+xml"'
        ' href="rss.xml"></head><body>' + listing(news_items(3)) + "</body></html>",
    )
    assert main(["-c", str(fresh), "add", page]) == 0
    assert f"the page advertises a feed: {feed}" in capsys.readouterr().out
    [source] = config.load(fresh).sources
    assert (source.url, source.type, source.select) == (feed, "feed", None)
    assert source.id == "127-0-0-1-press"


def test_add_a_plain_listing_previews_what_the_next_run_publishes(
    site: Site, fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", listing(news_items(6)))
    assert main(["-c", str(fresh), "add", url, "--id", "news"]) == 0
    out = capsys.readouterr().out
    assert "automatic detection" in out
    previewed = [
        (line.split()[-1], " ".join(line.split()[1:-1]))
        for line in out.splitlines()
        if line[:4].isdigit() and "http" in line
    ]
    assert len(previewed) == 6
    [source] = config.load(fresh).sources
    assert source.type == "html"
    assert source.select is not None
    assert source.select.item  # pinned: the next run uses exactly these

    assert main(["-c", str(fresh), "run"]) == 0
    published = json.loads((fresh.parent / "public" / "news.json").read_text())
    assert [(i["url"], i["title"]) for i in published["items"]] == previewed


def test_dry_run_prints_the_block_and_writes_nothing(
    site: Site, fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", listing(news_items(3)))
    before = fresh.read_text()
    assert main(["-c", str(fresh), "add", url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("[[sources]]") :]
    assert 'id = "127-0-0-1-news"' in block
    assert "[sources.select]" in block
    assert fresh.read_text() == before
    # the block printed is the block written
    assert main(["-c", str(fresh), "add", url]) == 0
    assert block.strip() in fresh.read_text()


def test_add_refuses_a_taken_id_a_known_url_and_a_page_without_items(
    site: Site, fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", listing(news_items(3)))
    assert main(["-c", str(fresh), "add", url, "--id", "news"]) == 0
    assert main(["-c", str(fresh), "add", url.replace("http:", "https:"), "--id", "x"]) == 2
    assert "in the config already" in capsys.readouterr().err
    other = site.page("/other/", listing(news_items(2)))
    assert main(["-c", str(fresh), "add", other, "--id", "news"]) == 2
    assert "exists already" in capsys.readouterr().err
    empty = site.page("/empty/", "<html><body><p>Nothing here</p></body></html>")
    before = fresh.read_text()
    assert main(["-c", str(fresh), "add", empty]) == 1
    assert "no items found" in capsys.readouterr().err
    assert fresh.read_text() == before
