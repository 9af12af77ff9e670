"""`feedtool preview URL`: what a source would publish, without touching any state."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedtool import config, extract
from feedtool.errors import ConfigError, SourceError, UsageError
from feedtool.fetch import HttpFetcher
from feedtool.model import Item, Selectors, Source
from feedtool.normalize import html_to_text

SELECTOR_FIELDS = ("item", "title", "link", "date", "summary", "content")


def preview(args: argparse.Namespace) -> int:
    """Fetch a page once and print the items a source with these options would publish."""
    if urlsplit(args.url).scheme not in ("http", "https"):
        raise UsageError(f"invalid URL {args.url!r} (expected http:// or https://)")
    selectors = _selectors(args)
    source = Source(
        id="preview",
        url=args.url,
        type="html" if selectors and args.type == "auto" else args.type,
        select=selectors,
    )
    with HttpFetcher() as fetcher:
        try:
            fetched = extract.fetch_document(fetcher.get, args.url)
            extracted, items = extract.normalized_items(
                source, fetched, now=datetime.now(UTC), fetch=fetcher.get
            )
        except SourceError as e:
            raise SourceError(f"{args.url}: {e}") from e
    print(table(items))
    undated = sum(item.date_inferred for item in items)
    print(
        f"\n{len(items)} items, {extracted.skipped} skipped"
        + (f", {undated} without a readable date (~)" if undated else "")
        + (f", next page: {extracted.next_url}" if extracted.next_url else "")
    )
    if not items and selectors is not None:
        print(f"nothing usable: does --item {selectors.item!r} match the items on the page?")
    if selectors is None and extracted.selectors is not None:
        print("\nTo pin these items, add to the source:\n")
        print(select_block(extracted.selectors))
    return 0


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
