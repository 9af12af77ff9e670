"""Full text of an article page: its main content as HTML and its publication date.

The content is not sanitised here (normalize does that); links and images are made absolute so
the fragment still works once it is lifted out of its page. Nothing here touches the network:
trafilatura and htmldate are always handed a parsed tree, never a string (htmldate fetches a
string that looks like a URL).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from math import inf
from typing import Any
from urllib.parse import urlsplit

import htmldate
import lxml.html
import trafilatura

from feedtool import normalize
from feedtool.errors import FeedtoolError, Interrupted
from feedtool.extract.html import HTML_TYPES, parse_html
from feedtool.extract.selector import Selector, inner_html
from feedtool.model import Fetched, Fetcher, Item, NotModified
from feedtool.textcodec import decode, looks_binary, truncate
from feedtool.urls import absolutize, join

logger = logging.getLogger(__name__)

# Article pages are rarely over 1 MB; the cap keeps a pathological page from stalling a run.
MAX_HTML_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """What a page's full text adds to an item."""

    content: str | None  # HTML, not sanitised; links and image sources absolute
    published: datetime | None  # UTC


def extract_article(
    html: bytes, url: str, content_selector: str | None = None, charset: str | None = None
) -> Article:
    """The article in an HTML page fetched from url (charset: the Content-Type header's).

    With content_selector (a selector as in a listing), the first match's inner HTML is the
    content, so a user can fix what automatic extraction gets wrong; otherwise trafilatura finds
    the main content and leaves out navigation, sidebars, footers and comments. A binary file (a
    linked PDF, image or archive) has no article. Raises ExtractError for an invalid selector.
    """
    if looks_binary(html):
        logger.info("%s: no full text: binary content", url)
        return Article(content=None, published=None)
    tree = parse_html(decode(truncate(html, MAX_HTML_BYTES), charset), url)
    if len(tree) == 0:  # nothing but comments or whitespace
        return Article(content=None, published=None)
    base_href = tree.xpath("string(//base/@href)").strip()
    base = (join(url, base_href) if base_href else None) or url  # an unparsable one is ignored
    published = _published(tree, url)
    if content_selector:
        content = _select(tree, content_selector, base)
    else:
        content = _main_content(tree, base)
    return Article(content=(content or "").strip() or None, published=published)


def _select(tree: lxml.html.HtmlElement, spec: str, base: str) -> str | None:
    """Inner HTML (or value) of the first match, read as the listing's content selector, with
    its links and images made absolute."""
    selector = Selector.compile(spec)
    element = selector.first(tree)
    if element is not None:
        absolutize(element, base)
    return selector.inner_html(tree)


def _main_content(tree: lxml.html.HtmlElement, base: str) -> str | None:
    """Main content by trafilatura: no metadata pass (its date search is slow), no comments.

    Links are resolved first and trafilatura gets no URL: it resolves relative links against
    the site root, not the page ("../x" on /news/a/b.html becomes /x).
    """
    absolutize(tree, base)
    result = trafilatura.extract(
        tree,
        output_format="html",
        include_comments=False,
        include_links=True,
        include_images=True,
        with_metadata=False,
    )
    if not result:
        return None
    return inner_html(lxml.html.document_fromstring(result).body)


def _published(tree: lxml.html.HtmlElement, url: str) -> datetime | None:
    """Publication date from explicit metadata, else htmldate's quick (non-extensive) guess."""
    for value in _date_candidates(tree):
        parsed = normalize.parse_iso(value)
        if parsed is not None:
            return parsed
    # htmldate deep-copies a tree it is given, so ours stays intact; extensive search off: it
    # scans free text and costs several times the whole extraction.
    found = htmldate.find_date(tree, url=url, extensive_search=False, original_date=True)
    return normalize.parse_iso(found) if found else None


def _date_candidates(tree: lxml.html.HtmlElement) -> Iterator[str]:
    """Explicit publication-date metadata, most trustworthy first.

    <time> counts only inside an <article> (or marked pubdate): elsewhere it is usually a
    sidebar's or a header's date.
    """
    yield from tree.xpath(
        "//meta[@property='article:published_time' or @name='article:published_time']/@content"
    )
    yield from _jsonld_dates(tree)
    for element in tree.xpath("//*[@itemprop='datePublished']"):
        yield element.get("content") or element.get("datetime") or element.text_content()
    yield from tree.xpath("//time[@pubdate]/@datetime | //article//time/@datetime")


def _jsonld_dates(tree: lxml.html.HtmlElement) -> Iterator[str]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        yield from _find_key(data, "datePublished")


def _find_key(data: Any, key: str) -> Iterator[str]:
    """String values of key anywhere in JSON-LD (top level, lists, @graph, nested objects)."""
    if isinstance(data, dict):
        value = data.get(key)
        if isinstance(value, str):
            yield value
        for child in data.values():
            yield from _find_key(child, key)
    elif isinstance(data, list):
        for child in data:
            yield from _find_key(child, key)


class _HostPacer:
    """Spaces requests to one host by `delay` seconds; different hosts go in parallel."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()

    def fetch(self, fetcher: Fetcher, url: str) -> Fetched | NotModified:
        """Raises Interrupted, without fetching, once the fetcher's stop event is set."""
        host = urlsplit(url).netloc
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            wait = self._last.get(host, -inf) + self.delay - time.monotonic()
            # Not time.sleep: a stopping daemon must not sit out the delay of every article.
            if fetcher.stop.wait(max(wait, 0.0)):
                raise Interrupted("stopped")
            try:
                return fetcher.get(url)
            finally:
                self._last[host] = time.monotonic()


def _without_title(content: str | None, title: str) -> str | None:
    """The body without a leading heading that repeats the title: readers show it already."""
    if not content:
        return content
    root = lxml.html.fragment_fromstring(content, create_parent="div")
    first = next(iter(root), None)
    if first is None or first.tag not in ("h1", "h2", "h3"):
        return content
    if normalize.clean_text(first.text_content()).casefold() != title.casefold():
        return content
    if first.tail and first.tail.strip():
        root.text = (root.text or "") + first.tail
    root.remove(first)
    return inner_html(root).strip() or None


def enrich(
    items: Sequence[Item],
    *,
    new_keys: set[str],
    fetcher: Fetcher,
    content_selector: str | None = None,
    delay: float = 1.0,
    workers: int = 4,
) -> tuple[Item, ...]:
    """Add the article body (and a missing date) to the items whose key is in `new_keys`.

    Only new items: fetching every article on every run would hammer the site. A page that
    cannot be fetched or read leaves its item as it was; the listing's data still stands.
    Interrupted (the fetcher's stop event is set) is no page's fault: it propagates, and the
    articles not yet fetched are not fetched at all.
    """
    pacer = _HostPacer(delay)

    def article_of(item: Item) -> Item:
        assert item.link is not None
        try:
            fetched = pacer.fetch(fetcher, item.link)
            if not isinstance(fetched, Fetched):
                return item
            # A linked PDF, image or archive; an untyped one (octet-stream) meets the sniff.
            if fetched.content_type not in HTML_TYPES:
                logger.info(
                    "%s: no full text: not an HTML page (%s)", item.link, fetched.content_type
                )
                return item
            article = extract_article(fetched.body, fetched.url, content_selector, fetched.charset)
        except Interrupted:
            raise
        except FeedtoolError as e:
            logger.info("%s: full text not fetched: %s", item.link, e)
            return item
        except Exception:  # an odd page must not fail its source: the listing's data stands
            logger.warning("%s: full text not read", item.link, exc_info=True)
            return item
        body = (
            normalize.cut_html(article.content, normalize.MAX_CONTENT) if article.content else None
        )
        content = _without_title(normalize.sanitize_html(body, fetched.url), item.title)
        if item.date_inferred and article.published is not None:
            item = replace(item, published=article.published, date_inferred=False)
        return replace(item, content=content or item.content)

    chosen = [i for i, item in enumerate(items) if item.key in new_keys and item.link]
    result = list(items)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        enriched = pool.map(article_of, [items[i] for i in chosen])
        for index, item in zip(chosen, enriched, strict=True):
            result[index] = item
    finally:
        # On Interrupted, queued articles are dropped rather than each raising in turn.
        pool.shutdown(wait=True, cancel_futures=True)
    return tuple(result)
