"""Extraction: fetched bytes to RawItems, by the source's type.

- "feed": RSS/Atom (feedparser) or JSON Feed.
- "html" with selectors: the selectors.
- "auto": a feed if the URL serves one or the page advertises one, else automatic detection
  (or the selectors, when given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from feedtool.extract import feed
from feedtool.extract.html import Page
from feedtool.model import Extracted, Fetched, NotModified, Source

Fetch = Callable[[str], Fetched | NotModified]


def items(source: Source, fetched: Fetched, fetch: Fetch) -> Extracted:
    """Extract one fetched document. `fetch` gets an advertised feed for "auto" sources."""
    if source.type == "feed" or (source.type == "auto" and feed.looks_like_feed(fetched)):
        return feed.parse(fetched)
    page = Page.parse(fetched.body, fetched.charset, fetched.content_type, fetched.url)
    if source.select is not None:
        extracted = page.extract(source.select, identity=_identity_selector(source))
    elif (advertised := page.advertised_feed()) is not None:
        document = fetch(advertised)
        if isinstance(document, Fetched):
            return feed.parse(document)
        extracted = detect_items(page)
    else:
        extracted = detect_items(page)
    return replace(extracted, next_url=page.next_url(source.paginate))


def detect_items(page: Page) -> Extracted:
    from feedtool.extract.detect import detect

    detection = detect(page.soup, page.url)
    return Extracted(items=detection.items, title=page.title, selectors=detection.selectors)


def _identity_selector(source: Source) -> str | None:
    return None if source.identity in ("link", "title", "title+date") else source.identity
