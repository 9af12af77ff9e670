"""Hostile input: what a page, a feed or a server could send to break a run, and what it gets.

Each test is one case of SECURITY.md's table: the run goes on, bounded, with one line at most.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedtool import normalize
from feedtool.cli import main
from feedtool.errors import ExtractError
from feedtool.extract import feed, jsonfeed
from feedtool.extract.html import Page
from feedtool.health import Alert
from feedtool.model import Fetched, NotifyTarget, RawItem, Source, Validators
from feedtool.notify import plan_alert
from feedtool.terminal import printable
from feedtool.urls import safe_url
from tests.conftest import Site, html_source, listing, news_items, raw_server, write_config
from tests.feedcheck import parse_clean

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "run", "--force", *args])


def published(tmp_path: Path, source_id: str = "news") -> dict[str, object]:
    return json.loads((tmp_path / "public" / f"{source_id}.json").read_text(encoding="utf-8"))


def fetched(body: bytes, content_type: str, url: str = "http://example.org/feed") -> Fetched:
    return Fetched(
        url=url, status=200, body=body, content_type=content_type, charset=None,
        validators=Validators(),
    )  # fmt: skip


def feed_source(source_id: str, url: str) -> str:
    return f'\n[[sources]]\nid = "{source_id}"\nurl = "{url}"\ntype = "feed"\n'


# --- 1. out-of-range dates ---------------------------------------------------------------------

OUT_OF_RANGE = "9999-12-31T23:59:59-23:59"  # OverflowError converting to UTC


def test_an_out_of_range_date_costs_only_its_items_date(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = news_items(3)
    items[1] = (OUT_OF_RANGE, items[1][1], items[1][2])
    site.page("/news/", listing(items))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert run(config) == 0
    assert run(config) == 0  # and every later run too
    assert capsys.readouterr().err == ""
    entries = published(tmp_path)["items"]
    assert isinstance(entries, list)
    assert [e["title"] for e in entries if "number 1" in e["title"]]  # the item is published
    assert len(entries) == 3


def test_out_of_range_dates_in_feeds_and_json_feeds_are_unknown(site: Site, tmp_path: Path) -> None:
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <link>http://example.org/</link>
      <item><title>bad</title><link>http://example.org/1</link>
        <pubDate>Fri, 31 Dec 9999 23:59:59 -2359</pubDate></item>
      <item><title>atom-ish</title><link>http://example.org/2</link>
        <dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">{OUT_OF_RANGE}</dc:date></item>
      <item><title>good</title><link>http://example.org/3</link>
        <pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>
    </channel></rss>"""
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "j",
        "items": [
            {"id": "1", "url": "http://e.org/1", "title": "bad", "date_published": OUT_OF_RANGE},
            {"id": "2", "url": "http://e.org/2", "date_modified": "0001-01-01T00:00:00+01:00"},
        ],
    }
    site.page("/rss", rss, content_type="application/rss+xml")
    site.page("/json", json.dumps(json_feed), content_type="application/feed+json")
    config = write_config(
        tmp_path, feed_source("rss", site.url + "/rss") + feed_source("json", site.url + "/json")
    )
    assert run(config) == 0
    assert len(published(tmp_path, "rss")["items"]) == 3  # type: ignore[arg-type]
    assert len(published(tmp_path, "json")["items"]) == 2  # type: ignore[arg-type]


# --- 2. catastrophic regular expressions -------------------------------------------------------


def test_a_catastrophic_filter_pattern_cannot_hang_a_run(site: Site, tmp_path: Path) -> None:
    items = [("27.12.2024", "a" * 31 + "!", "/news/1/"), ("26.12.2024", "a" * 32, "/news/2/")]
    site.page("/news/", listing(items))
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/", 'exclude = ["^(a+)+$", "^A+!"]')
    )
    started = time.monotonic()
    assert run(config) == 0
    assert time.monotonic() - started < 10  # Python's re: minutes
    titles = [e["title"] for e in published(tmp_path)["items"]]  # type: ignore[attr-defined]
    assert titles == ["a" * 32]  # "^A+!" excluded the other, case-insensitively


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"(a)\\1", "no backreferences or lookaround"),
        ("(?=x)", "no backreferences or lookaround"),
        ("(?<!x)y", "no backreferences or lookaround"),
        (r"\\bвойна\\b", "match only ASCII in RE2"),
    ],
)
def test_a_pattern_re2_cannot_run_is_a_config_error_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pattern: str, says: str
) -> None:
    config = write_config(
        tmp_path, html_source("news", "http://127.0.0.1:9/", f'include = ["{pattern}"]')
    )
    assert main(["--config", str(config), "status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "sources[0] (news).include[0]: " in err
    assert says in err


def test_filters_stay_case_insensitive_in_any_script() -> None:
    pattern = normalize.filter_pattern("анонс|straße")
    assert pattern.search("АНОНС встречи")
    assert pattern.search("STRAßE")


# --- 3. deep nesting ---------------------------------------------------------------------------


def test_a_json_feed_nested_100000_deep_is_one_line(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000
    with pytest.raises(ExtractError, match="nested too deeply"):
        jsonfeed.parse(fetched(body, "application/feed+json"))
    site.page("/feed.json", body, content_type="application/feed+json")
    config = write_config(tmp_path, feed_source("deep", site.url + "/feed.json"))
    assert run(config) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "invalid JSON: nested too deeply" in err


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("x = " + "[" * 1000 + "]" * 1000 + "\n", "invalid TOML: nested too deeply"),
        ("x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n", "invalid TOML: nested too deeply"),
        ("[" + ".".join(["a"] * 40) + "]\nb = 1\n", "nested more than 32 levels deep"),
        ("x = " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels deep"),
    ],
)
def test_a_config_nested_absurdly_deep_is_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, says: str
) -> None:
    config = tmp_path / "deep.toml"
    config.write_text(toml)
    assert main(["--config", str(config), "status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(config) in err
    assert says in err


def test_html_nested_40000_deep_is_cut_not_quadratic() -> None:
    raw = RawItem(
        title="t", link="/a", summary="<div>" * 4000 + "x", content="<div>" * 40_000 + "y"
    )
    started = time.monotonic()
    item = normalize.item(raw, source=Source(id="s", url="http://e.org/"), page_url="http://e.org/",
                          now=NOW, require_link=True)  # fmt: skip
    assert time.monotonic() - started < 2  # uncut: 4 s in nh3 for the content alone
    assert item is not None
    assert item.content is not None
    assert item.content.count("<div>") == normalize.MAX_HTML_DEPTH
    assert item.content.count("</div>") == normalize.MAX_HTML_DEPTH


# --- 4. unbounded sizes ------------------------------------------------------------------------


def limit_warnings(err: str) -> list[str]:
    return [line.partition(" WARNING ")[2] for line in err.splitlines() if "limits reached" in line]


def test_a_9_mb_title_is_cut_at_a_word_with_one_warning(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "word " * (9 * 1024 * 1024 // 5)
    rows = "".join(
        f'<div class="news-item"><div class="news-date">2{i}.12.2024</div>'
        f'<a class="news-title" href="/news/{i}/">{title}</a></div>'
        for i, title in enumerate([huge, "short", "other"])
    )
    site.page("/news/", f"<html><body>{rows}</body></html>")
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert run(config) == 0
    warnings = limit_warnings(capsys.readouterr().err)
    assert len(warnings) == 1, warnings
    assert "1 titles cut to 1000 characters" in warnings[0]
    titles = [e["title"] for e in published(tmp_path)["items"]]  # type: ignore[attr-defined]
    [cut] = [title for title in titles if title.startswith("word")]
    assert len(cut) <= normalize.MAX_TITLE
    assert cut.endswith("word…")
    for suffix in (".atom.xml", ".rss.xml", ".json"):
        assert (tmp_path / "public" / f"news{suffix}").stat().st_size < 20_000


def test_a_summary_cut_stays_valid_markup() -> None:
    summary = "<p>" + "<b>bold</b> <a href='/x'>link</a> " * 2000 + "</p>"
    raw = RawItem(title="t", link="/a", summary=summary)
    item = normalize.item(raw, source=Source(id="s", url="http://e.org/"), page_url="http://e.org/",
                          now=NOW, require_link=True)  # fmt: skip
    assert item is not None
    assert item.summary is not None
    assert len(item.summary) < 3 * normalize.MAX_SUMMARY  # sanitizing adds rel and hosts
    assert item.summary.count("<b>") < 600  # of 2,000
    assert item.summary.count("<b>") == item.summary.count("</b>")
    assert item.summary.count("<a ") == item.summary.count("</a>")
    assert item.summary.endswith("</p>")


def test_a_dense_page_gives_its_first_1000_items_and_one_warning(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [("27.12.2024", f"Item {i}", f"/news/{i}/") for i in range(5000)]
    site.page("/news/", listing(rows))
    config = write_config(tmp_path, html_source("news", site.url + "/news/", "keep_items = 100000"))
    assert run(config) == 0
    assert limit_warnings(capsys.readouterr().err) == [
        f"news: {site.url}/news/: limits reached: 4000 items beyond the first 1000 ignored"
    ]
    from feedtool.store import Store

    with Store.open(tmp_path / "state") as store:
        assert store.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1000


def test_a_feeds_own_huge_title_is_cut() -> None:
    body = f'<rss version="2.0"><channel><title>{"t " * 500_000}</title></channel></rss>'
    assert len(feed.parse(fetched(body.encode(), "application/rss+xml")).title or "") <= 1000
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "t " * 500_000, "items": []}
    parsed = jsonfeed.parse(fetched(json.dumps(doc).encode(), "application/feed+json"))
    assert len(parsed.title or "") <= 1000
    page = Page(f"<html><head><title>{'t ' * 500_000}</title></head></html>", "http://x.org/")
    assert len(page.title or "") <= 1000


def test_a_feed_with_too_many_entries_reads_the_first_1000() -> None:
    entries = "".join(
        f"<item><title>e{i}</title><link>http://example.org/{i}</link></item>" for i in range(1500)
    )
    body = f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()
    assert len(feed.parse(fetched(body, "application/rss+xml")).items) == 1000
    items = [{"id": str(i), "url": f"http://example.org/{i}"} for i in range(1500)]
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    parsed = jsonfeed.parse(fetched(json.dumps(doc).encode(), "application/feed+json"))
    assert len(parsed.items) == 1000


# --- 5. unsafe links ---------------------------------------------------------------------------


def test_unsafe_site_links_are_never_republished(site: Site, tmp_path: Path) -> None:
    rss = """<rss version="2.0"><channel><title>r</title><link>javascript:alert(1)</link>
      <item><title>a</title><link>javascript:alert(2)</link><guid>g1</guid></item></channel></rss>"""
    atom = """<feed xmlns="http://www.w3.org/2005/Atom"><title>a</title><id>urn:x</id>
      <link rel="alternate" href=" JaVaScRiPt:alert(1)"/><updated>2026-01-01T00:00:00Z</updated>
      <entry><title>e</title><id>urn:e</id><updated>2026-01-01T00:00:00Z</updated>
      <link href="&#x0A;java&#x09;script:alert(3)"/></entry></feed>"""
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1", "title": "j",
        "home_page_url": "data:text/html,<script>alert(1)</script>",
        "items": [{"id": "1", "title": "x", "url": "data:text/html,x"}],
    }  # fmt: skip
    site.page("/rss", rss, content_type="application/rss+xml")
    site.page("/atom", atom, content_type="application/atom+xml")
    site.page("/json", json.dumps(json_feed), content_type="application/feed+json")
    config = write_config(
        tmp_path,
        feed_source("rss", site.url + "/rss")
        + feed_source("atom", site.url + "/atom")
        + feed_source("json", site.url + "/json"),
    )
    assert run(config) == 0
    for name in ("rss", "atom", "json"):
        for suffix in (".atom.xml", ".rss.xml", ".json"):
            text = (tmp_path / "public" / f"{name}{suffix}").read_text().lower()
            assert "javascript" not in text
            assert "data:" not in text
        assert published(tmp_path, name)["home_page_url"] == f"{site.url}/{name}"
        parse_clean((tmp_path / "public" / f"{name}.atom.xml").read_bytes())


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:x", "\x01javascript:x",
        "data:text/html,x", "file:///etc/passwd", "http://", "https:///path", "//host/x",
        "http://x.org:99999/", "vbscript:x", "",
    ],
)  # fmt: skip
def test_safe_url_refuses_all_but_http_and_https(url: str) -> None:
    assert safe_url(url) is None


def test_safe_url_keeps_web_links_and_drops_controls_and_padding() -> None:
    assert safe_url(" https://example.org/a b?q=1#f \n") == "https://example.org/a b?q=1#f"
    assert safe_url("HTTP://Example.org/\x1b[31m") == "HTTP://Example.org/[31m"


# --- 6. terminal escapes -----------------------------------------------------------------------


def answering(response: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """Answers every request with `response`, bytes as given (a reason phrase with ESC...)."""

    def answer(conn: socket.socket, done: threading.Event) -> None:
        conn.sendall(response)

    return answer


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m"


def test_escape_sequences_from_a_server_are_printed_escaped(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    response = (
        f"HTTP/1.1 500 Bad{ESCAPES}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    with raw_server(answering(response)) as url:
        config = write_config(tmp_path, html_source("news", url))
        assert run(config) == 1
        assert run(config, "-v") == 1
        assert main(["--config", str(config), "status"]) == 0
    out, err = capfd.readouterr()
    for stream in (out, err):
        assert "\x1b" not in stream
        assert "\x07" not in stream
        assert "\x9b" not in stream
    assert "\\x1b]0;owned\\x07" in err
    assert "\\x1b]0;owned\\x07" in out


def test_alerts_carry_no_escape_sequences() -> None:
    source = Source(id="news", url="http://example.org/")
    [queued] = plan_alert(
        source, "news", Alert.BROKEN, f"HTTP 500 {ESCAPES}", NOW, [NotifyTarget(url="json://x")]
    )
    assert "\x1b" not in queued.payload["message"]
    assert "\\x1b" in queued.payload["message"]


def test_printable_escapes_controls_and_bidi_overrides_but_keeps_tabs() -> None:
    assert printable("a\tb\x1b[1m\x7f\x85\u202ec\nd") == "a\tb\\x1b[1m\\x7f\\x85\\u202ec\\x0ad"
    assert printable("a\nb", keep="\t\n") == "a\nb"


# --- 7. commands that send nothing need no secrets --------------------------------------------


def test_check_and_snapshot_start_without_the_notify_secrets(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDTOOL_TEST_UNSET_TOKEN", raising=False)
    site.page("/news/", listing(news_items(2)))
    config = write_config(
        tmp_path,
        html_source("news", site.url + "/news/")
        + '[[notify]]\nurl = "ntfys://${FEEDTOOL_TEST_UNSET_TOKEN}@ntfy.sh/news"\n',
    )
    assert main(["--config", str(config), "snapshot", "news"]) == 0
    assert main(["--config", str(config), "check"]) == 0
    assert "not set" not in capsys.readouterr().err
    assert run(config) == 2  # sending needs it


# --- entities, redirect loops, Content-Length lies ---------------------------------------------


def test_xml_entities_are_never_expanded_from_files_or_exponentially() -> None:
    laughs = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )  # 10^9 characters if expanded
    body = f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}
      <!ENTITY xxe SYSTEM "file:///etc/passwd">]>
      <rss version="2.0"><channel><title>t</title>
      <item><title>a &l9;</title><link>http://e.org/1</link></item>
      <item><title>b &xxe;</title><link>http://e.org/2</link></item></channel></rss>"""
    started = time.monotonic()
    try:
        items = feed.parse(fetched(body.encode(), "application/rss+xml")).items
    except ExtractError:
        items = ()
    assert time.monotonic() - started < 5
    for item in items:
        assert "root:" not in (item.title or "")
        assert len(item.title or "") < 1000


def test_a_redirect_loop_fails_the_source_with_one_line(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/a", b"", status=302, headers={"Location": "/b"})
    site.page("/b", b"", status=302, headers={"Location": "/a"})
    config = write_config(tmp_path, html_source("news", site.url + "/a"))
    assert run(config) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert len(site.requests) <= 31  # bounded: 30 redirects at most


@pytest.mark.parametrize(("claimed", "sent"), [(100_000, 10), (5, 5_000)])
def test_a_content_length_lie_is_one_line_or_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], claimed: int, sent: int
) -> None:
    response = (
        (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {claimed}\r\n"
            f"Connection: close\r\n\r\n"
        ).encode()
        + b"<p>"
        + b"x" * sent
    )
    with raw_server(answering(response)) as url:
        config = write_config(tmp_path, html_source("news", url), settings="timeout = 1")
        started = time.monotonic()
        assert run(config) == 1  # a short body is an error; a long one is cut: no items
        assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


def test_a_page_nested_beyond_the_parsers_limit_is_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """libxml2 stops reading 256 levels down: what it leaves out is said, not silently lost."""
    deep = "<b>" * 2000 + "x" + "</b>" * 2000
    html = "".join(f'<div><a href="/n/{i}/">Item {i}</a><p>{deep}</p></div>' for i in range(5))
    with caplog.at_level("WARNING"):
        Page(f"<html><body>{html}</body></html>", "https://example.org/news/")
        Page("<html><body><p>shallow</p></body></html>", "https://example.org/ok/")
    assert [r.getMessage() for r in caplog.records] == [
        "https://example.org/news/: nested too deep to read whole; what lies deeper is left out"
    ]
