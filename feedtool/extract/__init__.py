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

from feedtool.errors import ExtractError, FetchError
from feedtool.extract import feed
from feedtool.extract.html import Page
from feedtool.model import Extracted, Fetched, NotModified, Source

logger = logging.getLogger(__name__)

Fetch = Callable[[str], Fetched | NotModified]


def items(source: Source, fetched: Fetched, fetch: Fetch) -> Extracted:
    """Extract one fetched document. `fetch` gets an advertised feed for "auto" sources."""
    if source.type == "feed" or (source.type == "auto" and feed.looks_like_feed(fetched)):
        return feed.parse(fetched)
    page = Page.parse(fetched.body, fetched.charset, fetched.content_type, fetched.url)
    if source.select is not None:
        extracted = page.extract(source.select, identity=_identity_selector(source))
    elif source.type == "auto" and (advertised := page.advertised_feed()) is not None:
        followed = _advertised(advertised, fetch)
        if followed is not None:
            return followed
        extracted = detect_items(page)
    else:
        extracted = detect_items(page)
    return replace(extracted, next_url=page.next_url(source.paginate))


def _advertised(url: str, fetch: Fetch) -> Extracted | None:
    """The advertised feed's items; None when it fails or is empty, so the page is read instead.

    Sites advertise dead, empty or non-feed URLs often enough that one must not fail the source.
    """
    try:
        document = fetch(url)
        extracted = feed.parse(document) if isinstance(document, Fetched) else None
    except (FetchError, ExtractError) as e:
        logger.warning("advertised feed %s not used: %s; detecting items on the page", url, e)
        return None
    if extracted is None or not extracted.items:
        logger.warning("advertised feed %s has no items; detecting items on the page", url)
        return None
    return extracted


def detect_items(page: Page) -> Extracted:
    from feedtool.extract.detect import detect

    detection = detect(page.soup, page.url)
    return Extracted(
        items=detection.items, title=page.title, selectors=detection.selectors, base_url=page.base
    )


def _identity_selector(source: Source) -> str | None:
    return None if source.identity in (None, "link", "title", "title+date") else source.identity
