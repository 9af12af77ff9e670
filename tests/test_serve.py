"""`feedtool serve`: a real uvicorn server on 127.0.0.1, as feed readers and attackers meet it."""

from __future__ import annotations

import gzip
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from feedtool import serve as serving
from feedtool.cli import _parser, main
from feedtool.serve import Background
from tests.conftest import Site, html_source, listing, news_items, write_config


@pytest.fixture
def config_path(site: Site, tmp_path: Path) -> Path:
    """Two sources, run once: real feeds in tmp_path/public, real state in tmp_path/state."""
    url = site.page("/news/", listing(news_items(5)))
    other = site.page("/other/", listing(news_items(3)))
    path = write_config(
        tmp_path,
        html_source("news", url, 'title = "News"\ninterval = "30m"')
        + html_source("other", other, 'interval = "2h"'),
    )
    assert main(["-c", str(path), "run"]) == 0
    return path


@pytest.fixture
def served(config_path: Path) -> Iterator[str]:
    with Background(config_path, host="127.0.0.1", port=0) as server:
        yield f"http://127.0.0.1:{server.port}"


def raw_request(base: str, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes exactly as given (requests would normalise the path); the whole answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


# --- what a feed reader sees --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("news.atom.xml", "application/atom+xml; charset=utf-8"),
        ("news.rss.xml", "application/rss+xml; charset=utf-8"),
        ("news.json", "application/feed+json; charset=utf-8"),
    ],
)
def test_a_reader_gets_the_feed_then_304s(served: str, name: str, media_type: str) -> None:
    reader = requests.Session()
    first = reader.get(f"{served}/{name}", timeout=5)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == media_type
    assert first.headers["ETag"].startswith('"')  # strong: no W/
    assert first.headers["Last-Modified"].endswith(" GMT")
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    again = reader.get(f"{served}/{name}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    dated = reader.get(
        f"{served}/{name}", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert dated.status_code == 304


def test_if_none_match_lists_star_and_weak_tags(served: str) -> None:
    url = f"{served}/news.atom.xml"
    etag = requests.get(url, timeout=5).headers["ETag"]
    for value in ("*", f'"other", {etag}', f"W/{etag}"):
        assert requests.get(url, headers={"If-None-Match": value}, timeout=5).status_code == 304
    assert requests.get(url, headers={"If-None-Match": '"x"'}, timeout=5).status_code == 200
    bogus = etag[:-1] + '-bogus"'  # the file's digest with no coding of ours after it
    assert requests.get(url, headers={"If-None-Match": bogus}, timeout=5).status_code == 200
    old = "Sat, 01 Jan 2000 00:00:00 GMT"  # If-None-Match wins over If-Modified-Since
    both = {"If-None-Match": '"x"', "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    assert requests.get(url, headers=both, timeout=5).status_code == 200
    assert requests.get(url, headers={"If-Modified-Since": old}, timeout=5).status_code == 200


def test_gzip_and_brotli_only_when_asked(served: str) -> None:
    url = f"{served}/news.atom.xml"
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    raw = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True).raw
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.read()) == plain.content
    zipped_tag = raw.headers["ETag"]
    assert zipped_tag != plain.headers["ETag"]  # another representation, another strong tag
    again = requests.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped_tag})
    assert again.status_code == 304
    refused = requests.get(url, headers={"Accept-Encoding": "gzip;q=0, br;q=0"}, timeout=5)
    assert "Content-Encoding" not in refused.headers
    if serving_has_brotli():
        import brotli

        br = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=5)
        assert br.raw.headers["Content-Encoding"] == "br"
        assert brotli.decompress(br.raw.read()) == plain.content


def serving_has_brotli() -> bool:
    from feedtool.web.app import BROTLI

    return BROTLI


def test_head_and_other_methods(served: str) -> None:
    plain = {"Accept-Encoding": "identity"}
    head = requests.head(f"{served}/news.rss.xml", headers=plain, timeout=5)
    get = requests.get(f"{served}/news.rss.xml", headers=plain, timeout=5)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(get.content))
    assert head.headers["ETag"] == get.headers["ETag"]
    assert requests.post(f"{served}/news.rss.xml", timeout=5).status_code == 405


def test_cache_control_follows_the_sources_interval(served: str) -> None:
    def max_age(name: str) -> int:
        control = requests.get(f"{served}/{name}", timeout=5).headers["Cache-Control"]
        assert control.startswith("public, max-age=")
        return int(control.split("=")[1])

    assert 1700 < max_age("news.atom.xml") <= 1800  # checked just now, due in 30 minutes
    assert 7100 < max_age("other.json") <= 7200


def test_a_feed_that_changes_gets_a_new_etag(served: str, config_path: Path) -> None:
    feed = config_path.parent / "public" / "news.atom.xml"
    before = requests.get(f"{served}/news.atom.xml", timeout=5).headers["ETag"]
    replacement = feed.with_suffix(".tmp")
    replacement.write_bytes(feed.read_bytes().replace(b"News item number 0", b"Changed"))
    os.replace(replacement, feed)  # as publishing does: a new file, renamed over the old
    after = requests.get(f"{served}/news.atom.xml", headers={"If-None-Match": before})
    assert after.status_code == 200
    assert b"Changed" in after.content


# --- nothing outside output_dir ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/../feedtool.toml",
        b"/%2e%2e/feedtool.toml",
        b"/%2E%2E%2Ffeedtool.toml",
        b"/..%2f..%2fetc%2fpasswd",
        b"/public/../feedtool.toml",
        b"//etc/passwd",
        b"/%00",
        b"/news.atom.xml%00.txt",
        b"/.hidden",
        b"/..\\feedtool.toml",
        b"/%5c..%5cfeedtool.toml",
        b"/state/feedtool.sqlite3",
        b"//news.atom.xml",  # aliases of a feed: one URL per file
        b"/news.atom.xml/",
    ],
)
def test_traversal_is_refused_with_a_4xx(served: str, config_path: Path, target: bytes) -> None:
    (config_path.parent / "public" / ".hidden").write_text("secret")
    answer = raw_request(
        served, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith((b"HTTP/1.1 404", b"HTTP/1.1 400")), (target, status)
    for leaked in (b"secret", b"[settings]", b"root:"):
        assert leaked not in answer


def test_a_raw_nul_or_escape_in_the_request_line_is_a_400_not_a_dropped_connection(
    served: str,
) -> None:
    for target in (b"/\x00", b"/\x1b[31m"):
        answer = raw_request(served, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400"), answer[:40]


def test_symlinks_that_escape_output_dir_are_refused(served: str, config_path: Path) -> None:
    public = config_path.parent / "public"
    (public / "escape.atom.xml").symlink_to(config_path)
    (public / "parent").symlink_to(config_path.parent)
    (public / "alias.atom.xml").symlink_to(public / "news.atom.xml")
    assert requests.get(f"{served}/escape.atom.xml", timeout=5).status_code == 404
    assert requests.get(f"{served}/parent/feedtool.toml", timeout=5).status_code == 404
    inside = requests.get(f"{served}/alias.atom.xml", timeout=5)
    assert inside.status_code == 200
    assert inside.content == requests.get(f"{served}/news.atom.xml", timeout=5).content


def test_escape_characters_never_reach_the_log_raw(
    served: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedtool.serve")
    raw_request(
        served, b"GET /%1b[2J%1b]0;owned%07 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    requests.get(f"{served}/news.json?x=%0d%0aFAKE", timeout=5)
    time.sleep(0.2)
    lines = [r.getMessage() for r in caplog.records if r.name == "feedtool.serve"]
    assert any("%1b[2J" in line for line in lines), lines
    for line in lines:
        assert line.isprintable(), repr(line)
        assert "\n" not in line
        assert "\r" not in line


# --- many, idle and slow clients --------------------------------------------------------------


def test_300_idle_connections_do_not_lock_out_a_reader(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    idle = []
    try:
        for i in range(300):
            conn = socket.create_connection((host, int(port)), timeout=5)
            if i % 3 == 0:
                conn.sendall(b"GET /news.atom.xml HTTP/1.1\r\nHo")  # and never finishes
            idle.append(conn)
        started = time.monotonic()
        response = requests.get(f"{served}/news.atom.xml", timeout=1)
        assert response.status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for conn in idle:
            conn.close()


def test_idle_and_slow_clients_are_cut_off(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "HEAD_TIMEOUT", 0.5)
    monkeypatch.setattr(serving, "KEEP_ALIVE", 1)

    def until_closed(conn: socket.socket) -> bytes:
        """What the server sends before it closes; a 5 s socket timeout fails the test."""
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        conn.close()
        return data

    with Background(config_path, host="127.0.0.1", port=0) as server:
        address = ("127.0.0.1", server.port)
        started = time.monotonic()
        silent = socket.create_connection(address, timeout=5)
        kept = socket.create_connection(address, timeout=5)
        kept.sendall(b"GET /news.json HTTP/1.1\r\nHost: x\r\n\r\n")
        trickle = socket.create_connection(address, timeout=5)
        try:
            for byte in b"GET /news.json HTTP/1.1\r\nHost: x\r\n"[:15]:  # 1.5 s, never done
                trickle.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass  # already cut off
        assert until_closed(silent) == b""
        assert until_closed(trickle) == b""
        answer = until_closed(kept)  # answered, then closed once idle for KEEP_ALIVE
        assert answer.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 4


def test_serve_binds_to_loopback_unless_told() -> None:
    assert _parser().parse_args(["serve"]).host == "127.0.0.1"
    assert _parser().parse_args(["daemon", "--serve"]).host == "127.0.0.1"
    assert _parser().parse_args(["serve", "--host", "0.0.0.0"]).host == "0.0.0.0"


# --- the processes ------------------------------------------------------------------------------


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"{url} never answered")


def test_sigterm_stops_serve_cleanly(config_path: Path) -> None:
    port = free_port()
    argv = ["-c", str(config_path), "serve", "--port", str(port)]
    with subprocess.Popen(
        [sys.executable, "-m", "feedtool", *argv], stderr=subprocess.PIPE
    ) as process:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process)
            with socket.create_connection(("127.0.0.1", port)):  # must not hold the exit up
                assert requests.get(f"http://127.0.0.1:{port}/news.json", timeout=5).ok
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=10) == 0
        finally:
            process.kill()
        assert process.stderr is not None
        err = process.stderr.read().decode()
    assert f"serving at http://127.0.0.1:{port}/" in err
    assert '"GET /news.json HTTP/1.1" 200' in err  # the access log, on by default


def test_daemon_serve_runs_both_and_stops_on_sigterm(site: Site, tmp_path: Path) -> None:
    path = write_config(tmp_path, html_source("news", site.page("/news/", listing(news_items(4)))))
    port = free_port()
    argv = ["-c", str(path), "daemon", "--serve", "--port", str(port)]
    with subprocess.Popen(
        [sys.executable, "-m", "feedtool", *argv], stderr=subprocess.DEVNULL
    ) as process:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the daemon checks the source and publishes
                feed = requests.get(f"http://127.0.0.1:{port}/news.atom.xml", timeout=5)
                if feed.status_code == 200:
                    break
                time.sleep(0.2)
            assert feed.status_code == 200
            assert b"News item number 0" in feed.content
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            process.kill()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
