"""JSON Feed 1.0 and 1.1 documents into RawItems.

Read by hand because feedparser 6.0.x does not understand JSON Feed (STYLE.md 4.1.8).
"""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any

from feedparser.urls import resolve_relative_uris

from feedtool.errors import ExtractError
from feedtool.extract.meta import image_url, language_tag
from feedtool.model import UNTITLED, Extracted, Fetched, RawItem, SiteMeta
from feedtool.normalize import (
    MAX_ITEMS_PER_PAGE,
    MAX_TITLE,
    canonical_link,
    cut_text,
    html_to_text,
    parse_iso,
    sanitize_html,
)
from feedtool.urls import join, safe_url

logger = logging.getLogger(__name__)

_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
# The version member as JSON text; slashes may be escaped ("https:\/\/jsonfeed.org\/...").
_VERSION_MEMBER = re.compile(rb'"version"\s*:\s*"https?:\\?/\\?/jsonfeed\.org\\?/version\\?/')
_BLANK_LINES = re.compile(r"\n\s*\n")
_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def is_jsonfeed(body: bytes) -> bool:
    """Whether body is a JSON object declaring a jsonfeed.org version, without parsing it all.

    Cheap enough for content sniffing; parse() still checks the version really is top-level.
    """
    start = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    return start.startswith(b"{") and _VERSION_MEMBER.search(body) is not None


def is_json(body: bytes) -> bool:
    """Whether body starts like a JSON object or array: no RSS or Atom document can."""
    return body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")


def parse(fetched: Fetched) -> Extracted:
    """Items of a JSON Feed; ExtractError for invalid JSON, a non-JSON Feed or no items list.

    JSON is UTF-8 by definition (RFC 8259), so a charset in the Content-Type header is ignored.
    """
    try:
        # strict=False: a raw tab or newline inside a string, which real feeds have, is no loss
        feed = json.loads(fetched.body, strict=False)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise ExtractError(f"invalid JSON: {one_line(e)}") from e
    except RecursionError:  # json recurses into each nested array and object
        raise ExtractError("invalid JSON: nested too deeply") from None
    if not isinstance(feed, dict):
        raise ExtractError(f"not a JSON Feed: a JSON {_JSON_TYPES[type(feed)]}, not an object")
    version = feed.get("version")
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIXES):
        found = f"version {json.dumps(version)[:40]}" if "version" in feed else "no version"
        raise ExtractError(f"not a JSON Feed: {found}, not https://jsonfeed.org/version/1.x")
    entries = feed.get("items")
    if not isinstance(entries, list):
        raise ExtractError("not a JSON Feed: no items list")
    objects = [entry for entry in entries if isinstance(entry, dict)]
    if len(objects) > MAX_ITEMS_PER_PAGE:  # the first are the newest; each costs a cleaning
        logger.warning(
            "%s: %d items; only the first %d read", fetched.url, len(objects), MAX_ITEMS_PER_PAGE
        )
    return Extracted(
        items=tuple(_item(entry, fetched.url) for entry in objects[:MAX_ITEMS_PER_PAGE]),
        title=_feed_title(nonblank(feed.get("title"))),
        # republished as every output's site link: only http(s), never javascript: or data:
        site_url=safe_url(_absolute(nonblank(feed.get("home_page_url")), fetched.url)),
        skipped=len(entries) - len(objects),
        from_feed=True,
        # JSON Feed's large square `icon` is the nearest to a logo; its `favicon`, an icon
        meta=SiteMeta(
            language=language_tag(feed.get("language")),
            icon=image_url(fetched.url, feed.get("favicon")),
            logo=image_url(fetched.url, feed.get("icon")),
        ),
    )


def _feed_title(title: str | None) -> str | None:
    """The feed's own title, cut to MAX_TITLE: it heads every published file."""
    return cut_text(title, MAX_TITLE) if title else None


def _absolute(url: str | None, base: str) -> str | None:
    return join(base, url) if url else None


def _item(entry: dict[str, Any], base: str) -> RawItem:
    link = _absolute(nonblank(entry.get("url")) or nonblank(entry.get("external_url")), base)
    identifier = entry.get("id")
    if isinstance(identifier, int) and not isinstance(identifier, bool):
        identifier = str(identifier)  # 1.1 requires a string; numbers are common in the wild
    summary = nonblank(entry.get("summary"))  # plain text in JSON Feed
    escaped = html.escape(summary) if summary else None
    content = _content(entry, base)
    return RawItem(
        title=nonblank(entry.get("title")) or fallback_title(link, escaped, content, base),
        link=link,
        guid=nonblank(identifier),
        published=parse_iso(entry.get("date_published")),
        updated=parse_iso(entry.get("date_modified")),
        summary=escaped,
        content=content,
    )


def _content(entry: dict[str, Any], base: str) -> str | None:
    """content_html with links resolved (as feedparser does for RSS/Atom), else content_text."""
    content_html = nonblank(entry.get("content_html"))
    if content_html:
        return str(resolve_relative_uris(content_html, base, "utf-8", "text/html"))
    content_text = nonblank(entry.get("content_text"))
    if not content_text:
        return None
    paragraphs = (p.strip() for p in _BLANK_LINES.split(content_text.strip()))
    return "".join(f"<p>{html.escape(p)}</p>".replace("\n", "<br>\n") for p in paragraphs)


def fallback_title(
    link: str | None, summary: str | None, content: str | None, base: str
) -> str | None:
    """The title of a feed entry that has none: None when normalize can take one from its
    text, else its web link as published, else UNTITLED.

    An entry with a link or an id but no title and no text (a link blog, a bare podcast
    episode) is still an entry of the feed, and must not be dropped for want of a title.
    Mirrors normalize.item, which titles an item by its summary's text, else its content's.
    Not a "tag:" or "urn:" link, which feedparser copies from a guid: that names nothing a
    reader can open.
    """
    text = sanitize_html(summary, base) or sanitize_html(content, base)
    if html_to_text(text):
        return None
    return (canonical_link(link, base) if link else None) or UNTITLED


def nonblank(value: Any) -> str | None:
    """value if a non-blank string: feeds in the wild put numbers, nulls and lists anywhere."""
    return value if isinstance(value, str) and value.strip() else None


def one_line(error: Exception) -> str:
    """An exception's message on one line, for errors users see."""
    return " ".join(str(error).split()) or type(error).__name__
