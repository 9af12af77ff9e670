"""Benchmarks of feedtool as its users run it: the `feedtool` command against local CMS-like pages.

    python benchmarks/bench_run.py                   # cold / warm / changed `feedtool run --force`
    python benchmarks/bench_run.py --sources 2000    # the same at scale (should grow linearly)
    python benchmarks/bench_run.py --vs-urlwatch     # ... with urlwatch on the same pages
    python benchmarks/bench_run.py --hang            # 60 good sources plus 4 hung hosts
    python benchmarks/bench_run.py --micro           # extraction, feed writing, start-up, in ms
    python benchmarks/bench_run.py --daemon          # `feedtool daemon`: first cycle, idle cost

Options: --sources N (default 300; 60 with --hang, 1000 with --daemon), --repeat N (median of
N runs, default 3), --hosts N (spread the sources over N local ports, each a distinct host to
feedtool; default 1). --hang, --micro and --daemon combine; without them (or with
--vs-urlwatch) the run benchmark runs.

Every page is ~60 KB with 20 news items among the usual CMS noise (menus, sidebars with "most
read" lists, scripts, JSON-LD, styles, social buttons, a cookie banner): half Bitrix-like with
dates like 23.12.2024, half WordPress-like with dates like 23 декабря 2024. They are served from
127.0.0.1 by a threaded HTTP/1.1 keep-alive server (ETag, 304 on If-None-Match, one write per
response, TCP_NODELAY); nothing leaves the machine. `feedtool` (the one next to sys.executable)
runs as a child process with a config in a temporary folder; wall time, CPU (user+sys) and peak
RSS are the child's own (wait4). Every server and child is stopped at the end, on errors and on
Ctrl-C too. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import random
import resource
import selectors
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

ITEMS = 20  # news items on a listing page
PAGE_BYTES = 60_000  # every page is padded to about this size
HANG_GOOD = 60  # good sources beside the hung ones in --hang
DAEMON_IDLE = 15.0  # seconds the idle daemon is watched
SAMPLE_EVERY = 0.1  # seconds between samples of a child's process tree memory
RUN_TIMEOUT = 1800.0  # a child running longer than this is killed and reported
BIN = Path(sys.executable).parent

MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря")  # fmt: skip
WORDS_RU = ("совет", "министров", "обороны", "безопасности", "сотрудничества", "провёл",
            "заседание", "обсудил", "вопросы", "подготовки", "совместных", "учений", "делегация",
            "секретариат", "организации", "договора", "коллективной", "встреча", "рабочей",
            "группы", "по", "противодействию", "угрозам", "в", "информационной", "сфере", "итоги",
            "парламентской", "ассамблеи", "года", "программа", "развития", "миротворческих", "сил",
            "консультации", "представителей", "государств", "членов", "утвердил", "план",
            "мероприятий", "на", "следующий", "период")  # fmt: skip
WORDS_EN = ("council", "ministers", "defence", "security", "cooperation", "meeting", "discussed",
            "questions", "joint", "exercise", "secretariat", "organisation", "treaty", "group",
            "collective", "delegation", "working", "countering", "threats", "information",
            "sphere", "parliamentary", "assembly", "results", "programme", "development", "forces",
            "peacekeeping", "consultations", "representatives", "member", "states", "approved",
            "plan", "events", "period")  # fmt: skip

# Selectors a user would configure for each of the two page styles.
SELECT = {
    "bitrix": {
        "item": ".news-list .news-item",
        "title": ".news-title",
        "link": "a.news-title@href",
        "date": ".news-date-time",
        "summary": ".news-preview",
        "date_format": "%d.%m.%Y",
    },
    "wordpress": {
        "item": "article.post",
        "title": ".entry-title a",
        "link": ".entry-title a@href",
        "date": ".entry-date",
        "summary": ".entry-summary",
    },
}


# --- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class News:
    number: int
    day: date
    title: str
    slug: str
    summary: str


def style(source: int) -> str:
    return "bitrix" if source % 2 == 0 else "wordpress"


def show_date(day: date, source: int) -> str:
    if style(source) == "bitrix":
        return day.strftime("%d.%m.%Y")
    return f"{day.day} {MONTHS_RU[day.month - 1]} {day.year}"


def words(rng: random.Random, low: int, high: int) -> str:
    vocabulary = WORDS_RU if rng.random() < 0.7 else WORDS_EN
    return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(low, high)))


def news(source: int, number: int) -> News:
    rng = random.Random(source * 100_003 + number)
    slug = "-".join(rng.sample(WORDS_EN, 4)) + f"-{number}"
    return News(
        number=number,
        day=date(2024, 11, 20) + timedelta(days=number),
        title=words(rng, 6, 12).capitalize(),
        slug=slug,
        summary=words(rng, 15, 30).capitalize() + ".",
    )


def page_news(source: int, changed: bool) -> list[News]:
    """The listing, newest first; `changed` puts one new item on top (the oldest drops off)."""
    newest = ITEMS + (1 if changed else 0)
    return [news(source, number) for number in range(newest, newest - ITEMS, -1)]


def bitrix_item(item: News, source: int) -> str:
    link = f"/s{source}/news/{item.slug}/"
    picture = f"/upload/iblock/{zlib.crc32(item.slug.encode()) & 0xFFF:03x}/{item.number}.jpg"
    return (
        f'<div class="news-item" id="bx_651765591_{source}{item.number}">\n'
        f'<a href="{link}"><img class="preview_picture" border="0" src="{picture}" width="240" '
        f'height="160" alt="{item.title}" title="{item.title}" loading="lazy"></a>\n'
        f'<span class="news-date-time">{show_date(item.day, source)}</span>\n'
        f'<a class="news-title" href="{link}"><b>{item.title}</b></a><br>\n'
        f'<div class="news-preview">{item.summary} <a href="{link}">Подробнее</a></div>\n'
        '<div style="clear:both"></div></div>\n'
    )


def wordpress_item(item: News, source: int) -> str:
    link = f"/s{source}/news/{item.slug}/"
    return (
        f'<article id="post-{item.number}" class="post-{item.number} post type-post '
        'status-publish format-standard has-post-thumbnail hentry category-novosti">\n'
        f'<header class="entry-header"><h2 class="entry-title"><a href="{link}" rel="bookmark">'
        f"{item.title}</a></h2>\n"
        '<div class="entry-meta"><span class="posted-on"><span class="entry-date published">'
        f'{show_date(item.day, source)}</span></span> <span class="byline">Пресс-служба</span>'
        f' <span class="comments-link"><a href="{link}#respond">Комментарии</a></span></div>'
        "</header>\n"
        f'<div class="entry-summary"><p>{item.summary}</p></div>\n'
        f'<footer class="entry-footer"><span class="cat-links"><a href="/s{source}/category/'
        'novosti/" rel="category tag">Новости</a></span></footer></article>\n'
    )


def menu(rng: random.Random, source: int, css: str, sections: int, links: int) -> str:
    parts = [f'<ul class="{css}">']
    for s in range(sections):
        parts.append(f'<li class="{css}-item parent"><a href="/s{source}/section-{s}/">')
        parts.append(f'{words(rng, 1, 3).capitalize()}</a><ul class="{css}-sub">')
        parts.extend(
            f'<li><a href="/s{source}/section-{s}/page-{i}/">{words(rng, 2, 5).capitalize()}</a>'
            "</li>"
            for i in range(links)
        )
        parts.append("</ul></li>")
    parts.append("</ul>")
    return "".join(parts)


def most_read(rng: random.Random, source: int) -> str:
    """A sidebar list of older articles: links, titles and dates, like the news, but not news."""
    rows = []
    for i in range(8):
        old = news(source, -100 - i)
        views = rng.randint(200, 9000)
        rows.append(
            f'<li class="most-read__item"><a href="/s{source}/news/{old.slug}/">{old.title}</a>'
            f' <span class="most-read__date">{show_date(old.day, source)}</span>'
            f' <span class="views">{views}</span></li>'
        )
    return (
        '<div class="sidebar-block most-read"><h3>Самое читаемое</h3>'
        f"<ul>{''.join(rows)}</ul></div>"
    )


def styles(rng: random.Random) -> str:
    rules = (
        f".b-{i} .el-{rng.randint(1, 99)}{{margin:0 {rng.randint(0, 40)}px;padding:"
        f"{rng.randint(0, 20)}px;color:#{rng.randint(0, 0xFFFFFF):06x};"
        "font:14px/1.4 Arial,sans-serif}"
        for i in range(50)
    )
    return "<style>" + "\n".join(rules) + "</style>"


def json_ld(source: int, host: str) -> str:
    data = [
        {
            "@context": "https://schema.org",
            "@type": "Organization",
            "name": f"Организация {source}",
            "url": f"{host}/",
            "logo": f"{host}/local/templates/main/images/logo.png",
            "sameAs": ["https://vk.com/example", "https://t.me/example"],
        },
        {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": "Главная", "item": f"{host}/"},
                {"@type": "ListItem", "position": 2, "name": "Новости", "item": f"{host}/news/"},
            ],
        },
    ]
    return (
        '<script type="application/ld+json">' + json.dumps(data, ensure_ascii=False) + "</script>"
    )


def scripts(rng: random.Random, source: int) -> str:
    messages = {f"JS_CORE_{i}": words(rng, 2, 6) for i in range(40)}
    js_list = [
        f"/bitrix/js/main/core/core_{i}.min.js?{rng.randint(10**9, 10**10)}" for i in range(25)
    ]
    return (
        f"<script>BX.message({json.dumps(messages, ensure_ascii=False)});</script>\n"
        f"<script>BX.setJSList({json.dumps(js_list)});</script>\n"
        "<script>(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push("
        "arguments)};m[i].l=1*new Date();k=e.createElement(t),a=e.getElementsByTagName(t)[0],"
        "k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})(window,document,'script',"
        f"'/metrika/tag.js','ym');ym({40000000 + source},'init',{{clickmap:true,"
        "trackLinks:true,accurateTrackBounce:true,webvisor:true});</script>\n"
        '<noscript><div><img src="/metrika/watch/1" style="position:absolute;left:-9999px" '
        'alt=""></div></noscript>\n'
    )


def social(source: int) -> str:
    targets = ("vk.com/share.php?url=", "t.me/share/url?url=", "connect.ok.ru/offer?url=",
               "twitter.com/intent/tweet?url=", "wa.me/?text=")  # fmt: skip
    links = "".join(
        f'<a class="share share-{i}" href="https://{t}%2Fs{source}%2Fnews%2F" target="_blank" '
        f'rel="nofollow noopener">Поделиться</a>'
        for i, t in enumerate(targets)
    )
    return f'<div class="social-share">{links}</div>'


def cookie_banner() -> str:
    return (
        '<div id="cookie-banner" class="cookie-banner" style="display:none"><p>Мы используем '
        "файлы cookie, чтобы сайт работал лучше. Продолжая пользоваться сайтом, вы соглашаетесь "
        'с <a href="/privacy/">политикой конфиденциальности</a>.</p><button type="button" '
        'class="btn cookie-accept">Принять</button></div><script>document.querySelector('
        "'.cookie-accept').addEventListener('click',function(){document.cookie='ok=1;path=/;"
        "max-age=31536000';document.getElementById('cookie-banner').remove()});</script>"
    )


def render_page(source: int, changed: bool) -> bytes:
    """One listing page of about PAGE_BYTES bytes, the same for the same arguments."""
    rng = random.Random(source)
    host = f"https://site{source}.example"
    items = page_news(source, changed)
    if style(source) == "bitrix":
        listing = '<div class="news-list">' + "".join(bitrix_item(i, source) for i in items)
        listing += '<div class="modern-page-navigation"><a href="?PAGEN_1=2">2</a> '
        listing += '<a href="?PAGEN_1=3">3</a> <a href="?PAGEN_1=2">След.</a></div></div>'
    else:
        listing = '<main id="main" class="site-main">' + "".join(
            wordpress_item(i, source) for i in items
        )
        listing += '<nav class="navigation pagination"><a class="next page-numbers" '
        listing += f'href="/s{source}/news/page/2/">Далее</a></nav></main>'
    head = (
        '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
        f"<title>Новости — Организация {source}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta property="og:title" content="Новости"><meta property="og:url" content="{host}/">'
        '<link rel="stylesheet" href="/bitrix/cache/css/s1/main/template_styles.css">'
        f"{styles(rng)}{json_ld(source, host)}</head>\n"
    )
    body = (
        '<body class="page-news">'
        f'<header class="header"><a class="logo" href="/s{source}/"><img src="/logo.png" '
        'alt="Логотип"></a><form class="search" action="/search/"><input name="q" '
        'placeholder="Поиск по сайту"></form><div class="lang"><a href="/en/">EN</a> '
        '<a href="/ru/">RU</a></div>'
        f"<nav class='main-menu'>{menu(rng, source, 'top-menu', 7, 8)}</nav></header>\n"
        f"<nav class='mobile-menu'>{menu(rng, source, 'mobile-menu', 8, 5)}</nav>\n"
        f'<div class="breadcrumbs"><a href="/s{source}/">Главная</a> / <span>Новости</span></div>'
        f'<div class="content"><h1>Новости</h1>{listing}</div>\n'
        f'<aside class="sidebar">{most_read(rng, source)}<div class="sidebar-block tags">'
        + " ".join(f'<a href="/s{source}/tags/{w}/">{w}</a>' for w in rng.sample(WORDS_RU, 20))
        + f"</div>{social(source)}</aside>\n"
        f'<footer class="footer">{menu(rng, source, "footer-menu", 4, 8)}'
        '<div class="contacts">Москва, ул. Примерная, д. 1 · +7 (495) 000-00-00</div>'
        f'<div class="copyright">© 2024 Организация {source}</div></footer>\n'
        f"{cookie_banner()}\n{scripts(rng, source)}"
    )
    size = len((head + body).encode())
    filler = []
    while size < PAGE_BYTES - 300:  # the app state blob many CMS themes inline
        entry = json.dumps(
            {"id": rng.randint(1, 10**6), "text": words(rng, 4, 9)}, ensure_ascii=False
        )
        filler.append(entry)
        size += len(entry.encode()) + 1
    state = f'<script>window.__APP_STATE__ = {{"menu": [{",".join(filler)}]}};</script>'
    return (head + body + state + "</body></html>\n").encode()


# --- servers -------------------------------------------------------------------------------------

Handler = Callable[[socket.socket, threading.Event], None]


class Listener:
    """Accepts on `ports` loopback ports and runs `handle(conn, stopped)` in a thread each.

    stop() closes the ports and every open connection, so idle keep-alive connections and
    hung handlers end too.
    """

    def __init__(self, handle: Handler, ports: int = 1) -> None:
        self.handle = handle
        self.sockets = [socket.create_server(("127.0.0.1", 0), backlog=1024) for _ in range(ports)]
        self.ports = [s.getsockname()[1] for s in self.sockets]
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._wake_read, self._wake_write = socket.socketpair()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}"

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            for listening in (*self.sockets, self._wake_read):
                selector.register(listening, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_read:
                        return
                    assert isinstance(key.fileobj, socket.socket)
                    try:
                        conn, _ = key.fileobj.accept()
                    except OSError:
                        continue
                    thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                    with self._lock:
                        self._connections.add(conn)
                        self._threads.add(thread)
                    thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn, self.stopped)
        except OSError:
            pass  # the client went away
        finally:
            with self._lock:
                self._connections.discard(conn)
                self._threads.discard(threading.current_thread())
            conn.close()

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        self._wake_write.send(b"x")
        self._acceptor.join(5)
        for listening in (*self.sockets, self._wake_read, self._wake_write):
            listening.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)


@dataclass(frozen=True, slots=True)
class Response:
    ok: bytes  # 200: headers and body, sent with one write
    not_modified: bytes
    etag: str


def response(body: bytes) -> Response:
    etag = f'"{zlib.crc32(body):08x}-{len(body):x}"'
    common = f"ETag: {etag}\r\nCache-Control: no-cache\r\nServer: bench\r\n"
    ok = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{common}\r\n"
    ).encode() + body
    not_modified = f"HTTP/1.1 304 Not Modified\r\n{common}\r\n".encode()
    return Response(ok, not_modified, etag)


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class Site:
    """The listing pages /sN/news/ over HTTP/1.1 keep-alive, on `hosts` ports."""

    def __init__(self, sources: int, hosts: int) -> None:
        self.sources = sources
        self._variants: dict[bool, dict[str, Response]] = {}
        self.pages = self._pages(changed=False)
        self.counts: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.listener = Listener(self._handle, ports=min(hosts, sources))

    def _pages(self, changed: bool) -> dict[str, Response]:
        if changed not in self._variants:
            self._variants[changed] = {
                f"/s{n}/news/": response(render_page(n, changed)) for n in range(self.sources)
            }
        return self._variants[changed]

    def set_changed(self, changed: bool) -> None:
        self.pages = self._pages(changed)

    def url(self, source: int) -> str:
        return f"{self.listener.url(source)}/s{source}/news/"

    def config_sources(self, count: int | None = None) -> list[ConfigSource]:
        return [(f"s{n}", self.url(n), True) for n in range(count or self.sources)]

    def take_counts(self) -> Counter[int]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def _handle(self, conn: socket.socket, stopped: threading.Event) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb")
        while not stopped.is_set():
            request = reader.readline(65537).decode("latin-1").split()
            if not request:
                return
            headers: dict[str, str] = {}
            while (line := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            page = self.pages.get(request[1]) if len(request) == 3 else None
            if page is None:
                status, data = 404, NOT_FOUND
            elif headers.get("if-none-match") == page.etag:
                status, data = 304, page.not_modified
            else:
                status, data = 200, page.ok
            conn.sendall(data)
            with self._lock:
                self.counts[status] += 1
            if request[-1] == "HTTP/1.0" or headers.get("connection", "").lower() == "close":
                return


def hold(conn: socket.socket, stopped: threading.Event) -> None:
    """A hung server: accepts the connection and never answers."""
    stopped.wait()


TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"." * 1000


def trickle(conn: socket.socket, stopped: threading.Event) -> None:
    """A tarpit: the status line and headers one byte a second, never the end of them."""
    for byte in TRICKLE:
        if stopped.wait(1.0):
            return
        conn.sendall(bytes([byte]))


# --- child processes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int  # exit code; -N when killed by signal N
    wall: float  # seconds until the child itself ended
    cpu: float  # user + sys seconds of the child and all its descendants (worker pools too)
    rss_mb: float  # peak resident set of the child process itself (VmHWM, sampled)
    tree_rss_mb: float  # peak resident set of the child and its descendants, sampled
    processes: int  # most processes in the tree at one sample
    stderr: str


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants of our children (a forkserver, pool workers) become ours to reap,
    so their CPU is counted and none outlives the benchmark."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("bench_run: no subreaper: worker processes' CPU may be missing", file=sys.stderr)


def child_pids(pid: int) -> list[int]:
    """The children of a process, from /proc/PID/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread or process ended meanwhile
            found.extend(int(child) for child in task.read_text().split())
    return found


def process_tree(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(child_pids(pid))
    return found


def wait_for_exit(pid: int, timeout: float) -> None:
    """Block until `pid` (our child) ends; SIGKILL it after `timeout` seconds."""
    try:
        pidfd = os.pidfd_open(pid)  # readable when the process ends
    except ProcessLookupError:
        return
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(pidfd, selectors.EVENT_READ)
            if not selector.select(timeout):
                os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)


@dataclass(frozen=True, slots=True)
class Sample:
    rss_mb: float  # resident memory of the process tree
    root_peak_mb: float  # the root process's peak since it exec'd (VmHWM)
    cpu: float  # CPU seconds so far of the tree, and of the processes it has reaped
    processes: int


def sample(root: int) -> Sample:
    """RSS and CPU of a live process and its descendants (a worker pool), from /proc."""
    rss_kb = ticks = processes = peak_kb = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        memory = dict(line.split()[:2] for line in status.splitlines() if line.startswith("Vm"))
        rss_kb += int(memory.get("VmRSS:", 0))
        if pid == root:
            peak_kb = int(memory.get("VmHWM:", 0))
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime (14-17)
        processes += 1
    return Sample(rss_kb / 1024, peak_kb / 1024, ticks / os.sysconf("SC_CLK_TCK"), processes)


def sample_until(pid: int, ended: threading.Event, samples: list[Sample]) -> None:
    """Sample the process tree of `pid` every SAMPLE_EVERY seconds until `ended` is set."""
    while not ended.is_set():
        samples.append(sample(pid))
        ended.wait(SAMPLE_EVERY)


class Children:
    """Starts children and reaps them (and their orphans) with wait4; close() kills the rest."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.live: dict[int, tuple[subprocess.Popen[bytes], float, Path]] = {}
        self.env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.env["NO_PROXY"] = self.env["no_proxy"] = "127.0.0.1,localhost"
        self.env.pop("FEEDTOOL_CONFIG", None)
        self._count = 0

    def env_for(self, program: str, folder: Path) -> dict[str, str]:
        """urlwatch gets a HOME of its own: it must not read or write the user's settings."""
        return dict(self.env, HOME=str(folder / "home")) if program == "urlwatch" else self.env

    def start(self, command: list[str], env: dict[str, str] | None = None) -> int:
        self._count += 1
        log = self.folder / f"child-{self._count}"
        with open(log.with_suffix(".out"), "wb") as out, open(log.with_suffix(".err"), "wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env or self.env
            )
        self.live[proc.pid] = (proc, started, log.with_suffix(".err"))
        return proc.pid

    def wait(self, pid: int, timeout: float = RUN_TIMEOUT, grace: float = 10) -> Outcome:
        """Wait for the child to end (killing it after `timeout` seconds) and measure it.

        Processes it leaves behind get `grace` seconds to end before they are killed."""
        proc, started, err = self.live[pid]
        samples: list[Sample] = []
        ended = threading.Event()
        sampler = threading.Thread(target=sample_until, args=(pid, ended, samples), daemon=True)
        sampler.start()
        try:
            wait_for_exit(pid, timeout)
        finally:
            ended.set()
            sampler.join()
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
        del self.live[pid]
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        orphans = self._reap_orphans(grace)
        return Outcome(
            code=proc.returncode,
            wall=wall,
            cpu=sum(u.ru_utime + u.ru_stime for u in (usage, *orphans)),
            # Not wait4's ru_maxrss: Linux keeps in it the pre-exec high-water mark, the size
            # of this script (all its pages) at the fork that started the child.
            rss_mb=max((s.root_peak_mb for s in samples), default=0.0),
            tree_rss_mb=max((s.rss_mb for s in samples), default=0.0),
            processes=max((s.processes for s in samples), default=1),
            stderr=err.read_text(errors="replace"),
        )

    def _reap_orphans(self, grace: float) -> list[resource.struct_rusage]:
        """Descendants left behind by the child that just ended, reparented to us."""
        usages = []
        while orphans := [p for p in child_pids(os.getpid()) if p not in self.live]:
            for pid in orphans:
                wait_for_exit(pid, grace)
                with contextlib.suppress(ChildProcessError):
                    usages.append(os.wait4(pid, 0)[2])
        return usages

    def run(self, command: list[str], env: dict[str, str] | None = None) -> Outcome:
        return self.wait(self.start(command, env))

    def close(self) -> None:
        """Kill every child with all its descendants, and reap them."""
        for pid in list(self.live):
            for member in process_tree(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGKILL)
            self.wait(pid, timeout=5, grace=0)


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        sys.exit(f"bench_run: {path} not found (install feedtool into this Python's environment)")
    return str(path)


def compile_bytecode() -> None:
    """Byte-compile feedtool as `pip install` does. An editable checkout run with
    PYTHONDONTWRITEBYTECODE (set in some CI images) would otherwise compile every module it
    imports on every start, and start-up would be measured as no installed copy pays it."""
    import compileall

    import feedtool

    compileall.compile_dir(Path(feedtool.__file__).parent, quiet=1)


# --- configs -------------------------------------------------------------------------------------


ConfigSource = tuple[str, str, bool]  # id, url, whether to configure the page's selectors


def feedtool_config(folder: Path, sources: list[ConfigSource], settings: str = "") -> Path:
    """A feedtool.toml in `folder` (with state/ and public/ there)."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks = [
        f'[settings]\nstate_dir = "state"\noutput_dir = "public"\n'
        f'base_url = "http://feeds.test/"\n{settings}'
    ]
    for number, (source_id, url, selected) in enumerate(sources):
        block = f'[[sources]]\nid = "{source_id}"\nurl = "{url}"\ntype = "html"\ninterval = "1h"\n'
        if selected:
            pairs = SELECT[style(number)].items()
            block += "[sources.select]\n" + "".join(f'{k} = "{v}"\n' for k, v in pairs)
        blocks.append(block)
    path = folder / "feedtool.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def urlwatch_files(folder: Path, urls: list[str]) -> list[str]:
    """urls.yaml and urlwatch.yaml in `folder`; the urlwatch command line using them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "urls.yaml").write_text("---\n".join(f"url: {url}\n" for url in urls))
    (folder / "urlwatch.yaml").write_text(
        "display: {new: true, error: true, unchanged: false, empty-diff: false}\n"
        "report:\n"
        "  text: {details: false, footer: false, minimal: true}\n"
        "  stdout: {enabled: false, color: false}\n"
        "  html: {diff: unified}\n"
    )
    return [
        tool("urlwatch"),
        *("--urls", str(folder / "urls.yaml"), "--config", str(folder / "urlwatch.yaml")),
        *("--cache", str(folder / "cache.db"), "--hooks", str(folder / "hooks.py")),
    ]


def state_count(config: Path, query: str) -> int | None:
    """One number from a feedtool state database, None while it cannot be read."""
    db = config.parent / "state" / "feedtool.sqlite3"
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as c:
            return int(c.execute(query).fetchone()[0])
    except sqlite3.Error:
        return None


# --- the run benchmark ---------------------------------------------------------------------------

SCENARIOS = ("cold", "warm", "changed")


@dataclass(frozen=True, slots=True)
class Measured:
    outcome: Outcome
    http: Counter[int]
    items: int | None


def run_benchmark(args: argparse.Namespace, children: Children, folder: Path) -> None:
    sources: int = args.sources or 300
    started = time.perf_counter()
    site = Site(sources, args.hosts)
    try:
        page_kb = statistics.mean(len(r.ok) for r in site.pages.values()) / 1000
        print(
            f"feedtool run --force: {sources} sources x {ITEMS} items, {page_kb:.1f} KB pages, "
            f"{len(site.listener.ports)} host(s), median of {args.repeat} "
            f"(pages built in {time.perf_counter() - started:.1f} s)"
        )
        urlwatch = args.vs_urlwatch and (BIN / "urlwatch").exists()
        if args.vs_urlwatch and not urlwatch:
            print(f"urlwatch: not installed ({BIN / 'urlwatch'} missing), no comparison")
        results: dict[str, dict[str, list[Measured]]] = {"feedtool": {}, "urlwatch": {}}
        for repeat in range(args.repeat):  # each repeat: fresh states, cold, warm, changed
            site.set_changed(False)
            config = feedtool_config(folder / f"run-{repeat}", site.config_sources())
            commands = {"feedtool": [tool("feedtool"), "-c", str(config), "run", "--force"]}
            if urlwatch:
                urls = [site.url(n) for n in range(sources)]
                commands["urlwatch"] = urlwatch_files(folder / f"urlwatch-{repeat}", urls)
            for scenario in SCENARIOS:
                site.set_changed(scenario == "changed")
                for program, command in commands.items():  # interleaved
                    site.take_counts()
                    outcome = children.run(command, children.env_for(program, folder))
                    items = (
                        state_count(config, "SELECT count(*) FROM items")
                        if program == "feedtool"
                        else None
                    )
                    measured = Measured(outcome, site.take_counts(), items)
                    results[program].setdefault(scenario, []).append(measured)
                    if outcome.code != 0:
                        print(
                            f"  {program} {scenario} exited {outcome.code}: {tail(outcome.stderr)}"
                        )
            for leftover in (f"run-{repeat}", f"urlwatch-{repeat}"):
                shutil.rmtree(folder / leftover, ignore_errors=True)
        print_runs(results, sources)
    finally:
        site.listener.stop()


def tail(text: str) -> str:
    lines = text.strip().splitlines()
    return " | ".join(lines[-3:]) if lines else "(no stderr)"


def print_runs(results: dict[str, dict[str, list[Measured]]], sources: int) -> None:
    print(
        f"{'':9}{'scenario':<9}{'wall s':>7} {'(min-max)':<14}{'src/s':>6}{'CPU s':>7}"
        f"{'CPU ms/src':>11}{'RSS MB':>8}{'tree MB':>8}{'procs':>6}  {'HTTP 200/304':<13}"
        f"{'items':>6} exit"
    )
    walls: dict[str, dict[str, float]] = {}
    for program, scenarios in results.items():
        for scenario, runs in scenarios.items():
            outcomes = [m.outcome for m in runs]
            wall = statistics.median(o.wall for o in outcomes)
            cpu = statistics.median(o.cpu for o in outcomes)
            rss = statistics.median(o.rss_mb for o in outcomes)
            tree = statistics.median(o.tree_rss_mb for o in outcomes)
            processes = max(o.processes for o in outcomes)
            spread = f"({min(o.wall for o in outcomes):.2f}-{max(o.wall for o in outcomes):.2f})"
            last = runs[-1]
            http = f"{last.http[200]}/{last.http[304]}"
            items = "-" if last.items is None else str(last.items)
            codes = ",".join(sorted({str(o.code) for o in outcomes}))
            print(
                f"{program:<9}{scenario:<9}{wall:7.2f} {spread:<14}{sources / wall:6.0f}{cpu:7.2f}"
                f"{cpu / sources * 1000:11.1f}{rss:8.1f}{tree:8.1f}{processes:6d}  "
                f"{http:<13}{items:>6} {codes}"
            )
            walls.setdefault(program, {})[scenario] = wall
    if walls.get("urlwatch"):
        ratios = ", ".join(
            f"{scenario} {walls['feedtool'][scenario] / walls['urlwatch'][scenario]:.2f}"
            for scenario in SCENARIOS
        )
        print(f"wall time feedtool/urlwatch (below 1: feedtool faster): {ratios}")


# --- hung hosts ----------------------------------------------------------------------------------


def hang_benchmark(args: argparse.Namespace, children: Children, folder: Path) -> None:
    good = args.sources or HANG_GOOD
    site = Site(good, args.hosts)
    bad = [Listener(hold), Listener(hold), Listener(trickle), Listener(trickle)]
    try:
        settings = "timeout = 3\nretries = 0\n"
        kinds = ("hung-1", "hung-2", "slow-1", "slow-2")
        bad_sources = [
            (kind, f"{b.url()}/news/", False) for b, kind in zip(bad, kinds, strict=True)
        ]
        good_sources = site.config_sources()
        only_good = feedtool_config(folder / "hang-good", good_sources, settings=settings)
        with_bad = feedtool_config(
            folder / "hang-all", good_sources + bad_sources, settings=settings
        )
        print(f"hung hosts: {good} good sources + 2 that never answer + 2 that trickle headers")
        print("  timeout = 3, retries = 0; each run on an empty state")
        ok = children.run([tool("feedtool"), "-c", str(only_good), "run", "--force"])
        hung = children.run([tool("feedtool"), "-c", str(with_bad), "run", "--force"])
        lines = hung.stderr.strip().splitlines()
        print(f"  good only:      {ok.wall:6.2f} s wall, exit {ok.code}")
        print(
            f"  with hung ones: {hung.wall:6.2f} s wall, exit {hung.code}, "
            f"{len(lines)} stderr line(s) (expected {len(bad_sources)}):"
        )
        for line in lines:
            print(f"    {line}")
    finally:
        for listener in (site.listener, *bad):
            listener.stop()


# --- micro-figures -------------------------------------------------------------------------------


def median_ms(work: Callable[[], object], runs: int) -> float:
    work()  # warm-up: imports, compiled selectors
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def figure(label: str, measure: Callable[[], str]) -> None:
    try:
        value = measure()
    except Exception as e:  # a micro figure must not stop the others: the API may have moved
        value = f"n/a ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    print(f"  {label:<48} {value}")


def extraction(source: int, how: str) -> str:
    """One page through normalized_items: with configured "selectors", by "detection", or as
    an "auto" source's later runs go ("re-run": the selectors its first detection found)."""
    from feedtool.extract import normalized_items
    from feedtool.model import Fetched, Selectors, Source, Validators

    url = f"http://127.0.0.1:8/s{source}/news/"
    select = Selectors(**SELECT[style(source)]) if how == "selectors" else None
    config = Source(id=f"s{source}", url=url, type="html", select=select)
    fetched = Fetched(
        url=url,
        status=200,
        body=render_page(source, changed=False),
        content_type="text/html",
        charset="utf-8",
        validators=Validators(),
    )

    def offline(url: str) -> Any:
        raise RuntimeError(f"no fetching in the micro benchmark: {url}")

    learned = None
    if how == "re-run":
        first, _ = normalized_items(config, fetched, now=datetime.now(UTC), fetch=offline)
        learned = first.selectors
    found: list[int] = []

    def work() -> None:
        _, items = normalized_items(
            config, fetched, now=datetime.now(UTC), fetch=offline, learned=learned
        )
        found.append(len(items))

    ms = median_ms(work, 15)
    return f"{ms:8.1f} ms  ({found[-1]} of {ITEMS} items)"


def feed_writing(count: int, folder: Path) -> str:
    from feedtool.model import StoredItem
    from feedtool.publish import FeedInfo, write_feeds

    now = datetime(2024, 12, 31, tzinfo=UTC)
    items = [
        StoredItem(
            source_id="bench",
            key=f"example.org/news/{i}",
            title=f"Headline number {i} about cooperation",
            link=f"https://example.org/news/{i}/",
            published=now - timedelta(hours=i),
            date_inferred=False,
            updated=now - timedelta(hours=i),
            first_seen=now - timedelta(hours=i),
            summary=f"<p>Summary {i} with <b>bold</b> text and a <a href='/x/{i}'>link</a>.</p>"
            * 3,
        )
        for i in range(count)
    ]
    info = FeedInfo(id="bench", title="Bench", site_url="https://example.org/news/")
    runs = iter(range(10**6))

    def work() -> None:  # a fresh folder each time: the files are written, not found unchanged
        write_feeds(info, items, folder / f"feeds-{count}-{next(runs)}", "http://feeds.test/")

    return f"{median_ms(work, 20 if count < 500 else 5):8.1f} ms"


def config_loading(folder: Path, sources: int) -> str:
    """Loading a config of `sources` sources whose selectors all differ, as different sites'
    do (the runs above give every source of a page style the same selectors)."""
    from feedtool import config
    from feedtool.extract.selector import Selector

    def distinct(value: str, number: int) -> str:
        css, at, attribute = value.partition("@")
        return f"{css}.site-{number}{at}{attribute}"

    blocks = ['[settings]\nstate_dir = "state"\noutput_dir = "public"\n']
    for n in range(sources):
        pairs = [
            (k, v if k == "date_format" else distinct(v, n)) for k, v in SELECT[style(n)].items()
        ]
        blocks.append(
            f'[[sources]]\nid = "s{n}"\nurl = "https://site{n}.example/news/"\n'
            + "[sources.select]\n"
            + "".join(f'{k} = "{v}"\n' for k, v in pairs)
        )
    path = folder / "distinct.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")

    def work() -> None:
        Selector.compile.cache_clear()  # as in a new process
        config.load(path)

    return f"{median_ms(work, 7):8.1f} ms"


def startup(children: Children, command: list[str]) -> str:
    times = []
    for _ in range(10):
        outcome = children.run(command)
        if outcome.code != 0:
            raise RuntimeError(f"exit {outcome.code}: {tail(outcome.stderr)}")
        times.append(outcome.wall)
    return f"{statistics.median(times) * 1000:8.1f} ms"


def micro_benchmark(children: Children, folder: Path) -> None:
    print(f"micro-figures (median; pages of ~{PAGE_BYTES // 1000} KB with {ITEMS} items):")
    for source, dates in ((0, "23.12.2024"), (1, "23 декабря 2024")):
        for how in ("selectors", "detection", "re-run"):
            figure(f"extract, {how}, dates like {dates}", partial(extraction, source, how))
    for count in (50, 1000):
        figure(
            f"write_feeds, {count} entries (Atom+RSS+JSON)", partial(feed_writing, count, folder)
        )
    small = feedtool_config(
        folder / "micro", [(f"s{n}", f"http://127.0.0.1:9/s{n}/news/", True) for n in range(3)]
    )
    figure(
        "config load, 300 sources with their own selectors", partial(config_loading, folder, 300)
    )
    figure("start-up: feedtool --help", lambda: startup(children, [tool("feedtool"), "--help"]))
    status = [tool("feedtool"), "-c", str(small), "status"]
    figure("start-up: feedtool status (3 sources)", lambda: startup(children, status))


# --- daemon --------------------------------------------------------------------------------------


def daemon_benchmark(args: argparse.Namespace, children: Children, folder: Path) -> None:
    sources = args.sources or 1000
    site = Site(sources, args.hosts)
    try:
        config = feedtool_config(folder / "daemon", site.config_sources())
        print(
            f"feedtool daemon: {sources} sources, interval 1h, {len(site.listener.ports)} host(s)"
        )
        pid = children.start([tool("feedtool"), "-c", str(config), "daemon"])
        started = children.live[pid][1]
        done = "SELECT count(*) FROM sources WHERE last_check IS NOT NULL"
        cycle: list[Sample] = []
        while state_count(config, done) != sources:
            cycle.append(sample(pid))
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                sys.exit(f"feedtool daemon died: {tail(children.live[pid][2].read_text())}")
            if time.perf_counter() - started > RUN_TIMEOUT:
                raise TimeoutError(f"no first cycle after {RUN_TIMEOUT:.0f} s")
            time.sleep(0.1)
        first = time.perf_counter() - started
        at_first = sample(pid)
        peak = max(cycle, key=lambda s: s.rss_mb, default=at_first)
        http = site.take_counts()
        print(
            f"  first cycle:  {first:7.2f} s ({sources / first:.0f} sources/s), "
            f"CPU {at_first.cpu:.2f} s, sampled RSS peak {peak.rss_mb:.1f} MB "
            f"({peak.processes} process(es)), HTTP 200/304: {http[200]}/{http[304]}"
        )
        samples = []
        while time.perf_counter() - started - first < DAEMON_IDLE:
            time.sleep(0.5)
            samples.append(sample(pid))
        idle_cpu = samples[-1].cpu - at_first.cpu
        low, high = min(s.rss_mb for s in samples), max(s.rss_mb for s in samples)
        processes = ",".join(str(n) for n in sorted({s.processes for s in samples}))
        requests = sum(site.take_counts().values())
        print(
            f"  idle {DAEMON_IDLE:.0f} s:    RSS {low:.1f}-{high:.1f} MB, CPU {idle_cpu:.2f} s "
            f"({idle_cpu / DAEMON_IDLE * 100:.1f} % of a core), {processes} process(es), "
            f"{requests} requests"
        )
        stop_sent = time.perf_counter() - started
        os.kill(pid, signal.SIGTERM)
        outcome = children.wait(pid, timeout=30)
        print(
            f"  SIGTERM:      exit {outcome.code} after {outcome.wall - stop_sent:.2f} s; "
            f"in all: CPU {outcome.cpu:.2f} s, peak RSS of the main process {outcome.rss_mb:.1f} MB"
        )
    finally:
        site.listener.stop()


# --- main ----------------------------------------------------------------------------------------


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sources", type=int, help="sources (default 300; --hang 60, --daemon 1000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per scenario; the median is shown"
    )
    parser.add_argument(
        "--hosts", type=int, default=1, help="local ports the sources are spread over"
    )
    parser.add_argument(
        "--vs-urlwatch", action="store_true", help="run urlwatch on the same pages too"
    )
    parser.add_argument("--hang", action="store_true", help="hung-hosts scenario")
    parser.add_argument("--micro", action="store_true", help="per-page and start-up figures")
    parser.add_argument("--daemon", action="store_true", help="feedtool daemon: first cycle, idle")
    args = parser.parse_args()
    compile_bytecode()
    signal.signal(signal.SIGTERM, on_sigterm)
    become_subreaper()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-run-")))
        children = Children(folder)
        stack.callback(children.close)
        try:
            if args.vs_urlwatch or not (args.hang or args.micro or args.daemon):
                run_benchmark(args, children, folder)
            if args.hang:
                hang_benchmark(args, children, folder)
            if args.micro:
                micro_benchmark(children, folder)
            if args.daemon:
                daemon_benchmark(args, children, folder)
        except KeyboardInterrupt:
            print("interrupted; stopping servers and children", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
