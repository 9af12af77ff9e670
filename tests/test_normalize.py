"""Normalization: dates, links, identity, HTML and text, as the feeds will show them."""

from __future__ import annotations

import string
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedtool import normalize
from feedtool.model import Item, RawItem, Selectors, Source
from feedtool.normalize import (
    canonical_link,
    clean_text,
    link_identity,
    parse_date,
    passes_filters,
    sanitize_html,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PAGE = "https://example.org/news/list/?page=2"
SOURCE = Source(id="news", url=PAGE)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def normalized(raw: RawItem, source: Source = SOURCE, *, require_link: bool = True) -> Item:
    result = normalize.item(raw, source=source, page_url=PAGE, now=NOW, require_link=require_link)
    assert result is not None
    return result


def xml_char(c: str) -> bool:
    """The XML 1.0 Char production."""
    n = ord(c)
    return c in "\t\n\r" or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or n >= 0x10000


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23.12.2024", utc(2024, 12, 23)),
        ("23.12.24", utc(2024, 12, 23)),
        ("December 11, 2024", utc(2024, 12, 11)),
        ("23 декабря 2024", utc(2024, 12, 23)),
        ("2024-12-23T10:00:00+03:00", utc(2024, 12, 23, 7, 0)),
        ("2024-12-23T10:00:00Z", utc(2024, 12, 23, 10, 0)),
        ("2024-12-23", utc(2024, 12, 23)),
        ("11 Dec 2024", utc(2024, 12, 11)),
        ("20.12.2024 14:30", utc(2024, 12, 20, 14, 30)),
        ("  23\u00a0декабря\n2024 ", utc(2024, 12, 23)),
        ("Monday, 23 December 2024", utc(2024, 12, 23)),
        ("30. November 2024", utc(2024, 11, 30)),  # German day with a dot
        ("4. Dezember 2024", utc(2024, 12, 4)),
        ("1er décembre 2024", utc(2024, 12, 1)),
        ("4 de diciembre de 2024", utc(2024, 12, 4)),
        ("23 December 2024, 14:30", utc(2024, 12, 23, 14, 30)),
        ("23 декабря 2024 в 14:30", utc(2024, 12, 23, 14, 30)),
        ("January 2, 2024 10:00 PM", utc(2024, 1, 2, 22, 0)),
        ("2 Jan 2024 12:00 AM", utc(2024, 1, 2, 0, 0)),
        ("23 December 2024 25:99", utc(2024, 12, 23)),  # an impossible time: the day stands
    ],
)
def test_parse_date_reads_common_forms_as_utc(text: str, expected: datetime) -> None:
    assert parse_date(text, NOW) == expected


def test_date_format_wins_over_the_day_first_guess() -> None:
    assert parse_date("05.06.2024", NOW) == utc(2024, 6, 5)
    assert parse_date("05.06.2024", NOW, "%m.%d.%Y") == utc(2024, 5, 6)
    assert parse_date("2024/12/23 10:15", NOW, "%Y/%m/%d %H:%M") == utc(2024, 12, 23, 10, 15)


def test_date_format_that_no_longer_matches_falls_back_to_the_general_parsers() -> None:
    assert parse_date("23 декабря 2024", NOW, "%d.%m.%Y") == utc(2024, 12, 23)


@pytest.mark.parametrize("text", ["On 20 December", "20 декабря", "December 20"])
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 11, 27), utc(2025, 12, 20)),  # not yet this year: last year's
        (utc(2026, 12, 25), utc(2026, 12, 20)),
        (utc(2026, 12, 20, 0, 0), utc(2026, 12, 20)),  # today counts
    ],
)
def test_date_without_year_is_the_last_such_day_not_in_the_future(
    text: str, now: datetime, expected: datetime
) -> None:
    assert parse_date(text, now) == expected


def test_29_february_without_year_is_the_last_leap_day() -> None:
    assert parse_date("29 февраля", utc(2026, 11, 27)) == utc(2024, 2, 29)


@pytest.mark.parametrize(
    "text",
    ["garbage", "", "   ", None, "31.02.2024", "32.01.2024", "2024-13-01", "30 февраля 2024"],
)
def test_unreadable_or_impossible_dates_are_none(text: str | None) -> None:
    assert parse_date(text, NOW) is None


def test_date_only_values_are_utc_midnight_whatever_the_machines_time_zone() -> None:
    """A server in Vladivostok (UTC+10) must not move "23 December" to the 22nd."""
    code = (
        "from datetime import datetime, UTC\n"
        "from feedtool.normalize import parse_date\n"
        "now = datetime(2026, 11, 27, 12, tzinfo=UTC)\n"
        "for text in ['On 20 December', 'Monday, 23 December 2024', '23/12/2024 10:00']:\n"
        "    print(parse_date(text, now).isoformat())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"TZ": "Asia/Vladivostok", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == [
        "2025-12-20T00:00:00+00:00",
        "2024-12-23T00:00:00+00:00",
        "2024-12-23T10:00:00+00:00",
    ]


def test_numeric_dates_never_reach_dateparser() -> None:
    normalize._dateparser.cache_clear()
    days = [date(2000, 1, 1) + timedelta(days=i) for i in range(10_000)]

    parsed = [parse_date(f"{d:%d.%m.%Y}", NOW) for d in days]

    info = normalize._dateparser.cache_info()
    assert (info.misses, info.currsize) == (0, 0)
    assert parsed[0] == utc(2000, 1, 1)
    assert parsed[-1] == utc(2027, 5, 18)
    assert all(p is not None and p.date() == d for p, d in zip(parsed, days, strict=True))


# --- links -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("item-1/", PAGE, "https://example.org/news/list/item-1/"),
        ("../about/", PAGE, "https://example.org/news/about/"),
        ("/news/1/", PAGE, "https://example.org/news/1/"),
        ("//cdn.example.net/a", PAGE, "https://cdn.example.net/a"),
        ("  /news/1/\n", PAGE, "https://example.org/news/1/"),
        # a page's <base href> is what relative links resolve against
        (
            "item-1/",
            "https://static.example.org/archive/",
            "https://static.example.org/archive/item-1/",
        ),
        ("/news/1/#comments", PAGE, "https://example.org/news/1/"),
        (
            "/n/?utm_source=tg&id=3&utm_medium=x&fbclid=F&gclid=G&PHPSESSID=abc&page=2",
            PAGE,
            "https://example.org/n/?id=3&page=2",
        ),
        ("/n/1;jsessionid=0A1B2C?id=7", PAGE, "https://example.org/n/1?id=7"),
        ("/n/1;JSESSIONID=0A1B2C", PAGE, "https://example.org/n/1"),
        ("https://example.org:443/n/", PAGE, "https://example.org/n/"),
        ("http://example.org:80/n/", PAGE, "http://example.org/n/"),
        ("http://example.org:8080/n/", PAGE, "http://example.org:8080/n/"),
        ("HTTPS://Example.ORG./n/", PAGE, "https://example.org/n/"),
        ("https://example.org", PAGE, "https://example.org/"),
        ("/news.php?12345", PAGE, "https://example.org/news.php?12345"),
        ("http://[2001:db8::1]:8080/n/", PAGE, "http://[2001:db8::1]:8080/n/"),
        ("/n/a b/?q=x y", PAGE, "https://example.org/n/a%20b/?q=x%20y"),
    ],
)
def test_canonical_link(href: str, base: str, expected: str) -> None:
    assert canonical_link(href, base) == expected


@pytest.mark.parametrize(
    "href",
    [
        "javascript:void(0)",
        "JavaScript:alert(1)",
        "mailto:press@example.org",
        "tel:+7495",
        "",
        "  ",
        "http://example.org:abc/n/",
        "http://example.org:99999/n/",
        "http://[::1/n/",
    ],
)
def test_canonical_link_refuses_what_is_not_a_web_page(href: str) -> None:
    assert canonical_link(href, PAGE) is None


def test_link_identity_ignores_scheme_www_trailing_slash_and_query_order() -> None:
    variants = [
        "https://example.org/news/1?a=1&b=2",
        "http://example.org/news/1?a=1&b=2",
        "https://www.example.org/news/1?a=1&b=2",
        "https://example.org/news/1/?a=1&b=2",
        "http://www.example.org/news/1/?b=2&a=1",
    ]
    assert {link_identity(v) for v in variants} == {"example.org/news/1?a=1&b=2"}


def test_link_identity_tells_different_articles_apart() -> None:
    keys = {
        link_identity("https://example.org/news/1/"),
        link_identity("https://example.org/news/2/"),
        link_identity("https://example.org/news/1/?lang=ru"),
        link_identity("https://example.com/news/1/"),
        link_identity("https://example.org:8080/news/1/"),
    }
    assert len(keys) == 5


# --- HTML and text -----------------------------------------------------------------------------


def test_sanitize_html_removes_everything_active() -> None:
    dirty = (
        '<p onclick="steal()">Council <b>met</b>.<script>alert(1)</script>'
        "<style>p{display:none}</style>"
        '<iframe src="https://evil.example/"></iframe>'
        '<a href="javascript:alert(1)">x</a><a href=" JaVaScRiPt:alert(2)">y</a>'
        '<img src="/i.png" onerror="steal()"></p>'
    )
    clean = sanitize_html(dirty, "https://example.org/news/1/")
    assert clean is not None
    lowered = clean.lower()
    for forbidden in (
        "<script",
        "alert",
        "<style",
        "display:none",
        "<iframe",
        "onclick",
        "onerror",
    ):
        assert forbidden not in lowered
    assert "javascript:" not in lowered
    assert "<b>met</b>" in clean
    assert 'src="https://example.org/i.png"' in clean


def test_sanitize_html_makes_links_absolute_and_keeps_plain_markup() -> None:
    clean = sanitize_html(
        '<p>See <a href="../2/">the <b>next</b> one</a> and <img src="pic.jpg" alt="pic"></p>',
        "https://example.org/news/1/",
    )
    assert clean == (
        '<p>See <a href="https://example.org/news/2/" rel="noopener noreferrer">'
        'the <b>next</b> one</a> and <img src="https://example.org/news/1/pic.jpg" alt="pic"></p>'
    )


@pytest.mark.parametrize("fragment", [None, "", "   ", "<script>alert(1)</script>"])
def test_sanitize_html_of_nothing_is_none(fragment: str | None) -> None:
    assert sanitize_html(fragment, PAGE) is None


def test_xml_forbidden_characters_are_removed_from_titles() -> None:
    item = normalized(RawItem(title="Council\x00 meets\x0b\x1f today\ufffe", link="/n/1/"))
    assert item.title == "Council meets today"


# --- items -------------------------------------------------------------------------------------


@pytest.mark.parametrize("title", [None, "", "   \n\t", "\x00\x01"])
def test_item_without_title_is_dropped(title: str | None) -> None:
    raw = RawItem(title=title, link="/n/1/")
    assert normalize.item(raw, source=SOURCE, page_url=PAGE, now=NOW, require_link=True) is None


def test_item_without_title_borrows_one_from_its_summary() -> None:
    item = normalized(RawItem(link="/n/1/", summary="<p>The council <b>met</b> today.</p>"))
    assert item.title == "The council met today."


@pytest.mark.parametrize("link", [None, "javascript:void(0)", "mailto:a@example.org"])
def test_item_without_a_usable_link_is_dropped_when_links_are_required(link: str | None) -> None:
    raw = RawItem(title="Council meets", link=link)
    assert normalize.item(raw, source=SOURCE, page_url=PAGE, now=NOW, require_link=True) is None
    item = normalized(raw, require_link=False)
    assert item.link is None
    assert item.key.startswith("hash:")


def test_item_is_cleaned() -> None:
    item = normalized(
        RawItem(
            title="  Council\n  meets  ",
            link="../1/?utm_source=rss#top",
            date="23.12.2024",
            summary='<p onclick="x()">Short <a href="more/">story</a></p>',
        )
    )
    assert item.title == "Council meets"
    assert item.link == "https://example.org/news/1/"
    assert item.published == utc(2024, 12, 23)
    assert item.date_inferred is False
    assert item.summary == (  # relative to the page, as the browser resolved it there
        '<p>Short <a href="https://example.org/news/list/more/" rel="noopener noreferrer">'
        "story</a></p>"
    )
    assert item.key == "example.org/news/1"


def test_relative_dates_are_read_against_the_clock_and_never_in_the_future() -> None:
    assert normalize.parse_date("2 hours ago", NOW) == NOW - timedelta(hours=2)
    assert normalize.parse_date("вчера", NOW).date() == (NOW - timedelta(days=1)).date()
    assert normalize.parse_date("in 3 hours", NOW) == NOW


def test_a_drifting_relative_date_is_not_an_update() -> None:
    first = normalized(RawItem(title="Council meets", link="/n/1/", date="5 minutes ago"))
    later = normalize.item(
        RawItem(title="Council meets", link="/n/1/", date="20 minutes ago"),
        source=SOURCE,
        page_url=PAGE,
        now=NOW + timedelta(minutes=15),
        require_link=True,
    )
    assert later is not None
    assert later.content_hash == first.content_hash


def test_item_without_date_is_published_now_and_marked_inferred() -> None:
    item = normalized(RawItem(title="Council meets", link="/n/1/"))
    assert (item.published, item.date_inferred) == (NOW, True)


def test_item_dated_more_than_a_day_ahead_is_not_trusted() -> None:
    item = normalized(RawItem(title="Typo", link="/n/1/", date="23.12.2027"))
    assert (item.published, item.date_inferred) == (NOW, True)


def test_item_dated_later_today_in_another_time_zone_is_trusted() -> None:
    item = normalized(RawItem(title="Tomorrow in Kamchatka", link="/n/1/", date="28.11.2026"))
    assert (item.published, item.date_inferred) == (utc(2026, 11, 28), False)


def test_feed_dates_already_parsed_are_used() -> None:
    item = normalized(
        RawItem(title="From a feed", link="/n/1/", published=utc(2024, 12, 1, 8), date="garbage")
    )
    assert item.published == utc(2024, 12, 1, 8)


def test_source_date_format_is_applied() -> None:
    source = Source(id="us", url=PAGE, select=Selectors(item=".x", date_format="%m.%d.%Y"))
    item = normalized(RawItem(title="US style", link="/n/1/", date="05.06.2024"), source)
    assert item.published == utc(2024, 5, 6)


def test_title_identity_ignores_links_and_case() -> None:
    source = Source(id="s", url=PAGE, identity="title")
    a = normalized(RawItem(title="Council Meets", link="/n/1/?session=1"), source)
    b = normalized(RawItem(title="council  meets", link="/n/1/?session=2"), source)
    c = normalized(RawItem(title="Council adjourns", link="/n/1/?session=1"), source)
    assert a.key == b.key == "title:council meets"
    assert c.key != a.key


def test_title_and_date_identity_tells_repeated_headlines_apart() -> None:
    source = Source(id="s", url=PAGE, identity="title+date")
    monday = normalized(RawItem(title="Weekly briefing", link="/b/", date="23.12.2024"), source)
    again = normalized(RawItem(title="Weekly Briefing", link="/b2/", date="23.12.2024"), source)
    next_week = normalized(RawItem(title="Weekly briefing", link="/b/", date="30.12.2024"), source)
    assert monday.key == again.key == "title+date:weekly briefing|2024-12-23"
    assert next_week.key == "title+date:weekly briefing|2024-12-30"


def test_guid_identity_wins_over_the_link() -> None:
    a = normalized(RawItem(title="A", link="/n/1/", guid=" urn:news:42 "))
    b = normalized(RawItem(title="A", link="/moved/1/", guid="urn:news:42"))
    assert a.key == b.key == "guid:urn:news:42"
    assert a.link != b.link


def test_link_identity_ignores_a_feed_guid_that_changes() -> None:
    source = Source(id="s", url=PAGE, type="feed", identity="link")
    keys = {
        normalize.item(
            RawItem(title="A", link="https://example.org/n/1", guid=guid),
            source=source,
            page_url=PAGE,
            now=NOW,
            require_link=False,
        ).key  # type: ignore[union-attr]
        for guid in ("session-1", "session-2")
    }
    assert keys == {"example.org/n/1"}


def test_filters_are_case_insensitive_over_title_and_summary() -> None:
    council = normalized(
        RawItem(title="Council meets", link="/1/", summary="<p>On <b>BUDGET</b></p>")
    )
    sport = normalized(RawItem(title="Sport results", link="/2/"))

    assert passes_filters(council, ("council",), ())
    assert not passes_filters(sport, ("council",), ())
    assert passes_filters(council, ("budget",), ())  # matched in the summary's text
    assert not passes_filters(council, (), ("COUNCIL",))
    assert passes_filters(sport, (), ("council",))
    assert not passes_filters(council, ("council",), ("budget",))  # exclude wins
    assert passes_filters(sport, (), ())


# --- properties --------------------------------------------------------------------------------

_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_HOST = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["org", "com", "ru", "test"]),
).filter(lambda host: not host.startswith("www."))
# Inner spaces and Cyrillic happen in real hrefs; a segment ending in ";" does not (and urljoin
# drops an empty ";params" part, which would make "/a;" and "/a;/" differ).
_SEGMENT = st.text(
    string.ascii_letters + string.digits + "-._~!$'()*+,;=:@% новсти", max_size=12
).filter(lambda segment: segment == segment.strip() and not segment.endswith(";"))
_PATH = st.lists(_SEGMENT, max_size=4).map(lambda segments: "/" + "/".join(segments))
_KEY = st.text(string.ascii_letters + string.digits + "-._~%+[]", min_size=1, max_size=8).filter(
    lambda key: not normalize._TRACKING.match(key)
)
_VALUE = st.text(string.ascii_letters + string.digits + "-._~%+/:?=,", max_size=8)
_PAIRS = st.lists(st.tuples(_KEY, st.none() | _VALUE), max_size=4)
_TRACKERS = st.lists(
    st.tuples(
        st.sampled_from(["utm_source", "UTM_Campaign", "fbclid", "gclid", "PHPSESSID", "yclid"]),
        _VALUE,
    ),
    min_size=1,
    max_size=3,
)
_FRAGMENT = st.none() | st.text(string.printable.strip(), max_size=10)


def _query(pairs: list[tuple[str, str | None]]) -> str:
    return "&".join(key if value is None else f"{key}={value}" for key, value in pairs)


def _url(
    scheme: str, host: str, port: int | None, path: str, query: str, fragment: str | None
) -> str:
    return (
        f"{scheme}://{host}"
        + (f":{port}" if port else "")
        + path
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment is not None else "")
    )


_SCHEME = st.sampled_from(["http", "https"])
_PORT = st.none() | st.sampled_from([80, 443, 8080])


@given(_SCHEME, _HOST, _PORT, _PATH, _PAIRS, _FRAGMENT)
def test_canonical_link_is_idempotent(
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    pairs: list[tuple[str, str | None]],
    fragment: str | None,
) -> None:
    once = canonical_link(_url(scheme, host, port, path, _query(pairs), fragment), PAGE)
    assert once is not None
    assert canonical_link(once, PAGE) == once
    assert "#" not in once


@given(_SCHEME, _HOST, _PATH, _PAIRS, _TRACKERS, st.randoms(use_true_random=False), _FRAGMENT)
def test_link_identity_survives_the_noise_sites_add(
    scheme: str,
    host: str,
    path: str,
    pairs: list[tuple[str, str | None]],
    trackers: list[tuple[str, str]],
    random: Random,
    fragment: str | None,
) -> None:
    plain = canonical_link(_url(scheme, host, None, path, _query(pairs), None), PAGE)
    noisy_pairs: list[tuple[str, str | None]] = [*pairs, *trackers]
    random.shuffle(noisy_pairs)
    other_scheme = "https" if scheme == "http" else "http"
    slash = path[:-1] if path.endswith("/") and path != "/" else path + "/"
    noisy = canonical_link(
        _url(other_scheme, "www." + host, None, slash, _query(noisy_pairs), fragment), PAGE
    )
    assert plain is not None
    assert noisy is not None
    assert link_identity(noisy) == link_identity(plain)


_ANY_TEXT = st.text(
    st.characters()
    | st.sampled_from(
        list("\x00\x08\x0b\x0c\x1c\x1f\x7f\x85\xa0\u2028\ufffe\uffff\ud800\udfff\t\n\r ")
    )
)


@given(_ANY_TEXT)
def test_clean_text_is_idempotent_and_xml_safe(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert all(xml_char(c) for c in cleaned)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Опубликовано: 23.12.2024", datetime(2024, 12, 23, tzinfo=UTC)),
        ("Posted on 5 March 2024 by Admin", datetime(2024, 3, 5, tzinfo=UTC)),
        ("Updated 2024-12-23T10:00:00Z (edited)", datetime(2024, 12, 23, 10, tzinfo=UTC)),
        ("Veröffentlicht am 30. November 2024", datetime(2024, 11, 30, tzinfo=UTC)),
        ("Publié le 4 décembre 2024", datetime(2024, 12, 4, tzinfo=UTC)),
        ("Publicado el 4 de diciembre de 2024", datetime(2024, 12, 4, tzinfo=UTC)),
        ("Pubblicato il 4 dicembre 2024", datetime(2024, 12, 4, tzinfo=UTC)),
    ],
)
def test_a_date_inside_a_label_is_read(text: str, expected: datetime) -> None:
    assert normalize.parse_date(text, NOW) == expected


def test_percent_encoding_noise_is_one_identity() -> None:
    keys = {
        normalize.link_identity(link)
        for link in (
            "https://example.org/новости/1",
            "https://example.org/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1",
            "https://example.org/%d0%bd%d0%be%d0%b2%d0%be%d1%81%d1%82%d0%b8/1/",
        )
    }
    assert len(keys) == 1


def test_a_guid_that_is_a_url_ignores_link_noise() -> None:
    keys = {
        normalized(RawItem(title="A", link=None, guid=guid), require_link=False).key
        for guid in ("http://example.org/a/1", "https://www.example.org/a/1/?utm_source=tg")
    }
    assert keys == {"example.org/a/1"}


def test_a_link_flip_to_https_is_not_an_update() -> None:
    http = normalized(RawItem(title="A", link="http://example.org/a/1"))
    https = normalized(RawItem(title="A", link="https://example.org/a/1?utm_medium=x"))
    assert http.content_hash == https.content_hash


def test_characters_no_url_may_hold_raw_are_percent_encoded_and_keep_the_key() -> None:
    link = normalize.canonical_link('http://127.0.0.1/a b"c<d>?q=<x>|{y}', "")
    assert link == "http://127.0.0.1/a%20b%22c%3Cd%3E?q=%3Cx%3E%7C%7By%7D"
    assert normalize.canonical_link(link, "") == link
    assert normalize.link_identity(link) == normalize.link_identity(
        'http://127.0.0.1/a b"c<d>?q=<x>|{y}'.replace(" ", "%20")
    )
