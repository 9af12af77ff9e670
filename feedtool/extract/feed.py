"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 (via feedparser) and JSON Feed documents into RawItems.

feedparser only ever gets bytes plus the response headers: given a str it would fetch a URL
(with no timeout) or open a file (STYLE.md 4.1). Where neither the headers nor the document say
how the bytes are encoded and they are not UTF-8, the charset is detected first: feedparser
alone would read them as windows-1252.
"""

from __future__ import annotations

import calendar
import html
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from feedtool.errors import ExtractError
from feedtool.extract import jsonfeed
from feedtool.extract.jsonfeed import fallback_title, nonblank, one_line
from feedtool.extract.meta import image_url, language_tag
from feedtool.model import FEED_TYPES, Extracted, Fetched, RawItem, SiteMeta
from feedtool.normalize import MAX_ITEMS_PER_PAGE, MAX_TITLE, cut_text, html_to_text, usable_date
from feedtool.urls import join, safe_url

logger = logging.getLogger(__name__)

# Root element after any BOM, XML declaration, processing instructions, comments and doctype.
_FEED_ROOT = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<(?:rss|feed|(?:[\w.-]+:)?RDF)[\s>/]", re.DOTALL
)
_SNIFF_BYTES = 4096
# What says how a document is encoded, besides the Content-Type header: a byte order mark, an
# XML declaration naming an encoding, or the NUL bytes of UTF-16/32 without a BOM (XML 1.0 F.1).
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DECLARED_ENCODING = re.compile(rb"\s*<\?xml[^>]*?\sencoding\s*=", re.IGNORECASE)
_TAG = re.compile(rb"<[^>]*>")
# Worth no warning: a charset header the document contradicts, a feed served as text/html.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def looks_like_feed(fetched: Fetched) -> bool:
    """Cheap guess for type="auto": a feed media type, or a body that starts like a feed.

    Generic types (application/xml, text/xml, application/json) and mislabelled feeds are sniffed,
    since sitemaps, XHTML and JSON APIs share them.
    """
    if fetched.content_type in FEED_TYPES:
        return True
    start = fetched.body[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")
    return _FEED_ROOT.match(start) is not None or jsonfeed.is_jsonfeed(fetched.body)


def parse(fetched: Fetched) -> Extracted:
    """Items of an RSS, Atom or JSON Feed document.

    Raises ExtractError when nothing is recoverable: not a feed at all, or a malformed one with
    no entries. A malformed feed that still yields entries carries a one-line warning. A JSON
    document is read as a JSON Feed or refused as one ("not a JSON Feed: ..."), never handed
    to the XML parser.
    """
    if jsonfeed.is_json(fetched.body):
        return jsonfeed.parse(fetched)
    try:
        parsed = feedparser.parse(
            fetched.body,
            response_headers=_headers(fetched),
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except (UnicodeError, ValueError) as e:  # e.g. emoji written as two surrogate escapes
        raise ExtractError(f"unreadable feed: {one_line(e)}") from e
    except RecursionError:
        raise ExtractError("unreadable feed: nested too deeply") from None
    entries = list(parsed.entries)
    problem = _problem(parsed)
    if not entries and not parsed.get("version"):
        raise ExtractError("not an RSS, Atom or JSON feed" + (f" ({problem})" if problem else ""))
    if not entries and problem:
        raise ExtractError(f"malformed feed with no items: {problem}")
    if len(entries) > MAX_ITEMS_PER_PAGE:  # the first are the newest; each costs a cleaning
        logger.warning(
            "%s: %d entries; only the first %d read", fetched.url, len(entries), MAX_ITEMS_PER_PAGE
        )
    return Extracted(
        items=tuple(_item(entry, fetched.url) for entry in entries[:MAX_ITEMS_PER_PAGE]),
        title=feed_title(_title(parsed.feed)),
        site_url=site_link(parsed.feed.get("link"), fetched.url),
        warning=f"malformed feed: {problem}" if problem else None,
        from_feed=True,
        meta=_meta(parsed.feed, fetched.url),
    )


def _meta(feed: feedparser.FeedParserDict, base: str) -> SiteMeta:
    """The feed's language (RSS <language>, dc:language, Atom xml:lang), its Atom <icon>, and
    its Atom <logo> or RSS <image>."""
    image = feed.get("image")
    rss_image = image.get("href") if isinstance(image, dict) else None
    return SiteMeta(
        language=language_tag(feed.get("language")),
        icon=image_url(base, feed.get("icon")),
        logo=image_url(base, feed.get("logo")) or image_url(base, rss_image),
    )


def feed_title(title: str | None) -> str | None:
    """A feed's own title, cut to MAX_TITLE: it heads every published file."""
    return cut_text(title, MAX_TITLE) if title else None


def site_link(value: object, base: str) -> str | None:
    """A feed's link to its website, absolute, if it is http(s): it is republished as the
    alternate link of every output, where a javascript: or data: URL would run in readers."""
    link = nonblank(value)
    return safe_url(join(base, link.strip())) if link else None


def _headers(fetched: Fetched) -> dict[str, str]:
    """What feedparser needs to pick the encoding (RFC 3023).

    Not the feed's URL as content-location: feedparser would resolve entry ids against it, so
    a guid written "ord-1" would become ".../feeds/ord-1" and every item new again once the
    feed moves. Ids stay as written; relative links and images are resolved against the
    feed's URL by normalize, as a page's are.
    """
    headers: dict[str, str] = {}
    charset = fetched.charset or _detected_charset(fetched.body)
    if fetched.content_type or charset:
        parameter = f"; charset={charset}" if charset else ""
        headers["content-type"] = (fetched.content_type or "application/xml") + parameter
    return headers


_CHAOS_MARGIN = 0.1  # of charset_normalizer's "mess" ratio: readings this close are a tie


def _detected_charset(body: bytes) -> str | None:
    """The charset of bytes that say nothing of their encoding and are not UTF-8; else None.

    feedparser falls back to windows-1252 for those, which turns EUC-JP, EUC-KR, GB2312, Big5
    or KOI8-R feeds into mojibake. A BOM or an XML declaration is left to feedparser, which
    honours it (and reports a wrong one).
    """
    head = body[:_SNIFF_BYTES]
    if head.startswith(_BOMS) or b"\x00" in head[:4] or _DECLARED_ENCODING.match(head):
        return None
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    import charset_normalizer  # only for the rare feed that needs it

    # The markup is ASCII and drowns the text's signal: a short EUC-JP feed reads as CP949
    # with it and right without it. No trail byte of a double-byte encoding is "<" or ">".
    results = charset_normalizer.from_bytes(_TAG.sub(b" ", body))
    best = results.best()
    if best is None:
        return None
    # Short Western text reads about as well in other Latin code pages ("crème" is "crčme"
    # in cp1250, "crēme" in cp1257): when windows-1252 is among the plausible readings, it
    # wins, as feedparser and browsers would read it. Czech or Polish text is not plausible
    # in it (and not in the results).
    western = next((r for r in results if r.encoding == "cp1252"), None)
    if western is not None and western.chaos <= best.chaos + _CHAOS_MARGIN:
        best = western
    try:
        body.decode(best.encoding)  # a guess from the text alone must fit the whole document
    except UnicodeDecodeError:
        return None
    return best.encoding


def _problem(parsed: feedparser.FeedParserDict) -> str | None:
    """The bozo exception as one line, unless it is harmless."""
    if not parsed.bozo:
        return None
    error = parsed.bozo_exception
    if isinstance(error, _HARMLESS):
        return None
    return one_line(error)


def _item(entry: feedparser.FeedParserDict, base: str) -> RawItem:
    # Membership first: reading a missing "updated_parsed" silently returns the published date
    # with a DeprecationWarning (STYLE.md 4.1.5).
    updated_parsed = entry["updated_parsed"] if "updated_parsed" in entry else None  # noqa: SIM401
    link = nonblank(entry.get("link"))
    summary = _html(entry.get("summary_detail"))
    content = _content(entry.get("content"))
    published, updated = _date(entry.get("published_parsed")), _date(updated_parsed)
    return RawItem(
        title=_title(entry) or fallback_title(link, summary, content, base),
        link=link,
        guid=nonblank(entry.get("id")),
        published=published,
        updated=updated,
        # a date feedparser could not read ("Tue, 2 Jan 2024 10:00:00": no zone), for
        # normalize to read as it reads a page's
        date=None if published or updated else _date_text(entry),
        summary=summary,
        content=content,
    )


def _date_text(entry: feedparser.FeedParserDict) -> str | None:
    for key in ("published", "updated"):  # membership first, as in _item
        if key in entry:
            return nonblank(entry[key])
    return None


def _content(details: list[Any] | None) -> str | None:
    """Atom content or content:encoded, preferring an HTML version when there are several."""
    if not details:
        return None
    for detail in details:
        if detail.get("type") in ("text/html", "application/xhtml+xml"):
            return _html(detail)
    return _html(details[0])


def _title(node: feedparser.FeedParserDict) -> str | None:
    """A feed's or entry's title as plain text: an HTML or XHTML one loses its markup.

    The text is `title`, never `title_detail.value`: feedparser 6.0.14 overwrites the latter
    with any nested <title> (an RSS item's <author><title> job title), not the former.
    """
    value = nonblank(node.get("title"))
    detail = node.get("title_detail")
    if value and detail and detail.get("type") in ("text/html", "application/xhtml+xml"):
        return html_to_text(value) or None
    return value


def _html(detail: Any) -> str | None:
    """A feedparser text construct as HTML: plain text is escaped."""
    if not detail:
        return None
    value = nonblank(detail.get("value"))
    if value and detail.get("type") == "text/plain":
        return html.escape(value)
    return value


def _date(value: time.struct_time | None) -> datetime | None:
    """feedparser's struct_time is already UTC, so timegm (never mktime)."""
    if value is None:
        return None
    try:
        return usable_date(datetime.fromtimestamp(calendar.timegm(value), UTC))
    except (OverflowError, ValueError, OSError):
        return None
