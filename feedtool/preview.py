"""`feedtool preview URL|SOURCE_ID`: what a source would publish, without touching any state.

The items come from the harvest `run` uses (harvest.py): the same extraction, pages, identity
and filters, so what preview shows for a configured source is what run publishes (full text
aside: preview fetches no article pages).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import cast
from urllib.parse import urlsplit

from feedtool import config, extract, harvest, health
from feedtool.errors import ConfigError, EmptyPageError, SourceError, UsageError
from feedtool.extract.selector import Selector
from feedtool.extract.syntax import SelectorError
from feedtool.fetch import HttpFetcher
from feedtool.model import Fetched, Item, Paginate, Selectors, Settings, Source, SourceType
from feedtool.normalize import html_to_text
from feedtool.terminal import printable

SELECTOR_FIELDS = ("item", "title", "link", "date", "summary", "content")


def preview(args: argparse.Namespace) -> int:
    """Fetch a source's pages once and print the items it would publish.

    Returns 1 when nothing would be published (an empty page is an error with a diagnosis).
    """
    source, settings = _source(args)
    learned = None
    if settings is not None:  # a configured source: as its next run reads it
        source, learned = harvest.as_run_reads(source, settings.state_dir)
    fetcher = HttpFetcher.for_settings(settings) if settings else HttpFetcher()
    with fetcher:
        try:
            first = extract.fetch_document(fetcher.get, source.url)
            result = harvest.stateless(
                source, first, now=datetime.now(UTC), fetch=fetcher.get, learned=learned
            )
        except EmptyPageError as e:
            raise EmptyPageError(f"{source.url}: {e}{_hint(source, str(e))}") from e
        except SourceError as e:
            raise SourceError(f"{source.url}: {e}") from e
    items = list(result.items)
    print(table(items))
    undated = sum(item.date_inferred for item in items)
    print(
        f"\n{len(items)} items, {result.skipped} skipped"
        + (f", {len(result.filtered)} filtered out by include/exclude" if result.filtered else "")
        + (f", {undated} without a readable date (~)" if undated else "")
    )
    said = result.first
    for warning in health.field_warnings(source.select, said.items, said.unmatched):
        print(f"warning: {warning}")
    if source.paginate.max_pages > 1:
        print(printable(pages(result, source.paginate.max_pages), keep="\t\n"))
    if settings is None:  # a URL: the whole source to paste
        print("\nTo watch this page, add to feedtool.toml:\n")
        print(source_block(source, result, first))
    elif source.select is None and result.first.selectors is not None:
        print("\nTo pin these items, add to the source:\n")
        print(select_block(result.first.selectors))
    if not items:
        why = "every item is filtered out by include/exclude" if result.filtered else "no entries"
        print(f"feedtool: nothing to publish: {why}", file=sys.stderr)
        return 1
    return 0


def _source(args: argparse.Namespace) -> tuple[Source, Settings | None]:
    """The source to preview: a configured one by id (with its settings), or one made of a
    URL and the options. Options given on the command line replace the source's own."""
    target: str = args.target
    selectors = _selectors(args)
    paginate = _paginate(args)
    if re.fullmatch(r"[a-z0-9-]+", target):
        cfg = config.load(config.resolve_path(args.config), secrets=False)
        try:
            source = cfg.source(target)
        except KeyError:
            raise UsageError(f"no source with id {target!r} in {cfg.path}") from None
        changes: dict[str, object] = {}
        if selectors is not None:
            changes["select"] = selectors
        if args.type is not None:
            changes["type"] = args.type
        if args.next is not None or args.max_pages is not None:
            changes["paginate"] = Paginate(
                next=args.next or source.paginate.next,
                max_pages=args.max_pages or source.paginate.max_pages,
            )
        return replace(source, **changes), cfg.settings  # type: ignore[arg-type]
    if config.url_problem(target):
        raise UsageError(
            f"invalid URL {target!r} (expected http:// or https://, or a source id [a-z0-9-]+)"
        )
    source_type = cast(SourceType, args.type or ("html" if selectors else "auto"))
    return (
        Source(
            id=suggest_id(target),
            url=target,
            type=source_type,
            select=selectors,
            paginate=paginate or Paginate(),
        ),
        None,
    )


def _selectors(args: argparse.Namespace) -> Selectors | None:
    """The selector options, checked as the config checks [sources.select] (UsageError)."""
    given = {field: getattr(args, field) for field in SELECTOR_FIELDS if getattr(args, field)}
    if args.date_format:
        given["date_format"] = args.date_format
    if not given:
        return None
    try:
        return config.selectors(given)
    except ConfigError as e:
        raise UsageError(f"--{str(e).replace('_', '-')}") from None


def _paginate(args: argparse.Namespace) -> Paginate | None:
    """--next and --max-pages; --next alone follows up to 3 pages (1 would not follow it)."""
    if args.next is None and args.max_pages is None:
        return None
    if args.next is not None:
        try:
            Selector.compile(args.next)
        except SelectorError as e:
            raise UsageError(f"--next: {e.problem}") from None
    if args.max_pages is not None and args.max_pages < 1:
        raise UsageError(f"--max-pages: expected a positive number, got {args.max_pages}")
    default = 3 if args.next else 1
    return Paginate(next=args.next, max_pages=args.max_pages or default)


def _hint(source: Source, message: str) -> str:
    """What to try when a page gave nothing and the diagnosis has no advice of its own."""
    if "looks like" in message:
        return ""
    if source.select is not None:
        return f"; does --item {source.select.item!r} match the items on the page?"
    return "; name the items yourself with --item SEL (and --title, --link, --date)"


def pages(result: harvest.Harvest, max_pages: int) -> str:
    """One line per page walked: its URL and item count; then why the walk stopped early."""
    lines = [
        f"page {number}: {page.url}  {len(page.items)} items"
        for number, page in enumerate(result.pages, 1)
    ]
    last = result.pages[-1]
    if len(result.pages) < max_pages and last.next_url is None:
        number = len(result.pages)
        lines.append(
            f"no link to a further page found on page {number} (if there is one: --next SEL)"
        )
    return "\n".join(lines)


def table(items: list[Item]) -> str:
    """DATE | TITLE | LINK, and the summary's start below; '~' marks a date not read from the
    page (the first-seen time stands in)."""
    lines = [f"{'DATE':<11} {'TITLE':<60} LINK"]
    for item in items:
        day = item.published.strftime("%Y-%m-%d") + ("~" if item.date_inferred else " ")
        lines.append(f"{day:<11} {_cut(item.title, 60):<60} {item.link or ''}")
        if summary := html_to_text(item.summary):
            lines.append(f"{'':<11} {_cut(summary, 100)}")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def suggest_id(url: str) -> str:
    """A source id from the URL's host and path: "https://www.example.org/news/" gives
    "example-org-news"; "www." and an index file name are left out."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    path = re.sub(r"(?:^|/)index\.\w+$", "", parts.path)
    words = re.sub(r"[^a-z0-9]+", "-", f"{host} {path}".lower()).strip("-")
    return words[:48].rstrip("-") or "source"


def source_block(source: Source, result: harvest.Harvest, first: Fetched) -> str:
    """A [[sources]] table to paste: id, url, type, and the selectors and pagination used."""
    from feedtool.extract.feed import looks_like_feed

    selectors = source.select or result.first.selectors
    if result.first.from_feed:
        source_type = "feed" if looks_like_feed(first) else "auto"  # else: an advertised feed
    else:
        source_type = "html" if selectors else source.type
    lines = [
        "[[sources]]",
        f"id = {toml_string(source.id)}",
        f"url = {toml_string(source.url)}",
        f"type = {toml_string(source_type)}",
    ]
    if selectors is not None and not result.first.from_feed:
        lines += ["", select_block(selectors)]
    if source.paginate != Paginate():
        lines += ["", "[sources.paginate]"]
        if source.paginate.next:
            lines.append(f"next = {toml_string(source.paginate.next)}")
        lines.append(f"max_pages = {source.paginate.max_pages}")
    return "\n".join(lines)


def select_block(selectors: Selectors) -> str:
    """A [sources.select] table to paste into feedtool.toml."""
    lines = ["[sources.select]"]
    for field in (*SELECTOR_FIELDS, "date_format"):
        value = getattr(selectors, field)
        if value:
            lines.append(f"{field} = {toml_string(value)}")
    return "\n".join(lines)


_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(value: str) -> str:
    """value as a TOML basic string: quote, backslash and control characters escaped."""
    escaped = "".join(
        _TOML_ESCAPES.get(c) or (f"\\u{ord(c):04X}" if c < " " or c == "\x7f" else c) for c in value
    )
    return f'"{escaped}"'
