"""The ASGI application: output_dir's files, the status page, a page per source, OPML.

Every response goes through `_respond`, so pages and feeds alike get a strong ETag, 304s,
and gzip or brotli when the client asks. Endpoints are plain functions: Starlette runs them on
its thread pool, so reading a file or the state database never blocks the event loop that
holds the idle connections.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedtool import report
from feedtool.errors import StateError
from feedtool.model import SUFFIXES, StoredItem
from feedtool.store import Store
from feedtool.terminal import printable
from feedtool.web.files import Body, FileCache, choose_coding, http_date, locate, not_modified
from feedtool.web.site import Site

access_log = logging.getLogger("feedtool.serve")

BROTLI = importlib.util.find_spec("brotli") is not None
HTML = "text/html; charset=utf-8"
# The pages need nothing but their own stylesheet: no scripts, frames or outside requests.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'"
)
FORMATS = (  # (suffix, label, media type) of each feed a source publishes
    (".atom.xml", "Atom", "application/atom+xml"),
    (".rss.xml", "RSS", "application/rss+xml"),
    (".json", "JSON Feed", "application/feed+json"),
)
ENTRIES_SHOWN = 30


@dataclass(frozen=True, slots=True)
class FeedLink:
    label: str
    media_type: str
    href: str  # relative to the page, so the site works behind a proxy under a sub-path
    published: bool


def create_app(site: Site) -> ASGIApp:
    """The application for `site`, with an access log that never prints raw control bytes."""
    pages = _Pages(site)
    routes = [
        Route("/", pages.index, methods=["GET"]),
        Route("/source/{source_id}", pages.source, methods=["GET"]),
        Route("/feeds.opml", pages.opml, methods=["GET"]),
        Route("/_/style.css", pages.style, methods=["GET"]),
        Route("/{path:path}", pages.file, methods=["GET"]),
    ]
    return AccessLog(Starlette(routes=routes))


class _Pages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.files = FileCache()

    def index(self, request: Request) -> Response:
        cfg = self.site.config
        found, problem = report.reports(cfg, newest=True)
        html = _render(
            "index.html",
            root="",
            reports=found,
            problem=problem,
            feeds={r.id: self._feed_links(r.id, "") for r in found},
            counts={s: sum(r.state == s for r in found) for s in _STATES if s},
        )
        return _respond(request, Body(html.encode(), HTML), cache_control="no-cache", page=True)

    def source(self, request: Request) -> Response:
        cfg = self.site.config
        source_id = request.path_params["source_id"]
        found, problem = report.reports(cfg, newest=False)
        chosen = next((r for r in found if r.id == source_id), None)
        if chosen is None:
            return PlainTextResponse("Not Found", 404)
        entries: list[StoredItem] = []
        try:
            store = Store.open_existing(cfg.settings.state_dir)
        except StateError:
            store = None
        if store is not None:
            with store:
                entries = store.items(source_id, ENTRIES_SHOWN)
        html = _render(
            "source.html",
            root="../",
            r=chosen,
            problem=problem,
            entries=entries,
            feeds=self._feed_links(source_id, "../"),
        )
        return _respond(request, Body(html.encode(), HTML), cache_control="no-cache", page=True)

    def opml(self, request: Request) -> Response:
        from feedtool.opml import opml

        body = Body(opml(self.site.config).encode(), "text/x-opml; charset=utf-8")
        response = _respond(request, body, cache_control="no-cache")
        response.headers["Content-Disposition"] = 'attachment; filename="feeds.opml"'
        return response

    def style(self, request: Request) -> Response:
        return _respond(request, _stylesheet(), cache_control="public, max-age=3600")

    def file(self, request: Request) -> Response:
        name = request.path_params["path"]
        path = locate(self.site.config.settings.output_dir, name)
        body = self.files.read(path) if path is not None else None
        if body is None:
            return PlainTextResponse("Not Found", 404)
        max_age = next(
            (self.site.max_age(name[: -len(s)]) for s in SUFFIXES if name.endswith(s)), None
        )
        control = "no-cache" if max_age is None else f"public, max-age={max_age}"
        return _respond(request, body, cache_control=control)

    def _feed_links(self, source_id: str, root: str) -> list[FeedLink]:
        output = self.site.config.settings.output_dir
        return [
            FeedLink(
                label,
                media,
                f"{root}{source_id}{suffix}",
                (output / f"{source_id}{suffix}").is_file(),
            )
            for suffix, label, media in FORMATS
        ]


_STATES = ("ok", "degraded", "failing", "broken", "new")


def _respond(request: Request, body: Body, *, cache_control: str, page: bool = False) -> Response:
    """200 or 304 with validators, in the coding the client prefers (Vary says it chose)."""
    coding = None
    if body.compressible:
        coding = choose_coding(request.headers.get("accept-encoding"), brotli=BROTLI)
    headers = {
        "ETag": body.etag(coding),
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
    }
    if body.compressible:
        headers["Vary"] = "Accept-Encoding"
    if body.modified is not None:
        headers["Last-Modified"] = http_date(body.modified)
    if page:
        headers["Content-Security-Policy"] = PAGE_POLICY
        headers["Referrer-Policy"] = "no-referrer"
    if not_modified(request.headers, body):
        return Response(status_code=304, headers=headers)
    if coding is not None:
        headers["Content-Encoding"] = coding
    headers["Content-Type"] = body.media_type
    return Response(body.encoded(coding), headers=headers)  # uvicorn drops it for HEAD


@cache
def _stylesheet() -> Body:
    css = resources.files("feedtool.web").joinpath("static/style.css").read_bytes()
    return Body(css, "text/css; charset=utf-8")


@cache
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("feedtool.web", "templates"),
        autoescape=True,  # every value a page shows came from someone else's web site
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    environment.filters["when"] = _when
    environment.filters["iso"] = report.iso
    environment.filters["excerpt"] = _excerpt
    environment.filters["every"] = _every
    return environment


def _visible(value: object) -> object:
    """A value as a page shows it: control characters written as escapes ("\\x1b"), as logs
    and `status` show them, so that a server's terminal codes never reach a browser raw."""
    if isinstance(value, Markup):
        return Markup(printable(str(value), keep="\t\n"))
    return printable(value, keep="\t\n") if isinstance(value, str) else value


def _render(name: str, **context: Any) -> str:
    return _templates().get_template(name).render(**context)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def _excerpt(html: str | None, width: int = 240) -> str:
    """A summary (sanitised HTML) as plain text, cut; autoescape escapes what is left."""
    text = " ".join(Markup(html or "").striptags().split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _every(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class AccessLog:
    """One INFO line per request: client, request line, status, bytes sent.

    The request target is logged as the client sent it (raw_path), with every byte outside
    printable ASCII written as \\xNN, so a request line carrying escape sequences cannot
    drive the terminal or forge log lines.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, sent = 0, 0

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            target = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            if scope.get("query_string"):
                target += b"?" + scope["query_string"]
            client = scope.get("client")
            access_log.info(
                '%s "%s %s HTTP/%s" %d %d',
                client[0] if client else "-",
                _loggable(scope["method"].encode("latin-1", "replace")),
                _loggable(target),
                scope.get("http_version", "1.1"),
                status,
                sent,
            )


def _loggable(raw: bytes) -> str:
    """Bytes as text safe for a log line: printable ASCII kept, the rest as \\xNN."""
    return "".join(chr(b) if 0x21 <= b <= 0x7E and b != 0x5C else f"\\x{b:02x}" for b in raw)
