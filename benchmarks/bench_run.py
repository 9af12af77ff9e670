"""Time one `feedtool run` over 100 local sources: cold, warm (304, same bytes) and changed.

    python benchmarks/bench_run.py [--sources 100] [--items 20]

Everything is served from 127.0.0.1; nothing leaves the machine. Prints one line per scenario.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from feedtool import config
from feedtool.pipeline import run_all

MONTHS_RU = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря"]  # fmt: skip


def listing(source: int, items: int) -> bytes:
    rows = []
    for i in range(items):
        day, month = 1 + (i * 7 + source) % 28, 1 + (i + source) % 12
        date = f"{day:02d}.{month:02d}.2024" if source % 2 else f"{day} {MONTHS_RU[month - 1]} 2024"
        rows.append(
            f'<div class="news-item"><div class="news-date">{date}</div>'
            f'<a class="news-title" href="/s{source}/news/item-{i}/?utm_source=x">'
            f"Source {source} headline number {i} about cooperation</a>"
            f'<div class="news-preview"><p>Summary {i} with <b>bold</b> &amp; a '
            f'<a href="/rel/{i}">link</a>.</p><script>track()</script></div></div>'
        )
    chrome = '<nav><a href="/">Home</a><a href="/about/">About</a></nav>' * 20
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Source {source}</title></head>"
        f"<body>{chrome}<div class='news-list'>{''.join(rows)}</div><footer>(c)</footer>"
        "</body></html>"
    ).encode()


def add_item(page: bytes) -> bytes:
    new = (
        '<div class="news-item"><div class="news-date">31.12.2024</div>'
        '<a class="news-title" href="/news/brand-new/">A brand new headline</a></div>'
    )
    return page.replace(b"<div class='news-list'>", b"<div class='news-list'>" + new.encode())


class Site:
    def __init__(self, sources: int, items: int) -> None:
        self.pages = {f"/s{n}/news/": listing(n, items) for n in range(sources)}
        self.etags = True
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs add 40 ms a response

            def do_GET(self) -> None:
                body = site.pages[self.path]
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if site.etags and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if site.etags:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def write_config(folder: Path, site: Site, sources: int) -> Path:
    blocks = [
        f"""[[sources]]
id = "s{n}"
url = "{site.url}/s{n}/news/"
type = "html"
[sources.select]
item = ".news-item"
title = ".news-title"
link = "a.news-title@href"
date = ".news-date"
summary = ".news-preview"
"""
        for n in range(sources)
    ]
    path = folder / "feedtool.toml"
    path.write_text('[settings]\nbase_url = "http://feeds.test/"\n' + "\n".join(blocks))
    return path


def timed(label: str, cfg: config.Config, sources: int, profile: bool) -> None:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    results = run_all(cfg, force=True)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    new = sum(r.new for r in results)
    failed = sum(r.status == "failed" for r in results)
    print(
        f"{label:<32} {elapsed:7.2f} s  {elapsed / sources * 1000:7.1f} ms/source"
        f"  {new:5d} new  {failed} failed"
    )
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each run")
    args = parser.parse_args()
    site = Site(args.sources, args.items)
    with tempfile.TemporaryDirectory() as folder:
        cfg = config.load(write_config(Path(folder), site, args.sources))
        print(f"{args.sources} sources x {args.items} items, served from {site.url}")
        timed("cold (empty state)", cfg, args.sources, args.profile)
        timed("warm (304 Not Modified)", cfg, args.sources, args.profile)
        site.etags = False
        timed("warm (200, same bytes)", cfg, args.sources, args.profile)
        site.pages = {path: add_item(body) for path, body in site.pages.items()}
        timed("changed (200, 1 new item each)", cfg, args.sources, args.profile)
    site.server.shutdown()


if __name__ == "__main__":
    main()
