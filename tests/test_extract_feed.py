"""feed.parse and looks_like_feed over real documents of every supported format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from feedtool import extract, normalize, publish
from feedtool.errors import ExtractError
from feedtool.extract import feed, jsonfeed
from feedtool.model import Fetched, Item, NotModified, Source, Validators
from tests.feedcheck import assert_valid_atom, parse_clean, stored

FEEDS = Path(__file__).parent / "data" / "feeds"


def fetched(
    body: bytes | str,
    content_type: str = "application/xml",
    charset: str | None = None,
    url: str = "https://example.com/blog/feed/",
) -> Fetched:
    if isinstance(body, str):
        body = (FEEDS / body).read_bytes()
    return Fetched(
        url=url,
        status=200,
        body=body,
        content_type=content_type,
        charset=charset,
        validators=Validators(),
    )


def test_rss20_items_dates_guids_and_resolved_links() -> None:
    extracted = feed.parse(fetched("rss20.xml", "application/rss+xml"))

    assert extracted.title == "Example Gazette: City"
    assert extracted.warning is None
    first, second = extracted.items
    assert first.title == "Harbour bridge reopens after repairs"
    assert first.link == "https://example.org/city/2024/bridge"
    assert first.guid == "gazette-city-1001"
    assert first.published == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert first.updated is None
    assert first.date is None
    assert first.summary == "<p>The bridge is <b>open</b> again.</p>"
    # content:encoded, its links as written; normalize resolves them against the feed's URL
    assert first.content == (
        '<p>The harbour bridge reopened on Tuesday. See the <a href="/reports/bridge.pdf">'
        "report</a>.</p>"
    )
    assert second.link == "/city/2024/tram"
    stored = normalized_feed(fetched("rss20.xml").body, "application/rss+xml")
    assert [item.link for item in stored] == [
        "https://example.org/city/2024/bridge",
        "https://example.com/city/2024/tram",
    ]
    assert 'href="https://example.com/reports/bridge.pdf"' in (stored[0].content or "")
    assert second.guid is None
    assert second.published == datetime(2024, 3, 4, 18, 5, tzinfo=UTC)
    assert second.content is None


def test_rss10_dc_date_is_the_updated_date() -> None:
    extracted = feed.parse(fetched("rss10.rdf", "application/rdf+xml"))

    assert extracted.title == "Example Net News"
    (item,) = extracted.items
    assert item.title == "Council approves budget"
    assert item.link == "https://example.net/news/42"
    assert item.guid == "https://example.net/news/42"  # rdf:about
    assert item.published is None
    assert item.updated == datetime(2024, 3, 1, 4, 15, tzinfo=UTC)
    assert item.summary == "The council approved next year's budget."


def test_rss091_with_doctype_and_latin1() -> None:
    extracted = feed.parse(fetched("rss091.xml", "text/xml"))

    assert extracted.title == "Old Style Bulletin"
    (item,) = extracted.items
    assert item.title == "Café opens on Main Street"
    assert item.link == "http://bulletin.example.com/cafe.html"
    assert item.published is None
    assert item.guid is None


def test_atom10_relative_links_dates_and_content_types() -> None:
    extracted = feed.parse(fetched("atom10.xml", "application/atom+xml", "utf-8"))

    assert extracted.title == "Example Blog"
    assert extracted.warning is None
    release, only_updated = extracted.items
    assert release.title == "Release 2.0 is out"
    assert release.guid == "tag:example.com,2024:blog/release-2-0"
    assert release.link == "posts/release-2-0.html"  # resolved by normalize, as below
    assert release.published == datetime(2024, 3, 5, 7, 0, tzinfo=UTC)
    assert release.updated == datetime(2024, 3, 6, 9, 45, 30, tzinfo=UTC)
    assert release.summary == "Version 2.0 &amp; friends"  # type="text" arrives escaped
    assert (
        release.content == '<p>Download it from the <a href="../downloads/">downloads page</a>.</p>'
    )
    stored = normalized_feed(fetched("atom10.xml").body, "application/atom+xml")
    assert stored[0].link == "https://example.com/blog/feed/posts/release-2-0.html"
    assert 'href="https://example.com/blog/downloads/"' in (stored[0].content or "")
    # no <published>: updated stays updated, and reading it raises no DeprecationWarning
    assert only_updated.published is None
    assert only_updated.updated == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert only_updated.content == "<p>XHTML <em>content</em></p>"


def test_atom03_issued_and_modified() -> None:
    extracted = feed.parse(fetched("atom03.xml"))

    assert extracted.title == "Legacy Atom Diary"
    (item,) = extracted.items
    assert item.title == "First post"
    assert item.link == "https://diary.example.org/2004/01/first"
    assert item.guid == "tag:diary.example.org,2004:first"
    assert item.published == datetime(2004, 1, 10, 4, 0, tzinfo=UTC)
    assert item.updated == datetime(2004, 1, 10, 11, 0, tzinfo=UTC)


def test_jsonfeed10_through_feed_parse() -> None:
    extracted = feed.parse(fetched("jsonfeed10.json", "application/feed+json"))

    assert extracted.title == "Example Podcast Notes"
    assert extracted.skipped == 1  # the item that is not a JSON object
    episode, external = extracted.items
    assert episode.title == "Episode 12: Bridges"
    assert episode.guid == "episode-12"
    assert episode.link == "https://example.com/blog/feed/episodes/12"
    assert episode.summary == "Bridges &amp; tunnels"  # JSON Feed summaries are plain text
    assert episode.content is not None
    assert 'href="https://example.com/links/12"' in episode.content
    assert 'src="https://example.com/blog/feed/art/12.png"' in episode.content
    assert episode.published == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert episode.updated == datetime(2024, 3, 5, 9, 0, 0, 500000, tzinfo=UTC)

    assert external.guid == "11"
    assert external.title is None
    assert external.link == "https://elsewhere.example.net/story"
    assert external.content == "<p>Line one<br>\nline two</p><p>Second &lt;para&gt; &amp; more</p>"
    assert external.published is None  # "not a date"


def test_jsonfeed11_escaped_version_and_date_forms() -> None:
    extracted = feed.parse(fetched("jsonfeed11.json", "application/json"))

    assert extracted.title == "Micro Notes"
    note, other = extracted.items
    assert note.title is None
    assert note.link == "https://micro.example.com/2024/03/05/note"
    assert note.published == datetime(2024, 3, 5, tzinfo=UTC)  # date only: midnight UTC
    assert other.link == "https://example.com/2024/03/04/other"
    assert other.published == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)  # naive: UTC
    assert other.content == "<p>Plain</p>"


def test_malformed_feed_yields_items_with_a_one_line_warning() -> None:
    extracted = feed.parse(fetched("malformed.xml", "application/rss+xml"))

    assert extracted.warning is not None
    assert extracted.warning.startswith("malformed feed: ")
    assert "\n" not in extracted.warning
    assert [item.title for item in extracted.items] == ["Fish & chips prices rise", "Second story"]
    assert extracted.items[0].published == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert extracted.items[1].link == "https://broken.example.com/second"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("garbage.xml", "text/xml", "not an RSS, Atom or JSON feed (<unknown>:"),
        (b"<!DOCTYPE html><html><body>Hi</body></html>", "text/html", "not an RSS, Atom"),
        (b"", "application/rss+xml", "not an RSS, Atom or JSON feed"),
        (
            b'<rss version="2.0"><channel><title>a & b</title></channel></rss>',
            "application/rss+xml",
            "malformed feed with no items: <unknown>:",
        ),
    ],
)
def test_nothing_recoverable_raises_one_line_error(
    body: bytes | str, content_type: str, message: str
) -> None:
    with pytest.raises(ExtractError) as raised:
        feed.parse(fetched(body, content_type))
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_valid_empty_feed_is_no_error() -> None:
    body = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    extracted = feed.parse(fetched(body, "application/rss+xml"))

    assert extracted.items == ()
    assert extracted.title == "Quiet"
    assert extracted.warning is None


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("application/rss+xml", None),  # the XML declaration decides
        ("text/xml", None),  # RFC 3023 says us-ascii; the declaration must still win
        ("text/xml", "windows-1251"),
        ("text/html", "utf-8"),  # a wrong header: harmless, no warning
    ],
)
def test_windows_1251_feed_decodes(content_type: str, charset: str | None) -> None:
    extracted = feed.parse(fetched("rss20-cp1251.xml", content_type, charset))

    assert extracted.title == "Новости города"
    assert [item.title for item in extracted.items] == ["Мост открыт после ремонта"]
    assert extracted.items[0].summary == "Движение по мосту восстановлено."
    assert extracted.warning is None


def test_feedparser_gets_bytes_and_response_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_parse = feedparser.parse

    def spy(document: object, **kwargs: object) -> feedparser.FeedParserDict:
        calls.append((document, kwargs))
        return real_parse(document, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    feed.parse(fetched("rss20.xml", "application/rss+xml", "utf-8", url="https://x.test/f"))

    ((document, kwargs),) = calls
    assert isinstance(document, bytes)
    # no content-location: ids stay as written, wherever the feed lives (see _headers)
    assert kwargs["response_headers"] == {"content-type": "application/rss+xml; charset=utf-8"}


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"anything", "application/rss+xml", True),
        (b"anything", "application/atom+xml", True),
        (b"{}", "application/feed+json", True),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- c -->\n<rss version="2.0">', "text/html", True),
        (b'  <feed xmlns="http://www.w3.org/2005/Atom">', "text/plain", True),
        (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x">', "application/xml", True),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "application/json", True),
        (b'<?xml version="1.0"?><urlset xmlns="sitemap"></urlset>', "application/xml", False),
        (b'{"status": "ok", "items": []}', "application/json", False),
        (b"<!DOCTYPE html><html><body><p>feed</p></body></html>", "text/html", False),
        (b"", "text/html", False),
    ],
)
def test_looks_like_feed(body: bytes, content_type: str, expected: bool) -> None:
    assert feed.looks_like_feed(fetched(body, content_type)) is expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "invalid JSON"),
        (b'{"version": "https://example.com/v1", "items": []}', "not a JSON Feed"),
        (b'["https://jsonfeed.org/version/1.1"]', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "title": "No items"}', "no items"),
    ],
)
def test_jsonfeed_errors(body: bytes, message: str) -> None:
    with pytest.raises(ExtractError, match=message):
        jsonfeed.parse(fetched(body, "application/feed+json"))


def test_is_jsonfeed() -> None:
    assert jsonfeed.is_jsonfeed((FEEDS / "jsonfeed10.json").read_bytes())
    assert jsonfeed.is_jsonfeed((FEEDS / "jsonfeed11.json").read_bytes())  # escaped slashes
    assert not jsonfeed.is_jsonfeed((FEEDS / "rss20.xml").read_bytes())
    assert not jsonfeed.is_jsonfeed(b'["version", "https://jsonfeed.org/version/1"]')


def test_html_and_xhtml_titles_become_plain_text() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">&lt;i&gt;Site&lt;/i&gt; news</title>
  <id>urn:x</id><updated>2024-03-05T07:00:00Z</updated>
  <entry><id>urn:1</id><updated>2024-03-05T07:00:00Z</updated><link href="/1"/>
    <title type="html">&lt;b&gt;Bold&lt;/b&gt; news &amp;amp; more</title></entry>
  <entry><id>urn:2</id><updated>2024-03-05T07:00:00Z</updated><link href="/2"/>
    <title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><em>XHTML</em> &amp; co</div>
    </title></entry>
  <entry><id>urn:3</id><updated>2024-03-05T07:00:00Z</updated><link href="/3"/>
    <title>AT&amp;T &lt;3 plain &amp;amp; text</title></entry>
</feed>"""
    extracted = feed.parse(fetched(body, "application/atom+xml"))

    assert extracted.title == "Site news"
    assert [item.title for item in extracted.items] == [
        "Bold news & more",
        "XHTML & co",
        "AT&T <3 plain &amp; text",  # type="text" is text as it stands
    ]


def test_unjoinable_jsonfeed_link_leaves_only_that_item_without_a_link() -> None:
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
        {"id": "1", "url": "http://[broken/x", "title": "Broken"},
        {"id": "2", "url": "/ok", "title": "Fine"}]}"""

    broken, fine = feed.parse(fetched(body, "application/feed+json")).items

    assert broken.link is None
    assert broken.guid == "1"
    assert fine.link == "https://example.com/ok"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("rss20.xml", "application/rss+xml"),
        ("atom10.xml", "application/atom+xml"),
        ("rss10.rdf", "application/rdf+xml"),
        ("jsonfeed11.json", "application/feed+json"),
    ],
)
def test_every_feed_format_is_marked_from_feed(name: str, content_type: str) -> None:
    assert feed.parse(fetched(name, content_type)).from_feed is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05T09:30:00+02:00", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),
        ("2024-03-05t07:30:00z", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        (" 2024-03-05T07:30:00 ", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),  # naive: UTC
        ("5 March 2024", None),
        (20240305, None),
        (None, None),
    ],
)
def test_parse_iso(value: object, expected: datetime | None) -> None:
    parsed = normalize.parse_iso(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is UTC


def test_a_feed_feedparser_cannot_read_is_an_extract_error_not_a_crash() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Hi &#55357;&#56832;</title>'
        b"<item><title>x</title><link>http://example.org/a</link></item></channel></rss>"
    )
    broken = Fetched(
        url="http://example.org/feed",
        status=200,
        body=body,
        content_type="application/rss+xml",
        charset=None,
        validators=Validators(),
    )
    with pytest.raises(ExtractError, match="unreadable feed"):
        feed.parse(broken)


# --- classes of failure found on the feed corpus (tests/test_feed_corpus.py) ---------------------

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _refuse(url: str) -> Fetched | NotModified:
    raise AssertionError(f"a feed source fetches nothing else ({url})")


def normalized_feed(body: bytes, content_type: str = "application/xml") -> list[Item]:
    """The items a run would store from a `type = "feed"` source serving body."""
    document = fetched(body, content_type)
    source = Source(id="t", url=document.url, type="feed")
    return extract.normalized_items(source, document, now=NOW, fetch=_refuse)[1]


def test_entries_without_title_or_text_are_kept_and_publishable() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Links</title><id>urn:f</id>
  <updated>2024-03-05T07:00:00Z</updated>
  <entry><id>urn:1</id><updated>2024-03-05T07:00:00Z</updated><link href="/posts/1"/></entry>
  <entry><id>urn:2</id><updated>2024-03-04T07:00:00Z</updated></entry>
  <entry><id>urn:3</id><updated>2024-03-03T07:00:00Z</updated><link href="/posts/3"/>
    <content type="html">&lt;p&gt;Text makes the title&lt;/p&gt;</content></entry>
  <entry><id>urn:4</id><updated>2024-03-02T07:00:00Z</updated><link href="/posts/4"/>
    <content type="html">&lt;script&gt;track()&lt;/script&gt;</content></entry>
</feed>"""
    items = normalized_feed(body)

    assert [item.title for item in items] == [
        "https://example.com/posts/1",  # the link names it
        "(untitled)",  # nothing but an id (that feedparser copies to the link: not a web link)
        "Text makes the title",  # normalize's own fallback: the text
        "https://example.com/posts/4",  # text that sanitising leaves empty is no title
    ]
    assert len({item.key for item in items}) == 4
    documents = publish.render(
        publish.FeedInfo(id="t", title="Links", site_url="https://example.com/"),
        stored(items, "t", NOW),
        "https://feeds.example.org/",
    )
    assert_valid_atom(documents[".atom.xml"])
    assert len(parse_clean(documents[".rss.xml"]).entries) == 4


def test_json_feed_items_without_title_or_text_are_kept() -> None:
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "Micro", "items": [
        {"id": "1", "url": "https://micro.example.com/1"}, {"id": "2"}]}"""

    items = normalized_feed(body, "application/feed+json")

    assert [item.title for item in items] == ["https://micro.example.com/1", "(untitled)"]


def test_guids_that_differ_only_by_fragment_are_distinct_items() -> None:
    # The RSS 2.0 specification's example 2: two items of one page, told apart by fragment.
    body = b"""<rss version="2.0"><channel><title>Liftoff News</title>
  <item><description>Sky watchers in Europe, Asia, and parts of Alaska</description>
    <guid>http://liftoff.msfc.nasa.gov/2003/06/03.html#item573</guid></item>
  <item><description>Before man travels to Mars, NASA hopes to design new engines</description>
    <guid>http://liftoff.msfc.nasa.gov/2003/06/03.html#item572</guid></item>
</channel></rss>"""
    keys = [item.key for item in normalized_feed(body, "application/rss+xml")]

    assert keys == [
        "liftoff.msfc.nasa.gov/2003/06/03.html#item573",
        "liftoff.msfc.nasa.gov/2003/06/03.html#item572",
    ]


@pytest.mark.parametrize(
    ("guids", "same"),
    [
        # link noise: scheme, "www.", trailing slash, tracking parameters, query order
        (("http://example.org/a/1", "https://www.example.org/a/1/?utm_source=tg"), True),
        (("http://example.org/?b=2&a=1", "https://example.org/?a=1&b=2"), True),
        (("http://example.org/d.html#a1", "https://www.example.org/d.html#a1"), True),
        # what names an item: the fragment, the query, an opaque guid as written
        (("http://example.org/d.html#a1", "http://example.org/d.html#a2"), False),
        (("http://example.org/d.html#a1", "http://example.org/d.html"), False),
        (("http://example.org/?p=1", "http://example.org/?p=2"), False),
        (("tag:example.org,2024:1#a", "tag:example.org,2024:1#b"), False),
        (("urn:news:42", "URN:news:42"), False),
    ],
)
def test_guid_identity(guids: tuple[str, str], same: bool) -> None:
    first, second = (normalize.guid_identity(guid) for guid in guids)
    assert (first == second) is same


def test_url_guid_without_fragment_keeps_the_key_it_always_had() -> None:
    # Keys are stored: a changed key would make every known item of a feed new again.
    assert normalize.guid_identity("https://www.example.org/a/1/") == "example.org/a/1"
    assert normalize.guid_identity("urn:news:42") == "guid:urn:news:42"


def test_a_nested_title_never_replaces_the_entry_title() -> None:
    # feedparser 6.0.14 writes an RSS item's <author><title> (a job title) over
    # title_detail.value after an <image> inside the item; entry.title stays right.
    body = b"""<rss version="2.0"><channel><title>Cloud Blog</title>
  <item><title>Bridge reopens</title><link>https://example.org/1</link>
    <og><image>https://example.org/1.png</image></og>
    <author><name>Ann Lee</name><title>Product Manager</title></author></item>
</channel></rss>"""
    (item,) = feed.parse(fetched(body, "application/rss+xml")).items

    assert item.title == "Bridge reopens"


TEXTS = {
    "euc-jp": "東京の新しい橋が今日開通しました。市民は朝から橋を渡って記念写真を撮っています。",
    "euc-kr": "서울의 새 다리가 오늘 개통되었습니다. 시민들은 아침부터 다리를 건넜습니다.",
    "gb2312": "北京的新桥今天正式通车。市民们从早上开始就在桥上散步并拍照留念。",
    "big5": "台北的新橋今天正式通車。市民們從早上開始就在橋上散步並拍照留念。",
    "koi8-r": "Мост через реку открыт после ремонта. Движение восстановлено в обе стороны.",
    "cp1252": "Café “quoted” crème brûlée, déjà vu à Noël.",  # reads as cp1250 too: a tie
    "cp1250": "Příliš žluťoučký kůň úpěl ďábelské ódy. Česká republika a Brno.",
}


@pytest.mark.parametrize("encoding", sorted(TEXTS))
def test_undeclared_legacy_encoding_is_detected(encoding: str) -> None:
    text = TEXTS[encoding]
    body = (
        f'<rss version="2.0"><channel><title>{text[:6]}</title><item><title>{text[:12]}</title>'
        f"<description>{text}</description></item></channel></rss>"
    ).encode(encoding)

    extracted = feed.parse(fetched(body, "application/xml"))

    assert extracted.title == text[:6].strip()
    (item,) = extracted.items
    assert item.title == text[:12].strip()
    assert item.summary == text


def test_a_declared_charset_is_not_second_guessed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = TEXTS["euc-kr"]
    declared = f'<?xml version="1.0" encoding="euc-kr"?><rss version="2.0"><channel><title>{text}'
    body = (declared + "</title></channel></rss>").encode("euc-kr")
    calls: list[dict[str, str]] = []
    real_parse = feedparser.parse

    def spy(document: bytes, **kwargs: dict[str, str]) -> feedparser.FeedParserDict:
        calls.append(kwargs["response_headers"])
        return real_parse(document, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)

    assert feed.parse(fetched(body, "application/xml")).title == text
    assert feed.parse(fetched(body, "text/xml", charset="euc-kr")).title == text
    assert [headers["content-type"] for headers in calls] == [
        "application/xml",  # the declaration decides, as feedparser reads it
        "text/xml; charset=euc-kr",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"status": "ok", "items": []}', "not a JSON Feed: no version, not https://jsonfeed"),
        (b'{"version": "1.0", "items": []}', 'not a JSON Feed: version "1.0", not https://'),
        (b'\xef\xbb\xbf  [{"id": 1}]', "not a JSON Feed: a JSON array, not an object"),
        (b'{"status": "ok",', "invalid JSON: "),
    ],
)
def test_json_that_is_no_json_feed_is_refused_as_such(body: bytes, message: str) -> None:
    with pytest.raises(ExtractError) as raised:
        feed.parse(fetched(body, "application/json"))
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_json_feed_with_raw_control_characters_in_strings() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1", "items": [{"id": "1", "title": "A\tB"}]}'
    (item,) = feed.parse(fetched(body, "application/feed+json")).items
    assert item.title == "A\tB"


def test_entry_dates_feedparser_cannot_read_are_read_as_page_dates_are() -> None:
    """No zone ("taken as UTC") or a long form: not the time of the run."""
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><title>A</title><link>https://example.org/a</link>
    <pubDate>Tue, 2 Jan 2024 10:00:00</pubDate></item>
    <item><title>B</title><link>https://example.org/b</link>
    <pubDate>Tuesday, January 2, 2024 10:00 PM</pubDate></item>
    </channel></rss>"""
    items = normalized_feed(rss, "application/rss+xml")
    assert [(i.published, i.date_inferred) for i in items] == [
        (datetime(2024, 1, 2, 10, tzinfo=UTC), False),
        (datetime(2024, 1, 2, 22, tzinfo=UTC), False),
    ]
