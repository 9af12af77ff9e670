"""`feedtool demo`: the whole pipeline against the bundled sample site, offline.

The site is served on a loopback port by the demo itself. Three runs show the life of a
watched page: the first publishes what is there, the second finds nothing new (the server
answers 304), the third finds the one item the demo adds to the page.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import feedparser

from feedtool import config
from feedtool.model import SUFFIXES, Config, SourceResult
from feedtool.runner import run_all

NEW_ITEM = """
  <div class="news-item">
    <div class="news-date">{date}</div>
    <a class="news-title" href="/news/news_odkb/demo-breaking-news/">Breaking: a new item</a>
    <div class="news-preview">This item appeared after the first run, so it is <b>new</b>.</div>
  </div>"""


class _SiteHandler(SimpleHTTPRequestHandler):
    """Maps Bitrix-style URLs to files: /news/?PAGEN_1=2 -> news/index.PAGEN_1=2.html."""

    extra_item: str = ""

    def translate_path(self, path: str) -> str:
        path, _, query = path.partition("?")
        local = Path(super().translate_path(path))
        if path.endswith("/"):
            local = local / (f"index.{query}.html" if query else "index.html")
        return str(local)

    def send_head(self):  # type: ignore[no-untyped-def,unused-ignore]
        if self.extra_item and self.path == "/news/":
            page = Path(self.translate_path(self.path)).read_text(encoding="utf-8")
            anchor = '<div class="news-list">'
            data = page.replace(anchor, anchor + self.extra_item, 1).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return io.BytesIO(data)
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def sample_site() -> Iterator[tuple[str, type[_SiteHandler]]]:
    """Serve the bundled site on 127.0.0.1; yields its base URL and its handler class."""
    with resources.as_file(resources.files("feedtool") / "demo_site") as root:
        handler = type("DemoHandler", (_SiteHandler,), {})
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", handler
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def webhook() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local endpoint for Apprise's json:// notifications; yields its URL and what it got."""
    received: list[dict[str, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"json://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def demo_config(site: str, hook: str, folder: Path) -> Config:
    """The bundled demo config, pointed at the local site and webhook, written into folder."""
    text = (resources.files("feedtool") / "demo_site" / "feedtool.toml").read_text("utf-8")
    text = text.replace('"__SITE__', f'"{site}').replace(
        "[settings]", '[settings]\nstate_dir = "state"\noutput_dir = "public"', 1
    )
    text += f'\n[[notify]]\nurl = "{hook}"\n'

    path = folder / "feedtool.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def demo() -> int:
    """Three runs against the sample site; prints what happened and where the feeds are."""
    folder = Path(tempfile.mkdtemp(prefix="feedtool-demo-"))
    with sample_site() as (site, handler), webhook() as (hook, received):
        cfg = demo_config(site, hook, folder)
        print(f"Sample site served at {site}/news/ ; working folder {folder}\n")
        _report(
            "Run 1: first look at the site (records what is there, alerts nothing)",
            run_all(cfg, force=True),
            received,
        )
        _report(
            "Run 2: nothing changed (the server answers 304)", run_all(cfg, force=True), received
        )
        handler.extra_item = NEW_ITEM.format(date="31.12.2024")
        _report("Run 3: the site published a new item", run_all(cfg, force=True), received)
    print("\nPublished feeds:")
    for source in cfg.sources:
        for suffix in SUFFIXES:
            print(f"  {cfg.settings.output_dir / (source.id + suffix)}")
    for source in cfg.sources:
        atom = (cfg.settings.output_dir / f"{source.id}.atom.xml").read_bytes()
        parsed = feedparser.parse(atom)
        print(f"\nNewest entries of {parsed.feed.title} ({len(parsed.entries)} in the feed):")
        for entry in parsed.entries[:5]:
            print(f"  {entry.published[:10]}  {entry.title}\n              {entry.link}")
    print(f"\nTry: feedtool --config {cfg.path} status")
    return 0


def _report(heading: str, results: list[SourceResult], received: list[dict[str, str]]) -> None:
    print(heading)
    for r in results:
        print(f"  {r.source_id:<14} {r.status:<13} {r.new:>3} new  {r.updated:>3} updated")
    print(f"  webhook received {len(received)} notification(s)")
    for message in received:
        print(f"    title: {message['title']}")
        for line in filter(None, message["message"].splitlines()):
            print(f"      {line}")
    received.clear()
