"""Extraction: fetched bytes to RawItems, by the source's type.

- "feed": RSS/Atom (feedparser) or JSON Feed.
- "html": the selectors, else automatic detection.
- "auto": a feed if the URL serves one or the page advertises one, else automatic detection
  (or the selectors, when given).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from feedtool.errors import ExtractError, FetchError
from feedtool.model import (
    IDENTITY_RULES,
    Extracted,
    Fetched,
    Item,
    NotModified,
    Selectors,
    Source,
)

if TYPE_CHECKING:
    from feedtool.extract.html import Page

logger = logging.getLogger(__name__)

Fetch = Callable[[str], Fetched | NotModified]


def items(
    source: Source, fetched: Fetched, fetch: Fetch, learned: Selectors | None = None
) -> Extracted:
    """Extract one fetched document. `fetch` gets an advertised feed for "auto" sources;
    `learned` are the selectors detection found on an earlier run of the source."""
    from feedtool.extract.html import Page  # not at import: config needs only `selector`

    if source.type != "html":
        from feedtool.extract import feed  # feedparser: only for what may be a feed

        if source.type == "feed" or feed.looks_like_feed(fetched):
            return feed.parse(fetched)
    page = Page.parse(fetched.body, fetched.charset, fetched.content_type, fetched.url)
    if source.select is not None:
        extracted = page.extract(source.select, identity=_identity_selector(source))
    elif source.type == "auto" and (advertised := page.advertised_feed()) is not None:
        followed = _advertised(advertised, fetch)
        if followed is not None:  # what the feed leaves out of its metadata, the page may say
            return replace(followed, meta=followed.meta.or_else(page.meta), advertised=advertised)
        extracted = _detected(page, learned)
    else:
        extracted = _detected(page, learned)
    if source.paginate.max_pages <= 1:  # finding the next page costs selector passes
        return extracted
    return replace(extracted, next_url=page.next_url(source.paginate))


def normalized_items(
    source: Source,
    fetched: Fetched,
    *,
    now: datetime,
    fetch: Fetch,
    learned: Selectors | None = None,
) -> tuple[Extracted, list[Item]]:
    """Extract one document and normalize its items: what a run would make of it.

    Scraped items need a link; a feed's entries (an "auto" source's advertised feed too) do not.
    """
    from feedtool import normalize

    extracted = items(source, fetched, fetch, learned)
    cleaned = normalize.items(
        extracted.items,
        source=source,
        page_url=extracted.base_url or fetched.url,
        now=now,
        require_link=not extracted.from_feed,
        # detected or re-used selectors: their date order (05.12.15 read month-first)
        date_format=extracted.selectors.date_format if extracted.selectors else None,
    )
    return extracted, cleaned


def fetch_document(fetch: Fetch, url: str) -> Fetched:
    """`fetch(url)` for a request sent without validators, which no server should answer 304."""
    document = fetch(url)
    if not isinstance(document, Fetched):
        raise FetchError(f"{url}: HTTP 304 Not Modified to a request without validators")
    return document


def _advertised(url: str, fetch: Fetch) -> Extracted | None:
    """The advertised feed's items; None when it fails or is empty, so the page is read instead.

    Sites advertise dead, empty or non-feed URLs often enough that one must not fail the source.
    """
    try:
        document = fetch(url)
        from feedtool.extract import feed

        extracted = feed.parse(document) if isinstance(document, Fetched) else None
    except (FetchError, ExtractError) as e:
        logger.warning("advertised feed %s not used: %s; detecting items on the page", url, e)
        return None
    if extracted is None or not extracted.items:
        logger.warning("advertised feed %s has no items; detecting items on the page", url)
        return None
    return extracted


def _detected(page: Page, learned: Selectors | None) -> Extracted:
    """Items by the selectors detection found before, while they still hold; else detection.

    Detection costs several times a selector pass, so an "auto" source detects once and
    re-uses what it found until a redesign makes those selectors skip as much as they find.
    """
    if learned is not None:
        extracted = page.extract(learned)
        if extracted.items and extracted.skipped <= len(extracted.items):
            return replace(extracted, selectors=learned)
        logger.info("%s: the detected selectors no longer match; detecting again", page.url)
    return detect_items(page)


def detect_items(page: Page) -> Extracted:
    """Items found by automatic detection, with the selectors that would pin them."""
    from feedtool.extract.detect import detect

    detection = detect(page.root, page.url)
    return Extracted(
        items=detection.items,
        title=page.title,
        selectors=detection.selectors,
        base_url=page.base,
        meta=page.meta,
    )


def _identity_selector(source: Source) -> str | None:
    return None if source.identity in (None, *IDENTITY_RULES) else source.identity
