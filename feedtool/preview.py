"""`feedtool preview URL`: what a source would publish, without touching any state."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedtool import extract, normalize
from feedtool.errors import UsageError
from feedtool.fetch import Fetcher
from feedtool.model import Fetched, Item, Selectors, Source

SELECTOR_FIELDS = ("item", "title", "link", "date", "summary", "content")


def preview(args: argparse.Namespace) -> int:
    if urlsplit(args.url).scheme not in ("http", "https"):
        raise UsageError(f"invalid URL {args.url!r} (expected http:// or https://)")
    selectors = _selectors(args)
    source = Source(
        id="preview",
        url=args.url,
        type="html" if selectors and args.type == "auto" else args.type,
        select=selectors,
    )
    with Fetcher() as fetcher:
        fetched = fetcher.get(args.url)
        assert isinstance(fetched, Fetched)  # no validators sent: never a 304
        extracted = extract.items(source, fetched, fetch=fetcher.get)
    items = normalize.items(
        extracted.items,
        source=source,
        page_url=extracted.base_url or fetched.url,
        now=datetime.now(UTC),
    )
    print(table(items))
    print(
        f"\n{len(items)} items, {extracted.skipped} skipped"
        + (f", next page: {extracted.next_url}" if extracted.next_url else "")
    )
    if selectors is None and extracted.selectors is not None:
        print("\nTo pin these items, add to the source:\n")
        print(select_block(extracted.selectors))
    return 0


def _selectors(args: argparse.Namespace) -> Selectors | None:
    given = {field: getattr(args, field) for field in SELECTOR_FIELDS if getattr(args, field)}
    if not given and not args.date_format:
        return None
    if "item" not in given:
        raise UsageError("--item is required when other selectors are given")
    return Selectors(**given, date_format=args.date_format)


def table(items: list[Item]) -> str:
    """DATE | TITLE | LINK; '~' marks a date not read from the page (first-seen time)."""
    lines = [f"{'DATE':<11} {'TITLE':<60} LINK"]
    for item in items:
        day = item.published.strftime("%Y-%m-%d") + ("~" if item.date_inferred else " ")
        title = item.title if len(item.title) <= 60 else item.title[:59] + "…"
        lines.append(f"{day:<11} {title:<60} {item.link or ''}")
    return "\n".join(lines)


def select_block(selectors: Selectors) -> str:
    lines = ["[sources.select]"]
    for field in (*SELECTOR_FIELDS, "date_format"):
        value = getattr(selectors, field)
        if value:
            lines.append(f'{field} = "{value}"'.replace("\\", "\\\\"))
    return "\n".join(lines)
