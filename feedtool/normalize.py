"""Pure functions that turn RawItems into clean Items: links, identity, text, HTML and dates.

Nothing here does I/O; the clock comes in as an argument. Pages and feeds are written by
others, so everything taken from them is bounded here: dates that cannot be used become
unknown, and titles, summaries, content and the items of one page are cut to the limits below.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import (
    parse_qsl,
    unquote,
    unquote_plus,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

import lxml.etree
import lxml.html
import nh3

from feedtool.model import Item, RawItem, Source
from feedtool.urls import join, safe_url

logger = logging.getLogger(__name__)

# --- limits ------------------------------------------------------------------------------------

# What one page or feed may put into state and into every published file. A hostile or broken
# source must not make a 9 MB title, or 100,000 items, that every output then repeats.
MAX_TITLE = 1_000  # characters of a title, cut at a word boundary with "…"
MAX_SUMMARY = 20_000  # characters of a summary's HTML, cut before it is sanitized
MAX_CONTENT = 200_000  # characters of the content's HTML, likewise
MAX_ITEMS_PER_PAGE = 1_000  # items (or feed entries) read from one page or feed document
# Elements open at once in a summary or content: html5ever (nh3) takes time quadratic in the
# nesting, 4 s for 40,000 nested <div>s. No real article nests anywhere near this deep.
MAX_HTML_DEPTH = 256

# --- text --------------------------------------------------------------------------------------

# Control characters but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF: XML 1.0 forbids them and
# lxml (so feedgen) raises on them. DEL and C1 are legal but discouraged (XML 1.0 2.2), and
# feedparser reads C1 as cp1252 ("\x80" -> "€"): they go too.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = re.compile(r"\s+")
# Elements whose end separates words, so "<p>a</p><p>b</p>" reads "a b", not "ab".
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6")


def strip_forbidden(text: str) -> str:
    return _XML_FORBIDDEN.sub("", text)


def clean_text(text: str | None) -> str:
    """Plain text on one line: forbidden characters removed, whitespace collapsed."""
    if not text:
        return ""
    return _SPACE.sub(" ", strip_forbidden(text)).strip()


def html_to_text(fragment: str | None) -> str:
    """The text of an HTML fragment on one line, for titles, notifications and JSON Feed."""
    if not fragment or not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(strip_forbidden(fragment), create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_text(fragment)
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = " " + (element.tail or "")
    return clean_text(root.text_content())


# --- links -------------------------------------------------------------------------------------

_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|yclid|ysclid|msclkid|mc_cid|mc_eid|_openstat"
    r"|_hsenc|_hsmi|mkt_tok|igshid|phpsessid|jsessionid)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


_UNSAFE_IN_URL = str.maketrans({c: f"%{ord(c):02X}" for c in ' "<>\\^`{|}'})


def canonical_link(href: str, base: str) -> str | None:
    """Absolute http(s) URL without fragment, tracking or session parameters; None if unusable."""
    href = clean_text(href)
    # A malformed host or port ("http://x.org:abc/") is one bad link, not a crash; and only
    # http(s) links are ever published (urls.safe_url).
    absolute = safe_url(join(base, href)) if href else None
    if absolute is None:
        return None
    parts = urlsplit(absolute)
    port = parts.port
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port and str(port) != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    path = re.sub(r";jsessionid=[^/?]*", "", parts.path, flags=re.IGNORECASE) or "/"
    # Drop tracking pairs but keep the others as written: re-encoding would change links
    # ("?123" becoming "?123=") that some servers read as raw query strings.
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not _TRACKING.match(unquote_plus(pair.partition("=")[0]))
    )
    # What no URL may hold raw (spaces, quotes, angle brackets...) is percent-encoded, as
    # browsers do, so the link survives being read back; the key reads through it.
    return urlunsplit((parts.scheme, host, path, query, "")).translate(_UNSAFE_IN_URL)


@lru_cache(maxsize=4096)  # twice per item: its key and its content hash
def link_identity(link: str) -> str:
    """The part of a canonical link that names the article.

    Scheme, "www.", a trailing slash and query order are noise that sites change without
    changing the article, and would otherwise make old items look new.
    """
    parts = urlsplit(link)
    host = (parts.netloc or "").lower().removeprefix("www.")
    path = unquote(parts.path).rstrip("/") or "/"  # %D0%BD, %d0%bd and н are one path
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{path}" + (f"?{query}" if query else "")


# --- HTML --------------------------------------------------------------------------------------

_URL_ATTRIBUTES = {"href", "src", "cite", "poster"}


def sanitize_html(fragment: str | None, base: str) -> str | None:
    """Safe HTML for feed readers: no scripts, styles, frames, handlers or javascript: links.

    Relative links and images are made absolute, since a feed is read far from its page.
    """
    if not fragment or not fragment.strip():
        return None

    def absolutize(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            return urljoin(base, value.strip())
        if attribute == "srcset":
            return None  # relative candidates inside srcset are not worth parsing
        return value

    cleaned = nh3.clean(
        strip_forbidden(fragment),
        attribute_filter=absolutize,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()
    return cleaned or None


# --- dates -------------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan", "января", "январь", "янв"),
            ("february", "feb", "февраля", "февраль", "фев"),
            ("march", "mar", "марта", "март", "мар"),
            ("april", "apr", "апреля", "апрель", "апр"),
            ("may", "мая", "май"),
            ("june", "jun", "июня", "июнь", "июн"),
            ("july", "jul", "июля", "июль", "июл"),
            ("august", "aug", "августа", "август", "авг"),
            ("september", "sep", "sept", "сентября", "сентябрь", "сен"),
            ("october", "oct", "октября", "октябрь", "окт"),
            ("november", "nov", "ноября", "ноябрь", "ноя"),
            ("december", "dec", "декабря", "декабрь", "дек"),
        ],
        start=1,
    )
    for name in names
}
_NUMERIC = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?:,?\s+(\d{1,2}):(\d{2}))?")
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
# Numbers are whole: the "20" of "November 2026" is no day, nor the "26" of "2026 November".
# After a year, a time of day: "23 December 2024, 14:30", "January 2, 2024 10:00 AM".
_CLOCK = r"(?:,?\s+(?:at\s+|в\s+)?(\d{1,2}):(\d{2})(?::\d{2})?(?:\s*([ap])\.?m\b\.?)?)?"
_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}})\.?\s+([^\W\d_]+)\.?(?:,?\s+(\d{{4}})(?!\d){_CLOCK})?", re.IGNORECASE
)
_MONTH_DAY = re.compile(
    rf"([^\W\d_]+)\.?\s+(\d{{1,2}})(?!\d)(?:st|nd|rd|th)?(?:,?\s+(\d{{4}})(?!\d){_CLOCK})?",
    re.IGNORECASE,
)
# A day, a month's name and a year inside a longer text, in any language ("Publié le
# 4 décembre 2026", "Publicado el 4 de diciembre de 2026"): what dateparser is given when it
# cannot read the whole text.
_DATE_INSIDE = re.compile(
    r"(?<!\d)\d{1,2}(?:\.|er|º)?\s+(?:de\s+)?[^\W\d_]+\.?,?\s+(?:de\s+)?\d{4}(?!\d)"
    r"|[^\W\d_]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}(?!\d)"
)


def parse_date(text: str | None, now: datetime, date_format: str | None = None) -> datetime | None:
    """A page's date text as an aware UTC datetime, or None when it cannot be read.

    `date_format` (strptime) wins when given. Common numeric, ISO and English/Russian
    "day month year" forms take a fast path; anything else goes to dateparser (about 1 ms a
    call, so its answers are cached). A date without a year is the most recent such date that
    is not in the future. Date-only values are midnight UTC of that day; times without an
    offset are taken as UTC.
    """
    text = clean_text(text)
    if not text:
        return None
    if date_format:
        try:
            return usable_date(datetime.strptime(text, date_format))
        except ValueError:
            pass  # the page changed its format: fall through to the general parsers
    try:
        fast = _fast_path(text, now)
    except (ValueError, OverflowError):
        return None  # 31.02.2024, 9999-12-31T23:59-23:59: a known form, but not a usable date
    if fast:
        return usable_date(fast)
    base = now.replace(second=0, microsecond=0, tzinfo=None)
    try:
        parsed = _dateparser(text, base)
        if parsed is None and (inside := _DATE_INSIDE.search(text)) and inside.group() != text:
            parsed = _dateparser(inside.group(), base)
    except (ValueError, OverflowError):
        return None  # dateparser's own arithmetic on an absurd date
    # "5 minutes ago" must not land in the future
    return usable_date(min(parsed, now)) if parsed else None


def _fast_path(text: str, now: datetime) -> datetime | None:
    """The date in one of the common forms; None if no form matches; ValueError if impossible.

    The whole text is tried first, then a date inside it ("Опубликовано: 23.12.2024",
    "Posted on 5 March 2024 by Admin").
    """
    for find in (_fullmatches, _searches):
        for kind, match in find(text):
            if kind == "iso":
                return as_utc(datetime.fromisoformat(match.group(0).replace("Z", "+00:00")))
            if kind == "numeric":
                day, month, year, hour, minute = match.groups()
                full_year = int(year) + (2000 if len(year) == 2 else 0)
                clock = (int(hour), int(minute)) if hour else (0, 0)
                return datetime(full_year, int(month), int(day), *clock, tzinfo=UTC)
            day_group, month_group = (1, 2) if kind == "day-month" else (2, 1)
            name = match.group(month_group).lower()
            if name in _MONTHS:
                day, month, year = int(match.group(day_group)), _MONTHS[name], match.group(3)
                if not year:
                    return _yearless(month, day, now)
                return _day(int(year), month, day) + _time_of_day(*match.group(4, 5, 6))
    return None


_PATTERNS = (
    ("iso", _ISO),
    ("numeric", _NUMERIC),
    ("day-month", _DAY_MONTH),
    ("month-day", _MONTH_DAY),
)


def _fullmatches(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    for kind, pattern in _PATTERNS:
        if match := pattern.fullmatch(text):
            yield kind, match


def _searches(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            yield kind, match


def _day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _time_of_day(hour: str | None, minute: str | None, half: str | None) -> timedelta:
    """ "14:30", or "2:30" with "p" (PM), from midnight (12 AM is 0:00); none for no time or
    an impossible one ("25:99"), which leaves the day as it is."""
    if hour is None or minute is None:
        return timedelta()
    hours = int(hour)
    if half:
        hours = hours % 12 + (12 if half.lower() == "p" else 0)
    if hours > 23 or int(minute) > 59:
        return timedelta()
    return timedelta(hours=hours, minutes=int(minute))


def _yearless(month: int, day: int, now: datetime) -> datetime:
    """ "20 December" means the last 20 December that is not in the future."""
    for year in range(now.year, now.year - 9, -1):  # as far back as the last 29 February
        try:
            candidate = _day(year, month, day)
        except ValueError:
            continue
        if candidate <= now:
            return candidate
    raise ValueError(f"no recent {day}.{month}")


@lru_cache(maxsize=4096)
def _dateparser(text: str, relative_base: datetime) -> datetime | None:
    """dateparser, cached per text and minute: relative dates ("2 hours ago") need the time."""
    import dateparser  # costly to import; most pages never need it

    parsed = dateparser.parse(
        text,
        settings={
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": relative_base,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "TIMEZONE": "UTC",  # text without an offset is UTC, whatever the machine's zone
            "TO_TIMEZONE": "UTC",
        },
    )
    return as_utc(parsed) if parsed else None


def as_utc(value: datetime) -> datetime:
    """value in UTC; a naive datetime counts as UTC.

    Raises OverflowError for a date that has no UTC equivalent (9999-12-31T23:59-23:59):
    callers with dates from outside use usable_date.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Dates outside these are typos or attacks, not news. Inside them, every later step (a day
# added, a zone converted, a date spread over seconds) stays far from datetime's limits.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def usable_date(value: datetime | None) -> datetime | None:
    """value as aware UTC when it lies between EARLIEST and LATEST; else None (unknown).

    One out-of-range date must cost its item its date, never the page its items: the item
    then takes the time it was first seen, like an item without a date.
    """
    if value is None:
        return None
    try:
        utc = as_utc(value)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST <= utc < LATEST else None


def parse_iso(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 date or datetime as aware UTC; None for anything else.

    RFC 3339 allows "t" and "z"; fromisoformat wants them upper case. A date alone is midnight.
    """
    if not isinstance(value, str):
        return None
    try:
        return usable_date(datetime.fromisoformat(value.strip().upper()))
    except ValueError:
        return None


# --- items -------------------------------------------------------------------------------------


def item(
    raw: RawItem,
    *,
    source: Source,
    page_url: str,
    now: datetime,
    require_link: bool,
    cuts: Cuts | None = None,
    date_format: str | None = None,
) -> Item | None:
    """Clean one raw item; None when it lacks a title or (where required) a link.

    `date_format` is the strptime format of the dates, when not the source's own (the
    selectors detection found and a later run re-uses).

    Title, summary and content are cut to MAX_TITLE, MAX_SUMMARY and MAX_CONTENT, each cut
    counted in `cuts`; a date that cannot be used leaves the item without one.
    """
    cuts = cuts if cuts is not None else Cuts()
    link = canonical_link(raw.link, page_url) if raw.link else None
    summary = sanitize_html(cuts.html("summary", raw.summary, MAX_SUMMARY), page_url)
    content = sanitize_html(cuts.html("content", raw.content, MAX_CONTENT), page_url)
    title = cuts.title(clean_text(raw.title)) or _title_from(summary or content)
    if not title or (require_link and link is None):
        return None
    date_format = source.select.date_format if source.select else date_format
    published = (
        usable_date(raw.published)
        or usable_date(raw.updated)
        or parse_date(raw.date, now, date_format)
    )
    if published and published > now + timedelta(days=1):
        published = None  # a typo on the page must not pin an item to the top for a year
    return Item(
        key=identity(source.identity, raw=raw, title=title, link=link, published=published),
        title=title,
        link=link,
        published=published or now,
        date_inferred=published is None,
        summary=summary,
        content=content,
        # Not the date: relative dates ("2 hours ago") drift on every run, and a date alone
        # changing is not news; not the link's noise (https, tracking) either.
        content_hash=_hash(
            title, link_identity(link) if link else "", summary or "", content or ""
        ),
    )


def items(
    raws: Sequence[RawItem],
    *,
    source: Source,
    page_url: str,
    now: datetime,
    require_link: bool,
    date_format: str | None = None,
) -> list[Item]:
    """The usable items of a page or feed (scraped items need a link, feed entries do not).

    At most MAX_ITEMS_PER_PAGE of them, the first ones (a page's and a feed's newest); what
    the limits cut is logged as one warning for the page.
    """
    cuts = Cuts(items=max(0, len(raws) - MAX_ITEMS_PER_PAGE))
    cleaned = (
        item(
            raw,
            source=source,
            page_url=page_url,
            now=now,
            require_link=require_link,
            cuts=cuts,
            date_format=date_format,
        )
        for raw in raws[:MAX_ITEMS_PER_PAGE]
    )
    usable = [i for i in cleaned if i is not None]
    if cuts:
        logger.warning("%s: %s: %s", source.id, page_url, cuts)
    return usable


@dataclass(slots=True)
class Cuts:
    """What the limits cut from one page, for its one warning."""

    items: int = 0
    titles: int = 0
    summary: int = 0
    content: int = 0

    def __bool__(self) -> bool:
        return bool(self.items or self.titles or self.summary or self.content)

    def __str__(self) -> str:
        parts = [
            f"{count} {what}"
            for count, what in (
                (self.items, f"items beyond the first {MAX_ITEMS_PER_PAGE} ignored"),
                (self.titles, f"titles cut to {MAX_TITLE} characters"),
                (self.summary, f"summaries cut to {MAX_SUMMARY} characters"),
                (self.content, f"contents cut to {MAX_CONTENT} characters"),
            )
            if count
        ]
        return "limits reached: " + ", ".join(parts)

    def title(self, text: str) -> str:
        cut = cut_text(text, MAX_TITLE)
        self.titles += cut != text
        return cut

    def html(self, field: str, fragment: str | None, limit: int) -> str | None:
        if fragment is None:
            return None
        cut = cut_html(fragment, limit)
        if cut != fragment:
            setattr(self, field, getattr(self, field) + 1)
        return cut


def cut_text(text: str, limit: int) -> str:
    """text, or its first `limit` characters at most, ending at a word boundary with "…"."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back; else cut inside the word
        head = head[:space]
    return head.rstrip() + "…"


_TAG_RE = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")
# Void elements never open anything; these may be left open and close themselves, so they do
# not count towards the nesting either ("<p>" a thousand times is a thousand paragraphs).
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option"}
_NOT_NESTING = frozenset({*_VOID, "track", "wbr", *_OPTIONAL_END, "optgroup", "rt", "rp"})


def cut_html(fragment: str, limit: int) -> str:
    """fragment cut to `limit` characters and MAX_HTML_DEPTH open elements, before sanitizing.

    The cut never leaves half a tag; the tags it leaves open are closed by the sanitizer,
    which runs after it, so the markup stays valid.
    """
    text = fragment
    if len(text) > limit:
        text = text[:limit]
        if text.rfind("<") > text.rfind(">"):  # inside a tag: drop the tag's beginning
            text = text[: text.rfind("<")]
    depth = 0
    for match in _TAG_RE.finditer(text):
        closing, name, self_closing = match.groups()
        if name.lower() in _NOT_NESTING or self_closing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        if depth > MAX_HTML_DEPTH:
            return text[: match.start()]
    return text


def _title_from(fragment: str | None, limit: int = 80) -> str:
    text = html_to_text(fragment)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def identity(
    rule: str | None, *, raw: RawItem, title: str, link: str | None, published: datetime | None
) -> str:
    """The key that says two sightings are the same item (see Source.identity).

    By default the source's own id/guid (a feed's, or an identity selector's value in
    `raw.guid`), else the link, else a hash of title and date. "link" ignores guids (feeds
    whose guids change); "title" and "title+date" serve sites whose links change.
    """
    normalized_title = title.casefold()
    if rule == "title":
        return "title:" + normalized_title
    if rule == "title+date":
        return f"title+date:{normalized_title}|{_iso(published)[:10]}"
    guid = clean_text(raw.guid)
    if rule != "link" and guid:
        return guid_identity(guid)
    if link:
        return link_identity(link)
    return "hash:" + _hash(normalized_title, _iso(published)[:10])


def guid_identity(guid: str) -> str:
    """The key of a feed entry's id/guid: an opaque name, compared as written.

    A guid that is an http(s) URL is compared like a link (scheme, "www.", trailing slash,
    default port, tracking and session parameters, percent-encoding and query order are noise
    that moves a feed to https without renaming its items), but its fragment is kept: it is
    how many feeds name several items of one page ("https://scripting.com/2024/03/05.html#a1",
    the RSS 2.0 specification's own example), and dropping it would merge them. A URL guid
    without a fragment keeps the key it always had.
    """
    as_link = canonical_link(guid, "") if guid.startswith(("http://", "https://")) else None
    if as_link is None:
        return "guid:" + guid
    fragment = urlsplit(guid).fragment
    return link_identity(as_link) + (f"#{fragment}" if fragment else "")


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _hash(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()[:20]


def passes_filters(item: Item, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """include: at least one pattern matches title or summary; exclude: none does."""
    if not include and not exclude:
        return True
    text = f"{item.title}\n{html_to_text(item.summary)}"
    if include and not any(filter_pattern(p).search(text) for p in include):
        return False
    return not any(filter_pattern(p).search(text) for p in exclude)


@lru_cache(maxsize=256)
def filter_pattern(pattern: str) -> Any:
    """An include/exclude pattern compiled by RE2, case-insensitive; re2.error if RE2 cannot.

    RE2 matches in time linear in the text, whatever the pattern: with Python's re,
    `^(a+)+$` against a 32-character title runs for minutes. The price is RE2's syntax: no
    backreferences or lookaround, and \\w, \\d and \\b know only ASCII (\\pL is any letter).
    """
    import re2  # type: ignore[import-untyped,unused-ignore]

    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the caller reports it, on one line
    return re2.compile(pattern, options=options)
