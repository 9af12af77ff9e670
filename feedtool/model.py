"""The values passed between pipeline stages.

All datetimes are timezone-aware UTC; a naive datetime anywhere is a bug.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

SourceType = Literal["html", "feed", "auto"]
SOURCE_TYPES: tuple[str, ...] = get_args(SourceType)
HealMode = Literal["off", "auto"]
HEAL_MODES: tuple[str, ...] = get_args(HealMode)
IDENTITY_RULES = ("link", "title", "title+date")  # Source.identity's words; else a selector
TEMPLATE_FIELDS = ("title", "link", "source", "published", "summary")  # notify templates
SUFFIXES = (".atom.xml", ".rss.xml", ".json")  # the files published for each source
# Media types a page's <link rel="alternate"> names a feed by. Not application/json:
# WordPress advertises its REST API (/wp-json/) with it.
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
)
UNTITLED = "(untitled)"  # the title of an entry that has neither title, text nor link
MAX_HOLD = 86400  # seconds: the longest a server's Retry-After or max-age may defer a check


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Selectors:
    """CSS selectors of an HTML source; each field is "selector" or "selector@attribute"."""

    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    summary: str | None = None
    content: str | None = None
    date_format: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Paginate:
    next: str | None = None  # "selector@href"; None: detect rel=next / ?PAGEN_1=N links
    max_pages: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    id: str
    url: str
    title: str | None = None
    type: SourceType = "auto"
    interval: int = 1800  # seconds
    select: Selectors | None = None
    # None: the source's own id/guid, else the link, else a hash of title and date;
    # or "link" | "title" | "title+date" | a selector ("sel@attr") naming the item
    identity: str | None = None
    paginate: Paginate = field(default_factory=Paginate)
    fulltext: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    notify_initial: bool = False
    notify_updates: bool = False
    broken_after: int = 3  # failed runs in a row before the source counts as broken
    keep_items: int = 1000  # items kept in state; older ones are pruned, their keys remembered
    # "auto": when the selectors stop matching and detection finds the known items, use the
    # detected selectors at once (see health.heal); "off": only propose them
    heal: HealMode = "off"


DEFAULT_TITLE_TEMPLATE = "{source}: {title}"
DEFAULT_BODY_TEMPLATE = "{title}\n{published}\n{link}\n\n{summary}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyTarget:
    url: str
    sources: tuple[str, ...] = ()  # empty: all sources
    digest: bool = False
    max_per_run: int = 20
    title_template: str = DEFAULT_TITLE_TEMPLATE
    body_template: str = DEFAULT_BODY_TEMPLATE

    def wants(self, source_id: str) -> bool:
        return not self.sources or source_id in self.sources


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    state_dir: Path
    output_dir: Path
    base_url: str = "http://localhost:8080/"
    max_items: int = 50
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    retries: int = 2
    host_delay: float = 1.0  # seconds between full-text requests to one host
    remind_every: int = 86400  # seconds between "still broken" reminders
    notify_max_age: int = 7 * 86400  # seconds a failing notification is retried before dropped
    workers: int = 8  # sources checked at the same time
    host_connections: int = 2  # requests in flight to one host at most
    host_spacing: float = 0.0  # seconds between the starts of two requests to one host
    # False: refuse loopback, private, multicast and reserved addresses too (link-local: always)
    allow_private_addresses: bool = True
    hub: str | None = None  # a WebSub hub: linked from every feed, pinged when one changes


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    path: Path
    settings: Settings
    sources: tuple[Source, ...]
    notify: tuple[NotifyTarget, ...] = ()

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)


# --- fetching ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Validators:
    """HTTP cache validators echoed back on the next request (conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None
    # feedtool's own: a digest of the page and the source's config, for servers that send
    # neither, so an unchanged page is not parsed again
    digest: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    url: str  # final URL, after redirects
    status: int
    body: bytes
    content_type: str  # media type only, lower case ("text/html")
    charset: str | None  # from the Content-Type header, if any
    validators: Validators
    # seconds the server says the response stays fresh (Cache-Control max-age, Expires):
    # no point in checking again sooner
    fresh_for: float | None = None


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server answered 304: nothing to parse."""

    url: str
    fresh_for: float | None = None


class Fetcher(Protocol):
    """What the stages need of an HTTP client (fetch.HttpFetcher; tests may bring their own)."""

    stop: threading.Event  # set: give up at once (the daemon is stopping)

    def get(self, url: str, validators: Validators | None = None) -> Fetched | NotModified:
        """GET `url` (conditionally with `validators`); raises FetchError or Interrupted."""
        ...


# --- extraction and normalization ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RawItem:
    """An item as found in a page or feed: strings as they stand, nothing cleaned yet."""

    title: str | None = None
    link: str | None = None  # may be relative
    date: str | None = None  # date text as found on the page
    published: datetime | None = None  # already parsed (feeds), UTC
    updated: datetime | None = None  # already parsed (feeds), UTC
    summary: str | None = None  # HTML fragment
    content: str | None = None  # HTML fragment
    guid: str | None = None  # identity given by the source (feed id/guid, identity selector)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteMeta:
    """What a page or feed says about its site, republished as the feeds' metadata.

    Each value is already clean (see extract.meta): a BCP 47 tag, absolute http(s) URLs.
    """

    language: str | None = None  # "ru", "en-US"
    icon: str | None = None  # small and square: a favicon
    logo: str | None = None  # larger: og:image, an RSS <image>, an Atom <logo>
    site_name: str | None = None  # og:site_name

    def or_else(self, other: SiteMeta) -> SiteMeta:
        """These values, each missing one taken from `other` (a feed's, then its page's)."""
        return SiteMeta(
            language=self.language or other.language,
            icon=self.icon or other.icon,
            logo=self.logo or other.logo,
            site_name=self.site_name or other.site_name,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Extracted:
    """What one page or feed document yielded."""

    items: tuple[RawItem, ...]
    title: str | None = None  # the page's or feed's own title
    site_url: str | None = None  # a feed's own website link (its channel <link>)
    skipped: int = 0  # items dropped for lack of a title or link
    next_url: str | None = None  # the next page of a paginated listing
    warning: str | None = None  # e.g. a malformed (bozo) feed that still yielded items
    selectors: Selectors | None = None  # what automatic detection found, for the user to pin
    base_url: str | None = None  # what relative URLs resolve against (<base href>), if not the URL
    from_feed: bool = False  # items of an RSS/Atom/JSON feed: they need no link
    advertised: str | None = None  # the feed a page advertised, when the items came from it
    # fields whose selector matched in no item, where a fallback hides it (a title falls back
    # to the link's text): a typo must still be reported
    unmatched: tuple[str, ...] = ()
    meta: SiteMeta = field(default_factory=SiteMeta)  # language, icon, logo, site name


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A normalized item, ready to store and publish."""

    key: str  # identity within its source
    title: str  # plain text
    link: str | None  # absolute, canonical
    published: datetime
    date_inferred: bool  # True when the source gave no date and first-seen time is used
    summary: str | None = None  # sanitized HTML
    content: str | None = None  # sanitized HTML
    content_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredItem:
    """An item as kept in state, with the times state adds."""

    source_id: str
    key: str
    title: str
    link: str | None
    published: datetime
    date_inferred: bool
    updated: datetime
    first_seen: datetime
    summary: str | None = None
    content: str | None = None


# --- outcomes ----------------------------------------------------------------------------------


class Status(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not-modified"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceResult:
    source_id: str
    status: Status
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error: str | None = None
    duration: float = 0.0


# --- state and alerts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    broken_since: datetime | None = None
    alerted_at: datetime | None = None  # last broken alert or reminder


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """What storing one run's items did."""

    new: tuple[Item, ...]
    updated: tuple[Item, ...]
    seen: int  # items already known and unchanged
    first_run: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued:
    """A notification to queue with a change: (target digest, kind, subject, payload)."""

    target: str
    kind: str
    subject: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A queued notification not yet delivered or dropped."""

    id: int
    target: str
    source_id: str
    kind: str
    payload: dict[str, Any]
    created: datetime
    attempts: int
