"""Shared fixtures: a real HTTP server on 127.0.0.1 and config files in tmp_path."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match with 304 when the body is unchanged
    gzip: bool = False
    content_length: bool = True  # False: no Content-Length, the body ends when the socket closes
    fail_first: int = 0  # answer the first N requests to this path with 503
    delay: float = 0.0  # seconds before answering


class LocalServer:
    """An HTTP server on 127.0.0.1 (a free port) answering with `handler` on a daemon thread;
    `close()` stops it. The test servers below build on it."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
    ) -> None:
        self.server = server_class(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Site(LocalServer):
    """A tiny web site whose pages tests change between runs; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Response] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append((self.path, dict(self.headers)))
                    response = site.routes.get(self.path)
                    attempt = len(site.hits(self.path))
                if response is None:
                    self.send_error(404, "Not Found")
                    return
                time.sleep(response.delay)
                if attempt <= response.fail_first:
                    self.send_error(503, "Service Unavailable")
                    return
                body = response.body
                etag = '"' + hashlib.md5(body).hexdigest() + '"'
                if response.etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                if response.gzip:
                    body = gzip.compress(body)
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                if response.etag:
                    self.send_header("ETag", etag)
                if response.gzip:
                    self.send_header("Content-Encoding", "gzip")
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if response.content_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)

    def page(self, path: str, body: str | bytes, **kwargs: object) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Response(data, **kwargs)  # type: ignore[arg-type]
        return self.url + path

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


def listing(items: list[tuple[str, str, str]], *, next_page: str | None = None) -> str:
    """A Bitrix-style news listing: (date text, title, relative link) per item."""
    rows = "\n".join(
        f"""<div class="news-item">
          <div class="news-date">{date}</div>
          <a class="news-title" href="{link}">{title}</a>
          <div class="news-preview">Summary of <b>{title}</b> &amp; more.</div>
        </div>"""
        for date, title, link in items
    )
    pager = f'<div class="pagination"><a class="next" href="{next_page}">Next</a></div>'
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>News — Test Organisation</title></head>
<body>
  <nav><a href="/">Home</a> <a href="/about/">About</a> <a href="/news/">News</a></nav>
  <div class="news-list">{rows}</div>
  {pager if next_page else ""}
  <footer><a href="/contacts/">Contacts</a></footer>
</body></html>"""


def news_items(count: int, *, start: int = 0) -> list[tuple[str, str, str]]:
    """`count` items, newest first, on distinct December 2024 days from day 28 - start down."""
    return [
        (f"{28 - i:02d}.12.2024", f"News item number {i}", f"/news/news_odkb/item-{i}/")
        for i in range(start, start + count)
    ]


SELECT_BLOCK = """
[sources.select]
item = ".news-item"
title = ".news-title"
link = "a.news-title@href"
date = ".news-date"
summary = ".news-preview"
date_format = "%d.%m.%Y"
"""


def write_config(tmp_path: Path, body: str, *, settings: str = "") -> Path:
    """A feedtool.toml with state and output in tmp_path and the given sources/notify tables."""
    path = tmp_path / "feedtool.toml"
    path.write_text(
        f"""[settings]
state_dir = "state"
output_dir = "public"
base_url = "http://feeds.example.test/"
retries = 0
{settings}
{body}""",
        encoding="utf-8",
    )
    return path


def html_source(source_id: str, url: str, extra: str = "") -> str:
    return f"""
[[sources]]
id = "{source_id}"
url = "{url}"
type = "html"
{extra}
{SELECT_BLOCK}"""


@dataclass
class Post:
    """One request the webhook received: its JSON body, headers and the status it answered."""

    path: str
    body: dict[str, object]
    headers: dict[str, str]
    status: int


class Webhook(LocalServer):
    """A notification endpoint: records every POST's JSON body (Apprise's `json://` posts
    {"version", "title", "message", "type"}), answers `status` after `delay` seconds."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with hook._lock:
                    status, delay = hook.status, hook.delay
                    hook.posts.append(Post(self.path, body, dict(self.headers), status))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the client went away (killed mid-request)
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client killed mid-request is part of the tests, not an error

        super().__init__(Handler, Server)
        self.url = f"json://127.0.0.1:{self.port}/hook"

    def target(self, path: str = "/hook", userinfo: str = "") -> str:
        """The Apprise URL of this endpoint at `path`, with optional `user:password@`."""
        return f"json://{userinfo}127.0.0.1:{self.port}{path}"

    def delivered(self, path: str | None = None) -> list[dict[str, object]]:
        """The bodies of the posts answered with success (to `path`), in arrival order."""
        with self._lock:
            return [p.body for p in self.posts if p.status < 300 and path in (None, p.path)]

    def messages(self, path: str | None = None) -> list[str]:
        return [str(body.get("message", "")) for body in self.delivered(path)]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait (bounded) until at least `count` posts have arrived, successful or not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return True
            time.sleep(0.02)
        return False


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


Answer = Callable[[socket.socket, threading.Event], None]


@contextlib.contextmanager
def raw_server(answer: Answer) -> Iterator[str]:
    """A bare TCP server: each connection, once its request has arrived, goes to `answer`
    (with an event set when the block ends, which `answer` must heed)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    done = threading.Event()
    handlers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            conn.recv(65536)
            answer(conn, done)

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:  # TimeoutError included
                continue
            handler = threading.Thread(target=handle, args=(conn,), daemon=True)
            handler.start()
            handlers.append(handler)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/news/"
    finally:
        done.set()
        acceptor.join(5)
        for handler in handlers:
            handler.join(5)
        listener.close()
