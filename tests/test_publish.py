import calendar
import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from feedtool import files
from feedtool.model import SUFFIXES, StoredItem
from feedtool.publish import FeedInfo, render, write_feeds
from tests.feedcheck import ATOM_NS, assert_valid_atom, parse_clean

FEED = FeedInfo(id="csto-news", title="ОДКБ: новости", site_url="https://example.org/news/")
BASE_URL = "https://feeds.example.net/out/"
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
RSS_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"


def make_item(n: int, **changes: object) -> StoredItem:
    """Item n; higher n is newer. Odd items are keyed by title and date."""
    published = T0 + timedelta(hours=n)
    link = f"https://example.org/news/{n}"
    fields: dict[str, object] = {
        "source_id": FEED.id,
        "key": link if n % 2 == 0 else f"Новость {n}|2024-03-01",
        "title": f"Новость №{n}: «тест» & <ok>",
        "link": link,
        "published": published,
        "date_inferred": False,
        "updated": published + timedelta(minutes=n),
        "first_seen": published,
        "summary": f'<p>Текст {n} &amp; <a href="https://example.org/x/{n}">ссылка</a></p><p>два</p>',
    }
    fields.update(changes)
    return StoredItem(**fields)  # type: ignore[arg-type]


ITEMS = [make_item(n) for n in range(12, 0, -1)]  # newest first, as the caller passes them


def expected_id(item: StoredItem) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"feedtool:{FEED.id}:{item.key}"))


def timestamp(parsed: object) -> int:
    return calendar.timegm(parsed)  # type: ignore[arg-type]


# --- Atom and RSS round trip ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".atom.xml", ".rss.xml"])
def test_feedparser_reads_back_items_in_order(suffix: str) -> None:
    data = render(FEED, ITEMS, BASE_URL)[suffix]
    parsed = parse_clean(data)

    assert parsed.feed.title == FEED.title
    assert [e.title for e in parsed.entries] == [i.title for i in ITEMS]
    assert [e.link for e in parsed.entries] == [i.link for i in ITEMS]
    assert [e.id for e in parsed.entries] == [expected_id(i) for i in ITEMS]
    assert [timestamp(e.published_parsed) for e in parsed.entries] == [
        int(i.published.timestamp()) for i in ITEMS
    ]
    for entry, item in zip(parsed.entries, ITEMS, strict=True):
        # HTML survives as markup, not as escaped text.
        assert entry.summary == item.summary
        assert "&lt;" not in entry.summary


def test_atom_document() -> None:
    data = render(FEED, ITEMS, BASE_URL)[".atom.xml"]
    assert_valid_atom(data)
    parsed = parse_clean(data)
    newest = max(i.updated for i in ITEMS)

    assert parsed.version == "atom10"
    assert parsed.feed.id == "https://feeds.example.net/out/csto-news.atom.xml"
    assert parsed.feed.author == "example.org"  # the site, never the feed's title again
    assert timestamp(parsed.feed.updated_parsed) == int(newest.timestamp())
    links = {link.rel: (link.href, link.type) for link in parsed.feed.links}
    assert links == {
        "self": ("https://feeds.example.net/out/csto-news.atom.xml", "application/atom+xml"),
        "alternate": (FEED.site_url, "text/html"),  # feedparser's default type
    }
    for entry, item in zip(parsed.entries, ITEMS, strict=True):
        assert "updated" in entry
        assert timestamp(entry.updated_parsed) == int(item.updated.timestamp())
        assert entry.summary_detail.type == "text/html"
        assert "content" not in entry  # no full text, and the alternate link suffices


def test_rss_document() -> None:
    data = render(FEED, ITEMS, BASE_URL)[".rss.xml"]
    parsed = parse_clean(data)
    channel = etree.fromstring(data).find("channel")
    assert channel is not None

    assert parsed.version == "rss20"
    assert channel.findtext("link") == FEED.site_url
    self_link = channel.find(RSS_ATOM_LINK)
    assert self_link is not None
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == "https://feeds.example.net/out/csto-news.rss.xml"
    assert channel.findtext("lastBuildDate") == "Fri, 01 Mar 2024 21:42:00 +0000"  # item 12
    assert channel.findtext("item/pubDate") == "Fri, 01 Mar 2024 21:30:00 +0000"


def test_entry_ids_are_uuids_of_the_identity_key_in_every_format() -> None:
    """Ids follow the item's key, not its link or base_url: readers must not see it twice."""
    linkless = make_item(5, key="title:Без ссылки", link=None)
    moved = make_item(3, link="https://other.example/moved/")
    docs = render(FEED, [make_item(3), linkless], BASE_URL)
    ids = [expected_id(make_item(3)), expected_id(linkless)]

    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", ids[0])
    assert ids[0] == expected_id(moved)
    atom = etree.fromstring(docs[".atom.xml"])
    assert [e.findtext(f"{ATOM_NS}id") for e in atom.iter(f"{ATOM_NS}entry")] == ids
    assert [e.id for e in parse_clean(docs[".rss.xml"]).entries] == ids
    assert [i["id"] for i in json.loads(docs[".json"])["items"]] == ids
    guids = etree.fromstring(docs[".rss.xml"]).findall("channel/item/guid")
    assert {g.get("isPermaLink") for g in guids} == {"false"}
    assert (
        render(FEED, [make_item(3)], "https://elsewhere.example/")[".json"].count(ids[0].encode())
        == 1
    )


def test_content_goes_to_atom_content_and_rss_content_encoded() -> None:
    item = make_item(2, content="<p>Полный <b>текст</b></p>")
    docs = render(FEED, [item], BASE_URL)
    assert_valid_atom(docs[".atom.xml"])

    atom_entry = parse_clean(docs[".atom.xml"]).entries[0]
    assert atom_entry.content[0].type == "text/html"
    assert atom_entry.content[0].value == item.content
    assert atom_entry.summary == item.summary
    rss_item = etree.fromstring(docs[".rss.xml"]).find("channel/item")
    assert rss_item is not None
    assert rss_item.findtext("description") == item.summary
    assert rss_item.findtext(CONTENT_ENCODED) == item.content


def test_entry_without_link_or_content_carries_its_summary_as_atom_content() -> None:
    item = make_item(3, link=None)
    atom = render(FEED, [item], BASE_URL)[".atom.xml"]
    assert_valid_atom(atom)
    assert parse_clean(atom).entries[0].content[0].value == item.summary


@pytest.mark.parametrize("base_url", ["https://feeds.example.net/out", BASE_URL])
def test_self_links_join_base_url_with_or_without_slash(base_url: str) -> None:
    docs = render(FEED, ITEMS[:1], base_url)
    feed = json.loads(docs[".json"])
    atom = parse_clean(docs[".atom.xml"]).feed
    rss = etree.fromstring(docs[".rss.xml"]).find(f"channel/{RSS_ATOM_LINK}")
    assert rss is not None

    assert atom.id == "https://feeds.example.net/out/csto-news.atom.xml"
    assert rss.get("href") == "https://feeds.example.net/out/csto-news.rss.xml"
    assert feed["feed_url"] == "https://feeds.example.net/out/csto-news.json"


# --- JSON Feed -----------------------------------------------------------------------------------


def test_json_feed_has_the_required_fields() -> None:
    items = [make_item(4, content="<p>full</p>"), *ITEMS[1:3], make_item(1, summary=None)]
    data = render(FEED, items, BASE_URL)[".json"]
    feed = json.loads(data.decode("utf-8"))

    assert data.endswith(b"}\n")
    assert "ОДКБ" in data.decode("utf-8")  # not \u-escaped
    assert list(feed) == ["version", "title", "home_page_url", "feed_url", "authors", "items"]
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == FEED.title
    assert feed["home_page_url"] == FEED.site_url
    assert feed["authors"] == [{"name": "example.org"}]
    for entry, item in zip(feed["items"], items, strict=True):
        assert entry["id"] == expected_id(item)
        assert entry["url"] == item.link
        assert entry["title"] == item.title
        assert "content_html" in entry or "content_text" in entry
        assert entry["date_published"] == item.published.isoformat()
        assert entry["date_modified"] == item.updated.isoformat()
        assert datetime.fromisoformat(entry["date_published"]) == item.published
    # Full content preferred; summary is the plain text of the HTML summary.
    assert feed["items"][0]["content_html"] == "<p>full</p>"
    assert feed["items"][0]["summary"] == "Текст 4 & ссылка два"
    assert feed["items"][1]["content_html"] == ITEMS[1].summary
    assert feed["items"][3]["content_text"] == ""
    assert "summary" not in feed["items"][3]


# --- determinism and writing ---------------------------------------------------------------------


def test_render_is_deterministic_and_dated_by_the_data() -> None:
    first = render(FEED, ITEMS, BASE_URL)
    assert render(FEED, ITEMS, BASE_URL) == first
    assert list(first) == list(SUFFIXES)
    newest = max(i.updated for i in ITEMS).isoformat()
    atom = etree.fromstring(first[".atom.xml"])
    assert atom.findtext(f"{ATOM_NS}updated") == newest


def test_write_feeds_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    out = tmp_path / "public" / "feeds"
    assert write_feeds(FEED, ITEMS, out, BASE_URL) == list(SUFFIXES)
    paths = [out / f"csto-news{suffix}" for suffix in SUFFIXES]
    old = 1_000_000_000
    for path in paths:
        os.utime(path, (old, old))

    assert write_feeds(FEED, ITEMS, out, BASE_URL) == []
    assert [p.stat().st_mtime for p in paths] == [old] * 3
    assert sorted(out.iterdir()) == sorted(paths)  # no temp files left
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in paths)
    assert [p.read_bytes() for p in paths] == list(render(FEED, ITEMS, BASE_URL).values())


def test_write_feeds_replaces_changed_files(tmp_path: Path) -> None:
    write_feeds(FEED, ITEMS, tmp_path, BASE_URL)
    changed = [make_item(13), *ITEMS[:-1]]

    assert write_feeds(FEED, changed, tmp_path, BASE_URL) == list(SUFFIXES)
    atom = (tmp_path / "csto-news.atom.xml").read_bytes()
    assert atom == render(FEED, changed, BASE_URL)[".atom.xml"]


def test_failed_write_keeps_old_file_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_feeds(FEED, ITEMS[:1], tmp_path, BASE_URL)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_feeds(FEED, ITEMS, tmp_path, BASE_URL)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


# --- edge cases ----------------------------------------------------------------------------------


def test_zero_items_give_valid_feeds_with_fixed_date() -> None:
    docs = render(FEED, [], BASE_URL)
    assert_valid_atom(docs[".atom.xml"])
    assert parse_clean(docs[".atom.xml"]).feed.updated == "1970-01-01T00:00:00+00:00"
    assert parse_clean(docs[".rss.xml"]).entries == []
    assert json.loads(docs[".json"])["items"] == []
    assert render(FEED, [], BASE_URL) == docs


def test_control_characters_are_dropped_not_fatal() -> None:
    feed = FeedInfo(id="x", title="Feed\x0b title", site_url="https://example.org/")
    item = make_item(2, title="a\x00b\x1fc\ufffe", summary="<p>s\x07</p>", content="c\x1b")
    docs = render(feed, [item], BASE_URL)
    assert_valid_atom(docs[".atom.xml"])

    for suffix in (".atom.xml", ".rss.xml"):
        parsed = parse_clean(docs[suffix])
        assert parsed.feed.title == "Feed title"
        assert parsed.entries[0].title == "abc"
    assert json.loads(docs[".json"])["items"][0]["content_html"] == "c"


@pytest.mark.parametrize("title", ["", "  ", "\x00\x01"])
def test_empty_title_falls_back(title: str) -> None:
    docs = render(FEED, [make_item(2, title=title)], BASE_URL)
    assert_valid_atom(docs[".atom.xml"])
    assert parse_clean(docs[".atom.xml"]).entries[0].title == "(untitled)"
    assert parse_clean(docs[".rss.xml"]).entries[0].title == "(untitled)"


_XML_CHAR = re.compile("[\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def as_feedparser_reads(text: str) -> str:
    """feedparser 6.0.x "repairs" Latin-1 text that is valid UTF-8 once re-encoded ("Ã©" -> "é").

    See feedparser/mixin.py, _FeedParserMixin.pop; our output is right, the reader guesses.
    """
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


@given(
    titles=st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=40), max_size=5),
    summary=st.text(max_size=200),
)
@example(titles=["&amp; <b>x</b> &#169;", "a\r\nb", "Ã©\x80"], summary="<p>x</p>")
def test_any_text_gives_valid_atom_with_same_titles(titles: list[str], summary: str) -> None:
    items = [make_item(n, title=t, summary=summary) for n, t in enumerate(titles)]
    atom = render(FEED, items, BASE_URL)[".atom.xml"]
    assert_valid_atom(atom)

    # Characters XML cannot carry are dropped and surrounding whitespace stripped, as publish does.
    expected = ["".join(_XML_CHAR.findall(t)).strip() or "(untitled)" for t in titles]
    assert [e.title for e in parse_clean(atom).entries] == [
        as_feedparser_reads(t) for t in expected
    ]
