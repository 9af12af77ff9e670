"""Fetching against a real local web site, and decoding what comes back."""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from feedtool import __version__
from feedtool.errors import ExtractError, FetchError
from feedtool.extract.html import Page
from feedtool.fetch import HttpFetcher
from feedtool.fetch.cookies import MAX_COOKIES
from feedtool.model import Fetched, NotModified, Validators
from feedtool.textcodec import decode
from tests.conftest import LocalServer, Site

RUSSIAN_TITLE = "Новости Организации Договора о коллективной безопасности"


def fetcher(retries: int = 0, max_bytes: int = 10 * 1024 * 1024) -> HttpFetcher:
    return HttpFetcher(retries=retries, backoff=0.01, max_bytes=max_bytes)


def fetched(result: Fetched | NotModified) -> Fetched:
    assert isinstance(result, Fetched), result
    return result


def russian_page(meta: str = "") -> bytes:
    """A realistic windows-1251 listing page; `meta` goes into <head>."""
    rows = "\n".join(
        f'<li><span class="date">{day}.12.2024</span> <a href="/ru/news/{day}/">{headline}</a></li>'
        for day, headline in [
            (23, "Совет министров иностранных дел утвердил план консультаций на 2025 год"),
            (20, "Состоялось заседание Комитета секретарей советов безопасности"),
            (18, "Завершился заключительный этап совместного учения «Взаимодействие»"),
            (11, "Генеральный секретарь дал интервью информационному агентству"),
        ]
    )
    return (
        f"<!DOCTYPE html>\n<html><head>{meta}<title>{RUSSIAN_TITLE}</title></head>\n"
        f"<body><h1>Главные новости</h1><ul class='news'>{rows}</ul>"
        f"<footer>Секретариат. Все права защищены.</footer></body></html>"
    ).encode("windows-1251")


def png_bytes() -> bytes:
    """A valid 1x1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- requests ----------------------------------------------------------------------------------


def test_user_agent_names_feedtool_its_version_and_a_url(site: Site) -> None:
    url = site.page("/news/", "<html><title>x</title></html>")
    with fetcher() as f:
        f.get(url)
    user_agent = site.hits("/news/")[0]["User-Agent"]
    assert user_agent.startswith(f"feedtool/{__version__} (+https://")
    assert user_agent.endswith(")")


def test_headers_and_a_cyrillic_url_go_out_as_requests_sent_them(site: Site) -> None:
    """feedtool's HTTP client was requests: servers see the same request line and headers."""
    url = site.url + "/новости/?q=ё ж"
    prepared = requests.Request("GET", url).prepare()
    assert prepared.path_url == "/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/?q=%D1%91%20%D0%B6"
    site.page(prepared.path_url, "<html>news</html>")
    with fetcher() as f:
        result = fetched(f.get(url))
    assert result.url == prepared.url
    sent = site.hits(prepared.path_url)[0]
    assert sent["Accept-Encoding"] == requests.utils.DEFAULT_ACCEPT_ENCODING
    assert sent["Connection"] == "keep-alive"


def test_gzip_body_comes_out_decoded(site: Site) -> None:
    text = "<html><body>" + "Compressible news text. " * 500 + "</body></html>"
    url = site.page("/news/", text, gzip=True)
    with fetcher() as f:
        result = fetched(f.get(url))
    assert result.body == text.encode()
    assert "gzip" in site.hits("/news/")[0]["Accept-Encoding"]


def test_content_type_and_charset_are_parsed(site: Site) -> None:
    url = site.page("/feed", "<rss/>", content_type='Application/RSS+XML; Charset="Windows-1251"')
    with fetcher() as f:
        result = fetched(f.get(url))
    assert result.content_type == "application/rss+xml"
    assert result.charset == "Windows-1251"
    assert result.status == 200


def test_missing_charset_is_none(site: Site) -> None:
    url = site.page("/news/", "<html></html>", content_type="text/html")
    with fetcher() as f:
        result = fetched(f.get(url))
    assert (result.content_type, result.charset) == ("text/html", None)


# --- size cap ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "undeclared"])
def test_body_over_max_bytes_aborts(site: Site, content_length: bool) -> None:
    url = site.page("/big", b"x" * 5000, content_length=content_length)
    with fetcher(max_bytes=1000) as f, pytest.raises(FetchError, match="response larger than"):
        f.get(url)
    assert len(site.hits("/big")) == 1  # too big is final, not retried


def test_gzip_body_is_capped_by_its_decoded_size(site: Site) -> None:
    bomb = b"0" * 200_000  # compresses to a few hundred bytes
    url = site.page("/bomb", bomb, gzip=True)
    with fetcher(max_bytes=100_000) as f, pytest.raises(FetchError, match="response larger than"):
        f.get(url)


def test_body_exactly_at_max_bytes_is_accepted(site: Site) -> None:
    url = site.page("/exact", b"y" * 1000, content_length=False)
    with fetcher(max_bytes=1000) as f:
        assert fetched(f.get(url)).body == b"y" * 1000


# --- errors and retries ------------------------------------------------------------------------


def test_5xx_is_retried_until_it_succeeds(site: Site) -> None:
    url = site.page("/flaky", "<html>finally</html>", fail_first=2)
    with fetcher(retries=2) as f:
        result = fetched(f.get(url))
    assert result.body == b"<html>finally</html>"
    assert len(site.hits("/flaky")) == 3


def test_5xx_fails_once_the_retries_are_spent(site: Site) -> None:
    url = site.page("/down", "<html>maintenance</html>", status=503)
    with fetcher(retries=2) as f, pytest.raises(FetchError, match="HTTP 503") as error:
        f.get(url)
    assert str(error.value) == "HTTP 503 Service Unavailable"
    assert len(site.hits("/down")) == 3


def test_404_is_not_retried(site: Site) -> None:
    with fetcher(retries=3) as f, pytest.raises(FetchError, match="HTTP 404"):
        f.get(site.url + "/missing/")
    assert len(site.hits("/missing/")) == 1


def test_connection_refused_fails_fast_with_a_plain_reason() -> None:
    start = time.monotonic()
    with fetcher(retries=1) as f, pytest.raises(FetchError) as error:
        f.get(f"http://127.0.0.1:{closed_port()}/news/")
    assert str(error.value) == "connection refused"
    assert time.monotonic() - start < 3


def test_redirects_are_followed_and_the_final_url_is_reported(site: Site) -> None:
    site.page("/old/", b"", status=301, headers={"Location": "/moved/"}, etag=False)
    site.page("/moved/", b"", status=302, headers={"Location": "/news/"}, etag=False)
    final = site.page("/news/", "<html>here</html>")
    with fetcher() as f:
        result = fetched(f.get(site.url + "/old/"))
    assert result.url == final
    assert result.body == b"<html>here</html>"
    assert [len(site.hits(p)) for p in ("/old/", "/moved/", "/news/")] == [1, 1, 1]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("file:///etc/passwd", "redirect to a file: URL refused"),
        ("javascript:alert(1)", "redirect to a javascript: URL refused"),
        ("http://[broken/", "redirect to an invalid URL 'http://[broken/'"),
        ("http://x.test:99999/", "redirect to an invalid URL 'http://x.test:99999/'"),
    ],
)
def test_a_redirect_to_a_non_http_or_broken_url_names_the_target(
    site: Site, location: str, message: str
) -> None:
    url = site.page("/go", b"", status=302, headers={"Location": location}, etag=False)
    with fetcher(retries=2) as f:
        with pytest.raises(FetchError) as error:
            f.get(url)
        assert str(error.value) == message
        assert len(site.hits("/go")) == 1  # never retried
        assert fetched(f.get(site.page("/news/", "<html>ok</html>"))).body == b"<html>ok</html>"


def test_a_redirect_to_a_location_in_utf8_is_followed(site: Site) -> None:
    """Raw UTF-8 in Location (arrives as Latin-1): read as UTF-8, sent percent-encoded."""
    path = requests.Request("GET", site.url + "/новости/").prepare().path_url
    final = site.page(path, "<html>here</html>")
    location = "/новости/".encode().decode("latin-1")  # the handler sends it as raw bytes
    url = site.page("/old", b"", status=301, headers={"Location": location}, etag=False)
    with fetcher() as f:
        assert fetched(f.get(url)).url == final


def test_a_redirect_loop_ends_after_30_redirects(site: Site) -> None:
    site.page("/loop", b"", status=302, headers={"Location": "/loop"}, etag=False)
    with fetcher(retries=2) as f, pytest.raises(FetchError) as error:
        f.get(site.url + "/loop")
    assert str(error.value) == "too many redirects"
    assert len(site.hits("/loop")) == 31  # as requests counted; never retried


def test_a_urls_user_info_is_basic_auth_for_its_own_host_only(site: Site) -> None:
    """As requests did: kept across a redirect on the same host, dropped for another host."""
    site.page("/a", b"", status=302, headers={"Location": "/b"}, etag=False)
    other = f"http://localhost:{site.port}/c"  # the same server under another name
    site.page("/b", b"", status=302, headers={"Location": other}, etag=False)
    site.page("/c", "<html>public</html>")
    with fetcher() as f:
        result = fetched(f.get(f"http://user:p%40ss@127.0.0.1:{site.port}/a"))
    assert (result.url, result.body) == (other, b"<html>public</html>")
    basic = "Basic " + base64.b64encode(b"user:p@ss").decode()
    sent = [site.hits(path)[0].get("Authorization") for path in ("/a", "/b", "/c")]
    assert sent == [basic, basic, None]


def test_a_host_name_with_an_overlong_label_is_an_invalid_url_not_a_crash() -> None:
    host = "a" * 64 + ".test"
    with fetcher(retries=2) as f, pytest.raises(FetchError) as error:
        f.get(f"http://{host}/")
    assert str(error.value) == f"invalid host name {host!r}"


# --- conditional GET ---------------------------------------------------------------------------


def test_validators_are_returned_and_echoed_and_304_is_not_modified(site: Site) -> None:
    last_modified = "Mon, 23 Dec 2024 10:00:00 GMT"
    url = site.page("/news/", "<html>v1</html>", headers={"Last-Modified": last_modified})
    with fetcher() as f:
        first = fetched(f.get(url))
        assert first.validators.last_modified == last_modified
        assert first.validators.etag is not None
        assert first.validators.etag.startswith('"')

        second = f.get(url, first.validators)

    assert second == NotModified(url)
    echoed = site.hits("/news/")[1]
    assert echoed["If-None-Match"] == first.validators.etag
    assert echoed["If-Modified-Since"] == last_modified
    assert "If-None-Match" not in site.hits("/news/")[0]


def test_changed_page_is_fetched_again_despite_old_validators(site: Site) -> None:
    url = site.page("/news/", "<html>v2</html>")
    with fetcher() as f:
        result = fetched(f.get(url, Validators(etag='"stale"')))
    assert result.body == b"<html>v2</html>"


# --- cookies: kept for the fetcher's life, as a requests session kept them ---------------------


class CookieSite(LocalServer):
    """Records the Cookie header of every request; answers `answers[path]` (a status and its
    Set-Cookie headers), "/set/NAME=VALUE" with that cookie, and "/check" as a cookie check:
    a redirect to itself with Set-Cookie ok=1 unless the request carries the cookie."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, list[str]]] = {}
        self.seen: list[tuple[str, str | None]] = []  # (host:port path, Cookie header)
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real sites

            def answer(self) -> None:
                cookie = self.headers.get("Cookie")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))  # a POST's form
                with site._lock:
                    site.seen.append((self.headers["Host"] + self.path, cookie))
                    status, set_cookies = site.answers.get(self.path, (200, []))
                headers = [("Set-Cookie", value) for value in set_cookies]
                if self.path == "/check" and "ok=1" not in cookie_set(cookie):
                    status = 302
                    headers = [("Location", "/check"), ("Set-Cookie", "ok=1; Path=/")]
                elif self.path.startswith("/set/"):
                    headers = [("Set-Cookie", self.path.removeprefix("/set/") + "; Path=/")]
                body = b"" if status in (204, 304) else b"<html>welcome</html>"
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)
        self.other_url = f"http://localhost:{self.port}"  # the same server: another host name

    def cookies(self, url: str) -> list[str | None]:
        """The Cookie headers sent to `url` (host and path), in order."""
        key = url.removeprefix("http://")
        with self._lock:
            return [cookie for where, cookie in self.seen if where == key]


@pytest.fixture
def cookie_site() -> Iterator[CookieSite]:
    server = CookieSite()
    yield server
    server.close()


def cookie_set(header: str | None) -> set[str]:
    return set(header.split("; ")) if header else set()


def test_a_cookie_check_redirecting_to_itself_is_passed(cookie_site: CookieSite) -> None:
    """It used to end in "too many redirects" (requests' session had kept the cookie)."""
    url = cookie_site.url + "/check"
    with fetcher() as f:
        result = fetched(f.get(url))
        assert (result.url, result.body) == (url, b"<html>welcome</html>")
        assert cookie_site.cookies(url) == [None, "ok=1"]
        fetched(f.get(url))  # later gets of the run pass at once
    assert cookie_site.cookies(url) == [None, "ok=1", "ok=1"]


def test_a_cookie_goes_back_to_its_host_by_the_same_fetcher_only(
    cookie_site: CookieSite,
) -> None:
    """Cookies ignore ports: the two hosts are one server under two names."""
    here, there = cookie_site.url, cookie_site.other_url
    with fetcher() as f:
        f.get(here + "/set/sid=a1")
        f.get(there + "/set/lid=b2")
        f.get(here + "/news/")
        f.get(there + "/news/")
    with fetcher() as f:
        f.get(here + "/news/")
    assert cookie_site.cookies(here + "/set/sid=a1") == [None]
    assert cookie_site.cookies(there + "/set/lid=b2") == [None]  # sid is 127.0.0.1's
    assert cookie_site.cookies(here + "/news/") == ["sid=a1", None]  # a new fetcher: none
    assert cookie_site.cookies(there + "/news/") == ["lid=b2"]


def test_cookies_from_redirect_hops_304s_and_error_pages_are_kept(
    cookie_site: CookieSite,
) -> None:
    cookie_site.answers = {
        "/same": (304, ["nm=1"]),
        "/gone": (404, ["err=1"]),
        "/down": (503, ["busy=1"]),
    }
    url = cookie_site.url
    with fetcher(retries=1) as f:
        f.get(url + "/set/first=1")
        assert f.get(url + "/same", Validators(etag='"x"')) == NotModified(url + "/same")
        with pytest.raises(FetchError, match="HTTP 404"):
            f.get(url + "/gone")
        with pytest.raises(FetchError, match="HTTP 503"):
            f.get(url + "/down")  # and its retry sends what the first answer set
        fetched(f.get(url + "/check"))  # a hop's cookie is sent on the next hop
        f.get(url + "/news/")
    assert [cookie_set(c) for c in cookie_site.cookies(url + "/down")] == [
        {"first=1", "nm=1", "err=1"},
        {"first=1", "nm=1", "err=1", "busy=1"},
    ]
    assert cookie_set(cookie_site.cookies(url + "/news/")[0]) == {
        "first=1",
        "nm=1",
        "err=1",
        "busy=1",
        "ok=1",
    }


def test_cookie_path_secure_and_expiry_rules_hold(cookie_site: CookieSite) -> None:
    url = cookie_site.url
    cookie_site.answers["/a/login"] = (
        200,
        ["p=1; Path=/a", "s=1; Secure", "gone=1; Max-Age=0", "keep=1; Path=/"],
    )
    expired = "keep=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    cookie_site.answers["/a/logout"] = (200, [expired])
    with fetcher() as f:
        f.get(url + "/a/login")
        f.get(url + "/a/news")
        f.get(url + "/b/news")
        f.get(url + "/a/logout")
        f.get(url + "/b/news")
    assert cookie_set(cookie_site.cookies(url + "/a/news")[0]) == {"p=1", "keep=1"}
    assert cookie_site.cookies(url + "/b/news") == ["keep=1", None]


def test_a_site_minting_cookies_on_every_answer_cannot_grow_the_jar_without_end(
    cookie_site: CookieSite,
) -> None:
    """A daemon's fetcher lives for weeks: past MAX_COOKIES the jar starts over."""
    url = cookie_site.url + "/mint"
    with fetcher() as f:
        for answer in range(40):
            cookie_site.answers["/mint"] = (200, [f"c{answer}x{i}=1" for i in range(90)])
            f.get(url)
    held = [len(cookie_set(cookie)) for cookie in cookie_site.cookies(url)]
    assert max(held) <= MAX_COOKIES
    assert held[:3] == [0, 90, 180]
    assert held.index(0, 1) == MAX_COOKIES // 90 + 1  # emptied past the limit, then refilled


def test_post_form_sends_and_keeps_cookies(cookie_site: CookieSite) -> None:
    url = cookie_site.url
    cookie_site.answers["/hub"] = (202, ["hub=1"])
    with fetcher() as f:
        f.get(url + "/set/sid=a1")
        assert f.post_form(url + "/hub", {"hub.mode": "publish"}) == 202
        f.get(url + "/news/")
    assert cookie_site.cookies(url + "/hub") == ["sid=a1"]
    assert cookie_set(cookie_site.cookies(url + "/news/")[0]) == {"sid=a1", "hub=1"}


def test_threads_sharing_a_fetcher_each_get_their_own_cookies_back(
    cookie_site: CookieSite,
) -> None:
    url = cookie_site.url
    with HttpFetcher(retries=0, workers=8, host_connections=8) as f:

        def session(thread: int) -> None:
            for n in range(15):
                f.get(f"{url}/set/t{thread}={n}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(session, range(8)))
    for thread in range(8):
        sent = [
            {c for c in cookie_set(cookie) if c.startswith(f"t{thread}=")}
            for where, cookie in cookie_site.seen
            if f"/set/t{thread}=" in where
        ]
        assert sent == [set()] + [{f"t{thread}={n}"} for n in range(14)]


NO_COOKIES_PROBE = """
import sys
from feedtool.fetch import HttpFetcher
from feedtool.model import NotModified
with HttpFetcher(retries=0) as f:
    first = f.get(sys.argv[1])
    assert isinstance(f.get(sys.argv[1], first.validators), NotModified)
    print("http.cookiejar" in sys.modules, "urllib.request" in sys.modules)
    f.get(sys.argv[2])
    print("http.cookiejar" in sys.modules)
"""


def test_no_cookie_no_cookiejar_import(site: Site, cookie_site: CookieSite) -> None:
    """A run no site sets a cookie in never imports http.cookiejar (nor urllib.request)."""
    url = site.page("/news/", "<html>news</html>")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    run = subprocess.run(
        [sys.executable, "-c", NO_COOKIES_PROBE, url, cookie_site.url + "/set/sid=1"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert run.stdout.split() == ["False", "False", "True"]


# --- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "content_type"),
    [
        ("", "text/html"),
        ('<meta charset="windows-1251">', "text/html"),
        ("", "text/html; charset=utf-8"),
    ],
    ids=["no-charset-anywhere", "meta-only", "wrong-header-utf8"],
)
def test_windows_1251_page_decodes_right(site: Site, meta: str, content_type: str) -> None:
    url = site.page("/ru/news/", russian_page(meta), content_type=content_type)
    with fetcher() as f:
        result = fetched(f.get(url))

    page = Page.parse(result.body, result.charset, result.content_type, result.url)

    assert page.title == RUSSIAN_TITLE
    assert "Завершился заключительный этап" in decode(result.body, result.charset)


def test_utf8_page_with_right_header_keeps_its_text(site: Site) -> None:
    body = f"<html><head><title>{RUSSIAN_TITLE}</title></head><body>Ёлка</body></html>"
    url = site.page("/ru/", body)
    with fetcher() as f:
        result = fetched(f.get(url))
    assert result.charset == "utf-8"
    assert Page.parse(result.body, result.charset, result.content_type, url).title == RUSSIAN_TITLE


def test_binary_body_served_as_html_is_refused(site: Site) -> None:
    url = site.page("/logo", png_bytes(), content_type="text/html")
    with fetcher() as f:
        result = fetched(f.get(url))
    with pytest.raises(ExtractError, match="binary"):
        Page.parse(result.body, result.charset, result.content_type, result.url)


# --- when to come back: Retry-After and freshness ----------------------------------------------


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_reported_and_not_retried(site: Site, status: int) -> None:
    url = site.page("/busy", "<html>later</html>", status=status, headers={"Retry-After": "120"})
    with fetcher(retries=2) as f, pytest.raises(FetchError, match=f"HTTP {status}") as error:
        f.get(url)
    assert error.value.retry_after == 120
    assert len(site.hits("/busy")) == 1  # the server asked us to wait: no retry within the run


def test_retry_after_as_an_http_date(site: Site) -> None:
    url = site.page("/busy", b"", status=503, headers={"Retry-After": http_date(90)})
    with fetcher(retries=2) as f, pytest.raises(FetchError) as error:
        f.get(url)
    assert error.value.retry_after == pytest.approx(90, abs=2)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("9999999", 86400), ("soon", None), ("0", None)],
    ids=["capped-at-a-day", "unreadable", "zero"],
)
def test_retry_after_is_capped_or_ignored(
    site: Site, retry_after: str, expected: float | None
) -> None:
    url = site.page("/busy", b"", status=429, headers={"Retry-After": retry_after})
    with fetcher() as f, pytest.raises(FetchError) as error:
        f.get(url)
    assert error.value.retry_after == expected


def test_503_with_an_unreadable_retry_after_is_retried_as_before(site: Site) -> None:
    url = site.page("/down", b"", status=503, headers={"Retry-After": "soon"})
    with fetcher(retries=1) as f, pytest.raises(FetchError) as error:
        f.get(url)
    assert error.value.retry_after is None
    assert len(site.hits("/down")) == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Cache-Control": "public, max-age=300"}, 300),
        ({"Cache-Control": 'max-age="300"', "Age": "100"}, 200),
        ({"Cache-Control": "max-age=300, no-store"}, None),
        ({"Cache-Control": "no-cache"}, None),
        ({"Cache-Control": "s-maxage=600"}, None),
        ({"Cache-Control": "max-age=0"}, None),
        ({"Cache-Control": "max-age=31536000"}, 86400),
        ({"Expires": "PLACEHOLDER"}, 600),
        ({"Expires": "PLACEHOLDER", "Cache-Control": "max-age=60"}, 60),
        ({"Expires": "0"}, None),
        ({"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, None),
    ],
    ids=[
        "nothing",
        "max-age",
        "max-age-less-age",
        "no-store",
        "no-cache",
        "s-maxage-ignored",
        "zero",
        "capped-at-a-day",
        "expires",
        "max-age-beats-expires",
        "invalid-expires",
        "past-expires",
    ],
)
def test_fresh_for_comes_from_cache_control_or_expires(
    site: Site, headers: dict[str, str], expected: float | None
) -> None:
    headers = {k: http_date(600) if v == "PLACEHOLDER" else v for k, v in headers.items()}
    url = site.page("/news/", "<html>news</html>", headers=headers)
    with fetcher() as f:
        result = fetched(f.get(url))
    if expected is None:
        assert result.fresh_for is None
    else:
        assert result.fresh_for == pytest.approx(expected, abs=2)


# --- proxies, read once ------------------------------------------------------------------------

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class Proxy(LocalServer):
    """A forwarding HTTP proxy that answers every request itself, recording the URLs asked for;
    `redirect_to` makes it answer 302 to that URL instead. It refuses every CONNECT (https)."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.authorizations: list[str | None] = []
        self.redirect_to: str | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.urls.append(self.path)  # absolute: "http://news.example.test/"
                proxy.authorizations.append(self.headers.get("Proxy-Authorization"))
                if proxy.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", proxy.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"<html>from the proxy</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                proxy.urls.append(self.path)  # "news.example.test:443"
                proxy.authorizations.append(self.headers.get("Proxy-Authorization"))
                self.send_error(403, "Forbidden")

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """A proxy on loopback, and an environment with no other proxy setting."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    server = Proxy()
    yield server
    server.close()


def test_http_proxy_is_used_and_read_once(proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with fetcher() as f:
        monkeypatch.delenv("HTTP_PROXY")  # read when the fetcher was made, not at each request
        first = fetched(f.get("http://news.example.test/"))
        second = fetched(f.get("http://news.example.test/archive/"))
    assert first.body == second.body == b"<html>from the proxy</html>"
    assert proxy.urls == ["http://news.example.test/", "http://news.example.test/archive/"]


def test_all_proxy_is_used_for_http(proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    with fetcher() as f:
        assert fetched(f.get("http://news.example.test/")).body == b"<html>from the proxy</html>"
    assert proxy.urls == ["http://news.example.test/"]


def test_no_proxy_hosts_are_fetched_directly_redirects_included(
    proxy: Proxy, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:secret@"))
    monkeypatch.setenv("NO_PROXY", "localhost, 127.0.0.0/8")
    direct = site.page("/news/", "<html>direct</html>")
    proxy.redirect_to = direct
    with fetcher() as f:
        assert fetched(f.get(direct)).body == b"<html>direct</html>"
        assert proxy.urls == []
        # through the proxy, then straight to the NO_PROXY host it redirects to
        result = fetched(f.get("http://news.example.test/moved"))
    assert (result.url, result.body) == (direct, b"<html>direct</html>")
    assert proxy.urls == ["http://news.example.test/moved"]
    assert proxy.authorizations[0] is not None
    assert proxy.authorizations[0].startswith("Basic ")
    assert len(site.hits("/news/")) == 2
    assert all("Proxy-Authorization" not in headers for headers in site.hits("/news/"))


def test_through_a_proxy_ip_literals_are_checked_and_the_proxy_itself_is_not(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy resolves and connects, so only a refused IP literal can be caught here; the
    proxy on loopback is the admin's choice, allowed even with allow_private_addresses off."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with HttpFetcher(retries=2, allow_private_addresses=False) as f:
        assert fetched(f.get("http://news.example.test/")).body == b"<html>from the proxy</html>"
        for url, kind in [
            ("http://10.0.0.1/", "private"),
            ("http://2130706433/", "loopback"),
            ("http://[::ffff:127.0.0.1]/", "loopback"),
        ]:
            with pytest.raises(FetchError, match=rf"\({kind}; allow_private_addresses = false\)$"):
                f.get(url)
    with fetcher() as f, pytest.raises(FetchError) as error:
        f.get("http://169.254.169.254/latest/meta-data/")
    assert str(error.value) == "refused address 169.254.169.254 (link-local: cloud metadata)"
    assert proxy.urls == ["http://news.example.test/"]


def test_a_proxied_redirect_to_link_local_is_refused(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    proxy.redirect_to = "http://169.254.169.254/latest/meta-data/"
    with fetcher() as f, pytest.raises(FetchError, match="link-local: cloud metadata"):
        f.get("http://news.example.test/moved")
    assert proxy.urls == ["http://news.example.test/moved"]


def test_https_proxy_is_asked_to_connect(proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with fetcher() as f, pytest.raises(FetchError) as error:
        f.get("https://news.example.test/")
    assert str(error.value) == "proxy failed"
    assert proxy.urls == ["news.example.test:443"]


@pytest.mark.skipif(importlib.util.find_spec("socks") is not None, reason="PySocks is installed")
def test_a_socks_proxy_without_pysocks_is_a_one_line_error(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5h://127.0.0.1:1080")
    with fetcher() as f, pytest.raises(FetchError) as error:
        f.get("http://news.example.test/")
    assert str(error.value) == "SOCKS proxy needs PySocks (pip install PySocks)"


# --- TLS: the system's certificate authorities, or the bundle named in the environment ---------


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>over TLS</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def https_server(cert: Path, key: Path) -> LocalServer:
    class TlsServer(ThreadingHTTPServer):
        def server_bind(self) -> None:
            super().server_bind()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.socket = context.wrap_socket(self.socket, server_side=True)

    return LocalServer(Hello, TlsServer)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_is_verified_against_the_ca_bundle_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*PROXY_VARIABLES, "requests_ca_bundle", "curl_ca_bundle"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    server = https_server(cert, key)
    url = server.url.replace("http://", "https://") + "/"
    try:
        with fetcher() as f, pytest.raises(FetchError) as error:
            f.get(url)  # a certificate no authority of the system's signed
        assert str(error.value) == "connection failed"
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            with monkeypatch.context() as env:
                env.setenv(name, str(cert))
                with fetcher() as f:
                    assert fetched(f.get(url)).body == b"<html>over TLS</html>"
    finally:
        server.close()
