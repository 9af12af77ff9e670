"""One HttpFetcher shared by many threads: the deadline, `stop`, the per-host limit and spacing,
and connections kept across requests (304s included). Real servers on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from feedtool.errors import FetchError, Interrupted
from feedtool.fetch import HttpFetcher
from feedtool.model import Fetched, NotModified, Settings, Validators
from tests.conftest import LocalServer, Site, raw_server


def trickle_headers(conn: socket.socket, done: threading.Event) -> None:
    """The status line and headers, one byte every 0.5 s: no single read ever times out."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok":
        if done.wait(0.5):
            return
        conn.sendall(bytes([byte]))


def hang(conn: socket.socket, done: threading.Event) -> None:
    """Read the request, never answer."""
    done.wait(30)


Respond = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class KeepAliveServer(LocalServer):
    """An HTTP/1.1 server that keeps connections open and counts them; it records how many
    requests were in flight at once and when each started. `respond` makes each answer."""

    def __init__(self, respond: Respond, *, delay: float = 0.0) -> None:
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5  # an idle kept-alive connection does not hold its thread for ever
            disable_nagle_algorithm = True  # headers and body go out at once

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def do_GET(self) -> None:
                with server._lock:
                    server.starts.append(time.monotonic())
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(delay)
                    status, headers, body = respond(self)
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if status != 304:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)
        self.url += "/news/"


@contextlib.contextmanager
def keep_alive_server(respond: Respond, *, delay: float = 0.0) -> Iterator[KeepAliveServer]:
    server = KeepAliveServer(respond, delay=delay)
    try:
        yield server
    finally:
        server.close()


ETAG = '"v1"'


def news_with_etag(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    headers = {"ETag": ETAG, "Cache-Control": "max-age=600", "Content-Type": "text/html"}
    if handler.headers.get("If-None-Match") == ETAG:
        return 304, headers, b""
    return 200, headers, b"<html>news</html>"


def page(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html"}, b"<html>page</html>"


# --- the deadline ------------------------------------------------------------------------------


def test_a_server_that_trickles_its_headers_is_cut_off_at_the_deadline() -> None:
    with raw_server(trickle_headers) as url, HttpFetcher(timeout=1, retries=0) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError) as error:
            fetcher.get(url)
        elapsed = time.monotonic() - started
    assert str(error.value) == "response took longer than 3s"
    assert "\n" not in str(error.value)
    assert 2.9 < elapsed < 4.0


def test_bad_hosts_fetched_at_once_cost_one_deadline_not_their_sum(site: Site) -> None:
    good = [site.page(f"/news/{i}/", f"<html>{i}</html>") for i in range(8)]
    with contextlib.ExitStack() as stack:
        bad = [stack.enter_context(raw_server(trickle_headers)) for _ in range(4)]
        fetcher = stack.enter_context(HttpFetcher(timeout=1, retries=0, workers=8))

        def outcome(url: str) -> str:
            try:
                result = fetcher.get(url)
            except FetchError as e:
                return str(e)
            assert isinstance(result, Fetched)
            return result.body.decode()

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(outcome, bad + good))
        elapsed = time.monotonic() - started

    assert outcomes == ["response took longer than 3s"] * 4 + [
        f"<html>{i}</html>" for i in range(8)
    ]
    assert elapsed < 4.5  # one deadline (3 s), not four


# --- stop --------------------------------------------------------------------------------------


def test_stop_interrupts_a_hung_request_within_a_second() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    with raw_server(hang) as url, HttpFetcher(timeout=20, retries=2, stop=stop) as fetcher:
        started = time.monotonic()
        timer.start()
        with pytest.raises(Interrupted):
            fetcher.get(url)
        elapsed = time.monotonic() - started
    timer.cancel()
    assert elapsed < 1.5


def test_stop_interrupts_a_wait_for_a_host_slot() -> None:
    stop = threading.Event()
    with (
        raw_server(hang) as url,
        HttpFetcher(timeout=20, retries=0, stop=stop, host_connections=1) as fetcher,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        futures = [pool.submit(fetcher.get, url) for _ in range(2)]
        time.sleep(0.3)  # one request hangs, the other waits for the host's only slot
        started = time.monotonic()
        stop.set()
        for future in futures:
            with pytest.raises(Interrupted):
                future.result(timeout=5)
        elapsed = time.monotonic() - started
    assert elapsed < 1.2


# --- the per-host limit ------------------------------------------------------------------------


def test_at_most_host_connections_requests_are_in_flight_to_one_host() -> None:
    with (
        keep_alive_server(page, delay=0.1) as server,
        HttpFetcher(retries=0, host_connections=2, workers=8) as fetcher,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        results = list(pool.map(lambda _: fetcher.get(server.url), range(16)))
    assert all(isinstance(r, Fetched) for r in results)
    assert server.max_in_flight == 2
    assert server.connections <= 2


def test_for_settings_passes_the_per_host_limit(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path, output_dir=tmp_path, retries=0, workers=4, host_connections=1
    )
    with (
        keep_alive_server(page, delay=0.05) as server,
        HttpFetcher.for_settings(settings) as fetcher,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        list(pool.map(lambda _: fetcher.get(server.url), range(8)))
    assert server.max_in_flight == 1
    assert server.connections == 1


def test_other_hosts_do_not_wait_for_a_busy_one() -> None:
    with (
        keep_alive_server(page, delay=0.5) as slow,
        keep_alive_server(page) as fast,
        HttpFetcher(retries=0, host_connections=1) as fetcher,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        busy = [pool.submit(fetcher.get, slow.url) for _ in range(2)]
        time.sleep(0.1)
        started = time.monotonic()
        assert isinstance(pool.submit(fetcher.get, fast.url).result(timeout=5), Fetched)
        assert time.monotonic() - started < 0.4
        for future in busy:
            future.result(timeout=5)
    assert slow.max_in_flight == 1


def test_host_spacing_spaces_the_starts_of_requests_to_one_host() -> None:
    with (
        keep_alive_server(page) as server,
        HttpFetcher(retries=0, host_connections=4, host_spacing=0.2) as fetcher,
        ThreadPoolExecutor(max_workers=5) as pool,
    ):
        list(pool.map(lambda _: fetcher.get(server.url), range(5)))
    starts = sorted(server.starts)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 4
    assert min(gaps) > 0.15  # 0.2 s booked at the client; the server's clock sees jitter
    assert starts[-1] - starts[0] < 2.0


# --- connections kept --------------------------------------------------------------------------


def test_revalidations_and_full_fetches_from_eight_threads_reuse_their_connections() -> None:
    with (
        keep_alive_server(news_with_etag) as server,
        HttpFetcher(retries=0, workers=8, host_connections=2) as fetcher,
    ):
        first = fetcher.get(server.url)
        assert isinstance(first, Fetched)

        def check(n: int) -> Fetched | NotModified:
            return fetcher.get(server.url, first.validators if n % 2 else None)

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(check, range(100)))

    assert sum(isinstance(r, NotModified) for r in results) == 50
    assert sum(isinstance(r, Fetched) for r in results) == 50
    assert server.connections <= 2


def test_sequential_304s_use_one_connection_and_carry_their_freshness() -> None:
    with keep_alive_server(news_with_etag) as server, HttpFetcher(retries=0) as fetcher:
        results = [fetcher.get(server.url, Validators(etag=ETAG)) for _ in range(50)]
    assert results == [NotModified(server.url, fresh_for=600.0)] * 50
    assert server.connections == 1


def test_small_error_pages_keep_their_connection() -> None:
    def missing(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 404, {"Content-Type": "text/html"}, b"<html>not here</html>" * 20

    with keep_alive_server(missing) as server, HttpFetcher(retries=0) as fetcher:
        for _ in range(20):
            with pytest.raises(FetchError, match="HTTP 404"):
                fetcher.get(server.url)
    assert server.connections == 1
