"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 (via feedparser) and JSON Feed documents into RawItems.

feedparser only ever gets bytes plus the response headers: given a str it would fetch a URL
(with no timeout) or open a file (STYLE.md 4.1).
"""

from __future__ import annotations

import calendar
import html
import re
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from feedtool.errors import ExtractError
from feedtool.extract import jsonfeed
from feedtool.extract.jsonfeed import nonblank, one_line
from feedtool.model import FEED_TYPES, Extracted, Fetched, RawItem
from feedtool.normalize import html_to_text

# Root element after any BOM, XML declaration, processing instructions, comments and doctype.
_FEED_ROOT = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<(?:rss|feed|(?:[\w.-]+:)?RDF)[\s>/]", re.DOTALL
)
_SNIFF_BYTES = 4096
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
    no entries. A malformed feed that still yields entries carries a one-line warning.
    """
    if jsonfeed.is_jsonfeed(fetched.body):
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
    entries = list(parsed.entries)
    problem = _problem(parsed)
    if not entries and not parsed.get("version"):
        raise ExtractError("not an RSS, Atom or JSON feed" + (f" ({problem})" if problem else ""))
    if not entries and problem:
        raise ExtractError(f"malformed feed with no items: {problem}")
    return Extracted(
        items=tuple(_item(entry) for entry in entries),
        title=_title(parsed.feed.get("title_detail")),
        site_url=nonblank(parsed.feed.get("link")),
        warning=f"malformed feed: {problem}" if problem else None,
        from_feed=True,
    )


def _headers(fetched: Fetched) -> dict[str, str]:
    """What feedparser needs to resolve relative links and pick the encoding (RFC 3023)."""
    headers = {"content-location": fetched.url}
    if fetched.content_type:
        charset = f"; charset={fetched.charset}" if fetched.charset else ""
        headers["content-type"] = fetched.content_type + charset
    return headers


def _problem(parsed: feedparser.FeedParserDict) -> str | None:
    """The bozo exception as one line, unless it is harmless."""
    if not parsed.bozo:
        return None
    error = parsed.bozo_exception
    if isinstance(error, _HARMLESS):
        return None
    return one_line(error)


def _item(entry: feedparser.FeedParserDict) -> RawItem:
    # Membership first: reading a missing "updated_parsed" silently returns the published date
    # with a DeprecationWarning (STYLE.md 4.1.5).
    updated = entry["updated_parsed"] if "updated_parsed" in entry else None  # noqa: SIM401
    return RawItem(
        title=_title(entry.get("title_detail")),
        link=nonblank(entry.get("link")),
        guid=nonblank(entry.get("id")),
        published=_date(entry.get("published_parsed")),
        updated=_date(updated),
        summary=_html(entry.get("summary_detail")),
        content=_content(entry.get("content")),
    )


def _content(details: list[Any] | None) -> str | None:
    """Atom content or content:encoded, preferring an HTML version when there are several."""
    if not details:
        return None
    for detail in details:
        if detail.get("type") in ("text/html", "application/xhtml+xml"):
            return _html(detail)
    return _html(details[0])


def _title(detail: Any) -> str | None:
    """A title as plain text: an HTML or XHTML one (Atom type="html") loses its markup."""
    value = nonblank(detail.get("value")) if detail else None
    if value and detail.get("type") in ("text/html", "application/xhtml+xml"):
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
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None
