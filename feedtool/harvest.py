"""The one harvest path: a source's first page to the items it publishes.

`run`, `preview`, `snapshot` and `check` all go through `harvest`, so what preview shows and
check compares is what run stores and publishes: extraction and normalization of each page,
the diagnosis of a page without items, pagination, identity (Item.key, set by normalization)
and the include/exclude filters, in that order.

What differs between the callers comes in as arguments: how a page is extracted (run may use
its process pool and the selectors detection learned earlier), how further documents are
fetched (live, recorded for a snapshot, or replayed offline by check), and which item keys are
known already (run's state; None reads every page up to max_pages, as a first run does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from feedtool.errors import EmptyPageError, SourceError
from feedtool.model import Extracted, Fetched, Item, NotModified, Paginate, Selectors, Source

logger = logging.getLogger(__name__)

Fetch = Callable[[str], Fetched | NotModified]
ExtractPage = Callable[[Fetched], tuple[Extracted, list[Item]]]
Known = Callable[[Sequence[str]], set[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRead:
    """One page the walk read: its URL, its usable items (before the filters), the next page
    it names (None: the walk could go no further)."""

    url: str
    items: tuple[Item, ...]
    skipped: int
    next_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Harvest:
    """What a source's pages yield, as a run would store it."""

    items: tuple[Item, ...]  # every page's usable items that pass include/exclude, in order
    filtered: tuple[Item, ...]  # usable items include/exclude dropped
    skipped: int  # items without a title or link
    first: Extracted  # what the first page said of itself: title, warning, site, selectors
    pages: tuple[PageRead, ...]  # in the order walked; the first page first


def harvest(
    source: Source,
    first: Fetched,
    *,
    extract_page: ExtractPage,
    fetch: Fetch,
    known: Known | None = None,
) -> Harvest:
    """Items of the first page, then of the following ones up to `paginate.max_pages`.

    With `known` (a run with state), the walk stops after a page holding any known item:
    everything beyond it is known too. Without (a first run, a backfill, preview, snapshot,
    check), every page up to max_pages is read. A next page already read, or one that fails,
    ends the walk and keeps what was read. Raises EmptyPageError, with what the page looks
    like instead, when the first page of a scraped source has no usable item.
    """
    extracted, items = extract_page(first)
    pages = [_read(first.url, extracted, items)]
    if not items and not extracted.from_feed:  # an empty feed is a quiet feed, not a fault
        raise EmptyPageError(empty_message(source, first, pages[0].skipped))
    first_extracted = extracted
    visited = {first.url, source.url}
    for _ in range(source.paginate.max_pages - 1):
        next_url = extracted.next_url
        if not next_url or next_url in visited:
            break
        if known is not None and known([item.key for item in items]):
            break
        visited.add(next_url)
        try:
            following = fetch(next_url)
            if not isinstance(following, Fetched):
                break
            extracted, items = extract_page(following)
        except SourceError as e:
            logger.warning("%s: page %s not read: %s", source.id, next_url, e)
            break
        visited.add(following.url)
        pages.append(_read(following.url, extracted, items))
    from feedtool.normalize import passes_filters  # lxml and nh3: only for pages that changed

    found = [item for page in pages for item in page.items]
    kept = [item for item in found if passes_filters(item, source.include, source.exclude)]
    kept_ids = {id(item) for item in kept}
    return Harvest(
        items=tuple(kept),
        filtered=tuple(item for item in found if id(item) not in kept_ids),
        skipped=sum(page.skipped for page in pages),
        first=first_extracted,
        pages=tuple(pages),
    )


def _read(url: str, extracted: Extracted, items: list[Item]) -> PageRead:
    skipped = extracted.skipped + len(extracted.items) - len(items)
    return PageRead(url=url, items=tuple(items), skipped=skipped, next_url=extracted.next_url)


def stateless(
    source: Source, first: Fetched, *, now: datetime, fetch: Fetch, learned: Selectors | None = None
) -> Harvest:
    """`harvest` as a first run reads: no state, every page up to max_pages, extraction in
    this process. What preview, snapshot and check use."""
    from feedtool import extract  # parsers: only when a page is read

    def extract_page(fetched: Fetched) -> tuple[Extracted, list[Item]]:
        return extract.normalized_items(source, fetched, now=now, fetch=fetch, learned=learned)

    return harvest(source, first, extract_page=extract_page, fetch=fetch)


def as_run_reads(source: Source, state_dir: Path) -> tuple[Source, Selectors | None]:
    """The source as the next `run` reads it, for preview, snapshot and check: with the
    selectors `heal = "auto"` switched to, and those detection remembered (the state is only
    read, never created or migrated; without it, the source as configured)."""
    from feedtool.errors import StateError
    from feedtool.health import healed_in_use
    from feedtool.store import Store

    try:
        store = Store.open_existing(state_dir)
        if store is None:
            return source, None
        with store:
            state = store.source(source.id)
    except StateError:
        return source, None
    if state is None:
        return source, None
    if (healed := healed_in_use(source, state.healed)) is not None:
        source = replace(source, select=healed.new)
    return source, state.learned


def empty_message(source: Source, first: Fetched, skipped: int) -> str:
    """Why a page gave no item: its skipped items, else what it looks like instead."""
    if skipped:
        return f"no usable items: {skipped} lacked a title or link"
    from feedtool.errors import ExtractError
    from feedtool.extract.diagnose import diagnose
    from feedtool.extract.html import Page

    try:
        page = Page.parse(first.body, first.charset, first.content_type, first.url)
    except ExtractError:
        return "no items found"
    looks = diagnose(page)
    if looks:
        return f"no items found: the page looks like {looks}"
    if source.select is not None:
        return "no items found (do the selectors still match?)"
    return "no items found: no repeated blocks of links on the page"


def pagination_key(paginate: Paginate) -> str:
    """The pagination config as state remembers it: a change means one backfill.

    JSON, so that the state database stays readable.
    """
    return json.dumps({"next": paginate.next, "max_pages": paginate.max_pages}, sort_keys=True)
