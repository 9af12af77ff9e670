"""Publish stored items as Atom, RSS (both via feedgen) and JSON Feed 1.1 (by hand).

Output depends on the items only, never on the clock, so an unchanged source gives
byte-identical files and clients see the same ETag.

Times as published (see `_times`): items with a date but no time, which are midnight of their
day in state, are spread over the day's first seconds in page order, so readers that sort by
date keep the page's order; and no two entries of a feed share an `updated` (the W3C validator
warns of DuplicateUpdated). Neither moves an item to another calendar day.

The head of each feed carries what readers show of it (see FeedInfo): the site's language,
icon and logo, the site as the feed's author, and the WebSub hub to subscribe through.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator

from feedtool import PROJECT_URL, __version__
from feedtool.files import replace_atomically
from feedtool.model import SUFFIXES, UNTITLED, StoredItem
from feedtool.normalize import html_to_text, strip_forbidden
from feedtool.urls import feed_url, safe_url

# `updated` of a feed without entries: the data holds no time, and "now" would change the
# bytes on every run. Any fixed value is valid Atom; the Unix epoch reads as "never".
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedInfo:
    """What a published feed is about; `id` names its files and is part of its entry ids."""

    id: str  # source id, [a-z0-9-]+, names the files
    title: str  # feed title
    site_url: str  # the page/site the feed is about (alternate link)
    language: str | None = None  # BCP 47: Atom xml:lang, RSS <language>, JSON Feed language
    icon: str | None = None  # small square image: Atom <icon>, JSON Feed favicon
    logo: str | None = None  # larger image: Atom <logo>, JSON Feed icon; RSS <image> (or icon)
    site_name: str | None = None  # the site's own name, for the feed's author
    hub: str | None = None  # a WebSub hub: rel="hub" links, JSON Feed hubs


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    """One item with XML-safe text and its final id, shared by the three formats."""

    id: str
    title: str
    link: str | None
    summary: str | None
    content: str | None
    published: datetime
    updated: datetime


def render(feed: FeedInfo, items: Sequence[StoredItem], base_url: str) -> dict[str, bytes]:
    """Return {suffix: document bytes}.

    `items` are already ordered newest first and truncated by the caller; keep that order.
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    # Every URL is republished where readers open or load it: http(s) or nothing.
    feed = replace(
        feed,
        site_url=safe_url(feed.site_url) or base,
        icon=safe_url(feed.icon),
        logo=safe_url(feed.logo),
        hub=safe_url(feed.hub),
    )
    urls = {suffix: feed_url(base, feed.id, suffix) for suffix in SUFFIXES}
    entries = [
        _entry(item, feed.id, published, updated)
        for item, (published, updated) in zip(items, _times(items), strict=True)
    ]
    updated = max((entry.updated for entry in entries), default=EMPTY_FEED_UPDATED)
    fg = _generator(feed, entries, updated)
    _head(fg, feed, urls[".atom.xml"], rss=False)
    atom = fg.atom_str(pretty=True)
    _head(fg, feed, urls[".rss.xml"], rss=True)  # after atom_str: it changes what Atom had
    return {
        ".atom.xml": atom,
        ".rss.xml": fg.rss_str(pretty=True),
        ".json": _json_feed(feed, entries, urls[".json"]),
    }


def write_feeds(
    feed: FeedInfo,
    items: Sequence[StoredItem],
    output_dir: Path,
    base_url: str,
    durable: bool = True,
) -> list[str]:
    """Render and write <output_dir>/<id><suffix>; return the suffixes of the files that
    changed (empty: none did), whose readers a WebSub hub is to tell.

    Files whose bytes would not change are left alone so their mtime (and any HTTP
    Last-Modified derived from it) stays put. Creates output_dir. `durable=False` skips the
    fsync of each file, for a caller that syncs the disk once after writing many.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for suffix, data in render(feed, items, base_url).items():
        path = output_dir / f"{feed.id}{suffix}"
        try:
            if path.read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        # public files, served by another user
        replace_atomically(path, data, mode=0o644, durable=durable)
        changed.append(suffix)
    return changed


def _xml_safe(text: str) -> str:
    """Normalize strips these already; stored state from elsewhere must not crash feedgen."""
    return strip_forbidden(text)


def _times(items: Sequence[StoredItem]) -> list[tuple[datetime, datetime]]:
    """(published, updated) of each item as published; `items` newest first, as stored.

    A date without a time is midnight in state, so a day's items would all share one
    instant and readers would order them as they like. Here the items of one such day get
    midnight plus one second per item below them in the feed: the top one (the newest: first
    on the page, or found by a later run) the latest. It depends on the stored order alone,
    never on the clock, so a rerun writes the same bytes; a new item on top of its day takes
    the next second and leaves the others' times alone. An item never updated has `updated`
    equal to `published`, so it moves with it. Then any `updated` already taken by an entry
    above moves to the nearest free second of the same day, earlier ones first, and
    `published` with it when it would otherwise come after `updated`.
    """
    days: dict[datetime, int] = {}  # items of each date-only day, then a countdown
    for item in items:
        if _date_only(item):
            days[item.published] = days.get(item.published, 0) + 1
    times: list[tuple[datetime, datetime]] = []
    taken: set[datetime] = set()
    for item in items:
        published = item.published
        if _date_only(item):
            days[published] -= 1
            published += timedelta(seconds=min(days[item.published], LAST_SECOND))
        updated = published if item.updated == item.published else item.updated
        updated = _free(updated, taken)
        taken.add(updated)
        times.append((min(published, updated), updated))  # never updated before published
    return times


LAST_SECOND = 86399  # of a day


def _date_only(item: StoredItem) -> bool:
    """A date read without a time: midnight UTC, as normalize stores a date alone."""
    return not item.date_inferred and item.published.astimezone(UTC).time() == time(0)


def _free(value: datetime, taken: set[datetime]) -> datetime:
    """`value`, or the nearest second of its day not in `taken`: earlier ones first, so the
    entry stays below the one it collided with."""
    if value not in taken:
        return value
    midnight = value.replace(hour=0, minute=0, second=0, microsecond=0)
    since = int((value - midnight).total_seconds())
    for offset in chain(range(-1, -since - 1, -1), range(1, LAST_SECOND - since + 1)):
        candidate = value + timedelta(seconds=offset)
        if candidate not in taken:
            return candidate
    return value  # 86400 entries in one day: nothing left to give


def _entry(item: StoredItem, feed_id: str, published: datetime, updated: datetime) -> _Entry:
    """Clean an item's text and give it an id derived from its identity key.

    Not the link: sites change links (http to https, session ids) while feedtool's key stays
    the same, and a changed id would show readers the item again. Not the base_url either:
    moving the published feeds must not change every id.
    """
    entry_id = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"feedtool:{feed_id}:{item.key}"))
    return _Entry(
        id=entry_id,
        title=_xml_safe(item.title).strip() or UNTITLED,
        link=_xml_safe(item.link) if item.link is not None else None,
        summary=_xml_safe(item.summary) if item.summary is not None else None,
        content=_xml_safe(item.content) if item.content is not None else None,
        published=published,
        updated=updated,
    )


def _generator(feed: FeedInfo, entries: Sequence[_Entry], updated: datetime) -> FeedGenerator:
    """The feedgen object both XML formats are written from; `_head` then adds what differs."""
    fg = FeedGenerator()
    fg.title(_xml_safe(feed.title))
    fg.subtitle(_xml_safe(feed.title))  # RSS requires a channel description
    # Atom requires an author (RFC 4287 4.1.1); RSS gets none: its authors are email addresses.
    fg.author(name=author_name(feed))
    if feed.language:
        fg.language(feed.language)  # Atom xml:lang on <feed>, which its text inherits
    fg.generator("feedtool", version=__version__, uri=PROJECT_URL)
    fg.updated(updated)  # also RSS lastBuildDate; feedgen's default is now
    if feed.hub:  # feedgen writes only the self link into an RSS channel
        fg.register_extension("websub", _RssHub, atom=False, rss=True)
        fg.websub.hub = feed.hub
    for entry in entries:
        _add_entry(fg.add_entry(order="append"), entry)
    return fg


def _head(fg: FeedGenerator, feed: FeedInfo, self_url: str, *, rss: bool) -> None:
    """The links and images of one XML format: its self link differs, and RSS has one image
    where Atom has an icon and a logo."""
    fg.id(self_url)
    # Self first, the site last: the RSS channel <link> is the last link() call's href.
    fg.link(href=self_url, rel="self", type=_media_type(self_url), replace=True)
    if feed.hub:
        fg.link(href=feed.hub, rel="hub")
    fg.link(href=_xml_safe(feed.site_url), rel="alternate")
    if rss:
        if feed.logo or feed.icon:  # <image> takes the channel's title and link, as it must
            fg.image(url=feed.logo or feed.icon)
    else:
        if feed.icon:
            fg.icon(feed.icon)
        if feed.logo:
            fg.logo(feed.logo)


def author_name(feed: FeedInfo) -> str:
    """Who a feed is by: the site's own name, else its host; never the feed's title.

    Readers put the two together: rss2email sends a feed's items from "<title>: <author>",
    which read "CSTO news: CSTO news" while the author was the title. A site name equal to
    the title (og:site_name is a page's default title) says nothing more, so the host it is.
    """
    name = _xml_safe(feed.site_name or "").strip()
    if name and name.casefold() != _xml_safe(feed.title).strip().casefold():
        return name
    return urlsplit(feed.site_url).hostname or _xml_safe(feed.title)


class _RssHub(BaseExtension):  # type: ignore[misc]
    """Adds <atom:link rel="hub"> after the channel's self link: feedgen's RSS has no hub."""

    hub = ""

    def extend_rss(self, feed: Any) -> Any:
        channel = feed.find("channel")
        self_link = channel.find("{http://www.w3.org/2005/Atom}link")
        hub = self_link.makeelement(self_link.tag, {"href": self.hub, "rel": "hub"})
        self_link.addnext(hub)
        return feed


def _media_type(self_url: str) -> str:
    return "application/atom+xml" if self_url.endswith(".atom.xml") else "application/rss+xml"


def _add_entry(fe: FeedEntry, entry: _Entry) -> None:
    fe.guid(entry.id, permalink=False)  # also the Atom id
    fe.title(entry.title)
    fe.updated(entry.updated)
    fe.published(entry.published)
    if entry.link is not None:
        fe.link(href=entry.link)
    # summary() fills RSS <description> unless set; content() then adds content:encoded.
    if entry.summary is not None:
        fe.summary(entry.summary, type="html")
    if entry.content is not None:
        fe.content(entry.content, type="html")
    elif entry.link is None:
        # An Atom entry without an alternate link must have content (RFC 4287 4.1.1.1).
        fe.content(entry.summary or "", type="html")


def _json_feed(feed: FeedInfo, entries: Sequence[_Entry], self_url: str) -> bytes:
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": _xml_safe(feed.title),
        "home_page_url": feed.site_url,
        "feed_url": self_url,
    }
    if feed.logo:
        document["icon"] = feed.logo  # JSON Feed's icon is the large one
    if feed.icon:
        document["favicon"] = feed.icon
    if feed.language:
        document["language"] = feed.language
    document["authors"] = [{"name": author_name(feed)}]
    if feed.hub:
        document["hubs"] = [{"type": "WebSub", "url": feed.hub}]
    document["items"] = [_json_item(entry) for entry in entries]
    # One line: json only uses its C encoder without indent (about 4x faster).
    return (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8")


def _json_item(entry: _Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    if entry.link is not None:
        item["url"] = entry.link
    item["title"] = entry.title
    html = entry.content if entry.content is not None else entry.summary
    if html is not None:
        item["content_html"] = html
    else:
        item["content_text"] = ""  # JSON Feed 1.1 requires content_html or content_text
    if entry.summary is not None and (summary := html_to_text(entry.summary)):
        item["summary"] = summary
    item["date_published"] = entry.published.isoformat()
    item["date_modified"] = entry.updated.isoformat()
    return item
