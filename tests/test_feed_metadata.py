"""Feed metadata readers use: language, the site as author, icon and logo, and WebSub."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from lxml import etree

from feedtool import config
from feedtool.cli import main
from feedtool.errors import ConfigError
from feedtool.extract.html import Page
from feedtool.extract.meta import language_tag
from feedtool.model import SiteMeta
from feedtool.publish import FeedInfo, render
from feedtool.runner import Runner
from tests.conftest import LocalServer, Site, html_source, listing, news_items, write_config
from tests.feedcheck import ATOM_NS, assert_valid_atom, parse_clean

SUFFIXES = (".atom.xml", ".rss.xml", ".json")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RSS_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
FEEDS = "http://feeds.example.test/"  # conftest.write_config's base_url
HEAD = """<meta property="og:site_name" content="ОДКБ">
<meta property="og:image" content="/img/share.png">
<link rel="stylesheet" href="/style.css">
<link rel="shortcut icon" href="/favicon.ico">
</head>"""


def page_with(head: str = HEAD, html_tag: str = '<html lang="ru_RU">', count: int = 3) -> str:
    return listing(news_items(count)).replace("<html>", html_tag).replace("</head>", head)


def feeds(tmp_path: Path, source_id: str) -> dict[str, bytes]:
    return {s: (tmp_path / "public" / f"{source_id}{s}").read_bytes() for s in SUFFIXES}


def run(path: Path) -> int:
    return main(["--config", str(path), "run", "--force"])


def head_of(docs: dict[str, bytes]) -> dict[str, tuple[object, ...]]:
    """What each format says of language, author, icon, logo and hub, after checking that
    each is valid."""
    assert_valid_atom(docs[".atom.xml"])
    parse_clean(docs[".atom.xml"])
    parse_clean(docs[".rss.xml"])
    atom = etree.fromstring(docs[".atom.xml"])
    channel = etree.fromstring(docs[".rss.xml"]).find("channel")
    assert channel is not None
    assert channel.find("managingEditor") is None  # RSS authors are email addresses
    image = channel.find("image")
    if image is not None:  # RSS requires all three, the title and link the channel's own
        assert image.findtext("title") == channel.findtext("title")
        assert image.findtext("link") == channel.findtext("link")
    jsonfeed = json.loads(docs[".json"])
    return {
        "atom": (
            atom.get(XML_LANG),
            atom.findtext(f"{ATOM_NS}author/{ATOM_NS}name"),
            atom.findtext(f"{ATOM_NS}icon"),
            atom.findtext(f"{ATOM_NS}logo"),
            [link.get("href") for link in atom.findall(f"{ATOM_NS}link[@rel='hub']")],
        ),
        "rss": (
            channel.findtext("language"),
            channel.findtext("image/url"),
            [link.get("href") for link in channel.findall(f"{RSS_ATOM_LINK}[@rel='hub']")],
        ),
        "json": (
            jsonfeed.get("language"),
            jsonfeed["authors"],
            jsonfeed.get("favicon"),
            jsonfeed.get("icon"),
            jsonfeed.get("hubs"),
        ),
    }


# --- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("ru", "ru"),
        ("ru_RU", "ru-RU"),
        ("EN-us", "en-US"),
        (" ru, en ", "ru"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("en-GB-oxendict", "en-GB"),
        ("und", None),
        ("", None),
        ("x-default", None),
        ("русский", None),
        ("en US", None),
        (None, None),
        (42, None),
    ],
)
def test_language_tags_are_normalised_bcp47_or_nothing(value: object, tag: str | None) -> None:
    assert language_tag(value) == tag


def test_a_page_says_its_language_icon_logo_and_name() -> None:
    page = Page(page_with(), "https://example.org/news/")
    assert page.meta == SiteMeta(
        language="ru-RU",
        icon="https://example.org/favicon.ico",
        logo="https://example.org/img/share.png",
        site_name="ОДКБ",
    )


@pytest.mark.parametrize(
    ("html_tag", "head", "language"),
    [
        ("<html>", '<meta http-equiv="Content-Language" content="kk"></head>', "kk"),
        ("<html>", '<meta property="og:locale" content="en_GB"></head>', "en-GB"),
        ('<html lang="">', '<meta property="og:locale" content="en_GB"></head>', "en-GB"),
        ("<html>", "</head>", None),
    ],
)
def test_a_page_without_html_lang_falls_back(
    html_tag: str, head: str, language: str | None
) -> None:
    assert Page(page_with(head, html_tag), "https://example.org/").meta.language == language


def test_icons_resolve_against_base_href_and_apple_touch_icon_is_the_fallback() -> None:
    head = '<base href="https://cdn.example.net/s/"><link rel="apple-touch-icon" href="t.png">'
    meta = Page(page_with(head + "</head>"), "https://example.org/").meta
    assert meta.icon == "https://cdn.example.net/s/t.png"


def test_unsafe_icon_and_logo_urls_are_dropped() -> None:
    head = """<meta property="og:image" content="data:image/png;base64,AAAA">
    <link rel="icon" href="java&#9;script:alert(1)">
    <link rel="icon" href="file:///etc/passwd"></head>"""
    meta = Page(page_with(head), "https://example.org/").meta
    assert (meta.icon, meta.logo) == (None, None)
    feed = FeedInfo(
        id="x",
        title="X",
        site_url="https://example.org/",
        icon="javascript:alert(1)",
        logo="data:,x",
        hub="file:///hub",
    )
    assert head_of(render(feed, [], FEEDS)) == head_of(
        render(FeedInfo(id="x", title="X", site_url="https://example.org/"), [], FEEDS)
    )


def test_the_author_is_the_site_never_the_feed_title() -> None:
    def author(site_name: str | None) -> object:
        feed = FeedInfo(
            id="x", title="CSTO news", site_url="https://en.odkb-csto.org/", site_name=site_name
        )
        return head_of(render(feed, [], FEEDS))["atom"][1]

    assert author("ОДКБ") == "ОДКБ"
    assert author("CSTO News") == "en.odkb-csto.org"  # the title again says nothing
    assert author(None) == "en.odkb-csto.org"


def test_the_hub_is_linked_from_all_three_formats() -> None:
    feed = FeedInfo(id="x", title="X", site_url="https://example.org/", hub="https://hub.test/")
    head = head_of(render(feed, [], FEEDS))
    assert head["atom"][4] == ["https://hub.test/"]
    assert head["rss"][2] == ["https://hub.test/"]
    assert head["json"][4] == [{"type": "WebSub", "url": "https://hub.test/"}]
    rss = etree.fromstring(render(feed, [], FEEDS)[".rss.xml"]).find("channel")
    assert rss is not None
    assert rss.findtext("link") == "https://example.org/"  # the site, not the hub


# --- end to end: a page, a feed, and a 304 ------------------------------------------------------


def test_a_pages_metadata_reaches_every_format_and_survives_a_304(
    site: Site, tmp_path: Path
) -> None:
    site.page("/news/", page_with())
    path = write_config(tmp_path, html_source("news", site.url + "/news/", 'title = "CSTO news"'))
    assert run(path) == 0
    docs = feeds(tmp_path, "news")
    icon, logo = site.url + "/favicon.ico", site.url + "/img/share.png"
    assert head_of(docs) == {
        "atom": ("ru-RU", "ОДКБ", icon, logo, []),
        "rss": ("ru-RU", logo, []),
        "json": ("ru-RU", [{"name": "ОДКБ"}], icon, logo, None),
    }

    for file in (tmp_path / "public").iterdir():
        file.unlink()
    assert run(path) == 0  # a 304, the files written again from state alone
    assert site.requests[-1][1].get("If-None-Match")
    assert feeds(tmp_path, "news") == docs


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(
            """<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>
            <link>https://site.test/</link><description>d</description>
            <language>RU-ru</language>
            <image><url>/logo.png</url><title>Feed</title><link>https://site.test/</link></image>
            <item><title>One</title><link>https://site.test/1</link></item></channel></rss>""",
            "application/rss+xml",
            ("ru-RU", None, "/logo.png"),
            id="rss",
        ),
        pytest.param(
            """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en_us">
            <title>Feed</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
            <link href="https://site.test/"/><icon>/favicon.ico</icon><logo>/logo.png</logo>
            <entry><title>One</title><id>urn:1</id><updated>2024-01-01T00:00:00Z</updated>
            <link href="https://site.test/1"/></entry></feed>""",
            "application/atom+xml",
            ("en-US", "/favicon.ico", "/logo.png"),
            id="atom",
        ),
        pytest.param(
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": "Feed",
                    "home_page_url": "https://site.test/",
                    "language": "de_DE",
                    "icon": "/logo.png",
                    "favicon": "javascript:alert(1)",
                    "items": [{"id": "1", "url": "https://site.test/1", "title": "One"}],
                }
            ),
            "application/feed+json",
            ("de-DE", None, "/logo.png"),
            id="jsonfeed",
        ),
    ],
)
def test_a_feeds_metadata_reaches_every_format_and_survives_a_304(
    site: Site, tmp_path: Path, body: str, content_type: str, expected: tuple[str, ...]
) -> None:
    url = site.page("/feed", body, content_type=content_type)
    path = write_config(tmp_path, f'[[sources]]\nid = "f"\nurl = "{url}"\ntype = "feed"\n')
    assert run(path) == 0
    docs = feeds(tmp_path, "f")
    language = expected[0]
    icon, logo = (site.url + p if p else None for p in expected[1:])
    assert head_of(docs) == {
        "atom": (language, "site.test", icon, logo, []),
        "rss": (language, logo or icon, []),
        "json": (language, [{"name": "site.test"}], icon, logo, None),
    }

    for file in (tmp_path / "public").iterdir():
        file.unlink()
    assert run(path) == 0  # a 304
    assert feeds(tmp_path, "f") == docs


# --- WebSub pings --------------------------------------------------------------------------------


class Hub(LocalServer):
    """A WebSub hub on 127.0.0.1 that records each publish ping and answers `status`."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.status = 204
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
                with hub._lock:
                    hub.pings.append(form)
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)
        self.url += "/hub"

    def topics(self) -> list[str]:
        with self._lock:
            assert all(ping["hub.mode"] == ["publish"] for ping in self.pings)
            return [topic for ping in self.pings for topic in ping["hub.url"]]


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    yield server
    server.close()


def hub_config(tmp_path: Path, site: Site, hub_url: str, sources: tuple[str, ...]) -> Path:
    for source_id in sources:
        site.page(f"/{source_id}/", page_with())
    body = "".join(html_source(s, f"{site.url}/{s}/") for s in sources)
    return write_config(tmp_path, body, settings=f'hub = "{hub_url}"')


def topics(*source_ids: str) -> list[str]:
    return [f"{FEEDS}{source_id}{suffix}" for source_id in source_ids for suffix in SUFFIXES]


def test_a_run_pings_the_hub_once_per_changed_feed(site: Site, hub: Hub, tmp_path: Path) -> None:
    path = hub_config(tmp_path, site, hub.url, ("a", "b"))
    assert run(path) == 0
    assert sorted(hub.topics()) == sorted(topics("a", "b"))
    for docs in (feeds(tmp_path, "a"), feeds(tmp_path, "b")):
        head = head_of(docs)
        assert head["atom"][4] == head["rss"][2] == [hub.url]

    assert run(path) == 0  # nothing changed: no ping
    assert len(hub.topics()) == 6

    site.page("/b/", page_with(count=4))
    assert run(path) == 0
    assert sorted(hub.topics()[6:]) == sorted(topics("b"))


def test_the_daemon_path_pings_as_soon_as_a_feed_is_written(
    site: Site, hub: Hub, tmp_path: Path
) -> None:
    cfg = config.load(hub_config(tmp_path, site, hub.url, ("a",)))
    with Runner(cfg) as runner:  # the daemon submits each due source to a Runner
        runner.submit(cfg.sources[0]).result()
        assert hub.topics() == topics("a")
        runner.submit(cfg.sources[0]).result()  # unchanged
    assert hub.topics() == topics("a")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("failure", ["HTTP 500", "connection refused", "refused address"])
def test_a_failing_hub_is_one_warning_and_exit_0(
    site: Site, hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str], failure: str
) -> None:
    """A hub answering 500, a closed port, or one the address policy refuses (link-local)."""
    hub.status = 500
    url = {
        "HTTP 500": hub.url,
        "connection refused": f"http://127.0.0.1:{closed_port()}/hub",
        "refused address": "http://169.254.169.254/hub",
    }[failure]
    assert run(hub_config(tmp_path, site, url, ("a", "b"))) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert f"websub hub {url}: {failure}" in warnings[0]
    assert "6 changed feed(s) not announced" in warnings[0]
    assert len(feeds(tmp_path, "a")) == 3


@pytest.mark.parametrize("value", ['"ftp://hub.test/"', '"hub.test"', "1"])
def test_a_hub_must_be_an_http_url(tmp_path: Path, value: str) -> None:
    source = html_source("a", "https://example.org/")
    path = write_config(tmp_path, source, settings=f"hub = {value}")
    with pytest.raises(ConfigError, match=r"settings\.hub"):
        config.load(path)
