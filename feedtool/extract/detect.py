"""Find the news items on a listing page without configured selectors.

A listing is a run of look-alike blocks, each with one link to an article page, usually a date
and a title of several words. Menus, "most read" boxes, tag clouds and footers repeat too, so
every run of look-alike blocks is scored and only the best one is kept. Its markup is turned
into selectors the user can pin ([sources.select]), so later runs stop depending on guesses.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain, islice, pairwise
from statistics import fmean
from typing import NamedTuple, Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml.html import HtmlElement

from feedtool.errors import ExtractError
from feedtool.extract.selector import Selector, inner_html
from feedtool.model import RawItem, Selectors


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """What `detect` found, and selectors reproducing it (None when CSS cannot express it)."""

    items: tuple[RawItem, ...]
    selectors: Selectors | None


def detect(root: HtmlElement, base_url: str, now: datetime | None = None) -> Detection:
    """Find the repeated blocks holding the page's news items, skipping menus and boxes.

    `root` is the page's document element (`<html>`). `base_url` is the URL the page was
    served at: it tells article links (deeper than the listing) from the listing itself, its
    pagination and its breadcrumbs. `now` (default: the clock) tells which reading of a date
    like 05.12.15 is in the future.

    Numeric dates come out as ISO 8601 text, read in the order decided for the whole page (see
    `_numeric_order`): normalize, which parses RawItem.date later, cannot know that order for a
    source without selectors. Other dates keep the page's text.
    """
    return _Detector(root, base_url).run(now or datetime.now(UTC))


# --- vocabulary -------------------------------------------------------------------------------

_EN_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_RU_MONTH = (
    r"(?:январ[яь]|феврал[яь]|марта?|апрел[яь]|ма[яй]|июн[яь]|июл[яь]|августа?|сентябр[яь]"
    r"|октябр[яь]|ноябр[яь]|декабр[яь]|янв|фев|апр|июн|июл|авг|сент|сен|окт|ноя|дек)(?![а-яё])"
)
# Month names written "4. Dezember 2024", "4 décembre 2024", "4 de diciembre de 2024",
# "4 dicembre 2024", "4 de dezembro de 2024", "4 grudnia 2024", "4 грудня 2024": always with
# a year, since several of these words are also names ("Mai", "Mars", "August").
_EU_MONTH = (
    r"(?:januar|jänner|februar|märz|maerz|april|mai|juni|juli|august|september|oktober"
    r"|november|dezember|janvier|f[ée]vrier|mars|avril|juin|juillet|ao[uû]t|septembre"
    r"|octobre|novembre|d[ée]cembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto"
    r"|sep?tiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio"
    r"|settembre|ottobre|dicembre|janeiro|fevereiro|mar[çc]o|maio|junho|julho|setembro"
    r"|outubro|novembro|dezembro|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia"
    r"|wrze[śs]nia|pa[źz]dziernika|listopada|grudnia|січня|лютого|березня|квітня|травня"
    r"|червня|липня|серпня|вересня|жовтня|листопада|грудня)"
)
_TIME = r"(?:,?\s*(?:в\s*)?\d{1,2}:\d{2}(?::\d{2})?)?"
# "3 days ago", "a month ago", "yesterday", "2 часа назад", "вчера": blogs and social sites
_RELATIVE = (
    r"(?:\d{1,3}|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago"
    r"|(?:just\s+now|yesterday|today)(?![a-z])"
    r"|\d{1,3}\s+(?:секунд[уы]?|минут[уы]?|час(?:а|ов)?|дн(?:я|ей)|день|недел[юиь]|месяц(?:а|ев)?"
    r"|год(?:а)?|лет)\s+назад|(?:вчера|сегодня)(?![а-яё])"
)
_DATE = re.compile(
    r"(?<!\d)(?:"
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T\s]\d{1,2}:\d{2}(?::\d{2})?)?"
    rf"|\d{{1,2}}[./-]\d{{1,2}}[./-](?:\d{{4}}|\d{{2}}){_TIME}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_EN_MONTH}\.?,?\s+\d{{4}}{_TIME}"
    rf"|{_EN_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}{_TIME}"
    rf"|\d{{1,2}}\s+{_RU_MONTH}\.?(?:\s+\d{{4}}(?:\s*г(?:ода|\.)?)?)?{_TIME}"
    rf"|\d{{1,2}}(?:\.|er|º)?\s+(?:de\s+)?{_EU_MONTH}\.?,?\s+(?:de\s+)?\d{{4}}{_TIME}"
    rf"|{_RELATIVE}"
    r")(?!\d)",
    re.IGNORECASE,
)
_RELATIVE_WORD = re.compile(r"\bago\b|yesterday|today|just now|назад|вчера|сегодня", re.I)
_MAX_DATE_TEXT = 60  # longer strings are prose that happens to mention a date

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Elements that sit inside a line of text: the first element around a link that is none of
# these is the line, paragraph or cell the link is part of.
_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "cite", "code", "em", "font", "i", "img", "kbd", "mark", "q", "s"}
    | {"small", "span", "strong", "sub", "sup", "time", "u", "var"}
)
_ROOTS = frozenset({"html", "body"})
_OFF_TAGS = frozenset({"nav", "header", "footer", "aside"})
_OFF_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_OFF_NAMES = re.compile(
    r"nav|menu|header|footer|sidebar|breadcrumb|pagination|pager|paging|popular|mostread"
    r"|most[-_ ]?(?:read|viewed|commented)|related|share|social|tagcloud|tags?(?:$|[-_ ])"
    r"|widget|banner|comment|subscribe|(?:^|[-_ ])(?:aside|side|ads?)(?:$|[-_ ])"
)
_BOX_TITLE = re.compile(
    r"most\s+(?:read|viewed|popular|commented)|popular|trending|related|read\s+also|see\s+also"
    r"|популярн|читаем|читайте\s+также|смотрите\s+также|похожие|по\s+теме|обсуждаем",
    re.IGNORECASE,
)
_MAIN_NAMES = re.compile(r"(?:^|[-_ ])(?:main|content)(?:$|[-_ ])")
_TITLE_HINT = re.compile(r"title|headline|heading", re.IGNORECASE)
_SUMMARY_HINT = re.compile(
    r"summary|preview|excerpt|teaser|lead|desc|anons|announce|intro|text|body|content|abstract",
    re.IGNORECASE,
)
# Classes that differ between blocks of one list (ids, zebra stripes, states, BEM modifiers,
# WordPress taxonomy) and so say nothing about the block's kind. Zebra and position classes
# also come suffixed to the list's own name (Drupal views write "views-row views-row-1
# views-row-odd views-row-first"): rows alternating -odd/-even, and the -first/-last ones, are
# still one list.
_UNSTABLE_CLASS = re.compile(
    r"\d|--|^(?:odd|even|first|last|active|current|selected|sticky|featured|new|clearfix|hentry)$"
    r"|^(?:is|has|js|category|tag|format|status|type)-|[-_](?:odd|even|first|last|alt)$"
)
_SIMPLE_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")  # custom elements: relative-time
# Pagination, not articles. Not "p": "?p=123" and "/p/123" are WordPress's and many a CMS's
# article ids; a pager with such links is told apart by its place and its one-word links.
_PAGE_QUERY = re.compile(r"pagen_\d+|page|paged|pg|start|offset|from", re.IGNORECASE)
_PAGE_PATH = re.compile(r"/page/?\d+/?$", re.IGNORECASE)
_SLUGGY = re.compile(r"[-_.\d]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
# Files to download (a release's "Source code (zip)") are never the item's own page.
_DOWNLOAD = re.compile(
    r"\.(?:zip|tar|t?gz|tbz2?|bz2|xz|7z|rar|exe|msi|dmg|pkg|deb|rpm|apk|jar|whl|iso)$",
    re.IGNORECASE,
)
# Index pages of one tag, label, category, topic or author, or of a year or month (/2019/09/):
# what tag clouds, label and archive widgets and a post's label links point at. Such a link
# names a page of items, not an item.
_TAXONOMY_PATH = re.compile(
    r"/(?:tags?|labels?|categor(?:y|ies)|topics?|keywords?|authors?)/[^/]+/?$"
    r"|^/(?:19|20)\d\d(?:/\d\d?){0,2}/?$",
    re.IGNORECASE,
)
_TAXONOMY_QUERY = frozenset({"tag", "label", "cat", "category", "topic", "author"})
_DIGITS = re.compile(r"\d+")

_MIN_ITEMS = 3
_MIN_SCORE = 1.0
_OFF = 0.1  # factor for each sign that a block is navigation or a side box
_WRAPPER_SHARE = 0.5  # an element holding this share of article links is layout, not a box
_MAX_CHUNK_LEAD = 3  # siblings a flat item may have before its link (date, image, ...)


class _String(Protocol):
    """A text node as lxml's XPath gives it: a str knowing the element it is .text or .tail of."""

    is_tail: bool

    def getparent(self) -> HtmlElement: ...

    def strip(self) -> str: ...

    def split(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class _TextReader:
    """The text nodes text_of reads: no comments, nor what scripts, styles, templates and ruby
    annotations (rt, rp) hold (text_of keeps such an element's own text: no title is one).

    Scripts and styles hold text only, so testing a node's parent leaves them out, four times
    faster than looking through all its ancestors; that is needed for templates and ruby, which
    may nest elements, and done only on the pages that have any.
    """

    nodes: etree.XPath  # smart strings: getparent() is the element holding .text or .tail
    plain: etree.XPath

    @staticmethod
    def make(condition: str) -> _TextReader:
        expression = f"descendant::text()[not({condition})]"
        return _TextReader(etree.XPath(expression), etree.XPath(expression, smart_strings=False))

    @staticmethod
    def of(root: HtmlElement) -> _TextReader:
        return _NESTED_TEXT if next(root.iter("template", "rt", "rp"), None) is not None else _TEXT

    def strings(self, element: HtmlElement) -> list[_String]:
        """The element's text nodes in document order (its own tail is not part of it)."""
        return list(self.nodes(element))

    def text(self, element: HtmlElement) -> str:
        """The element's text as text_of reads it, whitespace collapsed."""
        return " ".join(" ".join(self.plain(element)).split())


_TIMES = etree.XPath("descendant-or-self::*[self::time or @datetime]")
_TEXT = _TextReader.make("parent::script or parent::style")
_NESTED_TEXT = _TextReader.make(
    " or ".join(f"ancestor::{name}" for name in ("script", "style", "template", "rt", "rp"))
)


def _parent_of(string: _String) -> HtmlElement:
    """The element a text node sits in: a tail belongs to its element's parent."""
    return string.getparent().getparent() if string.is_tail else string.getparent()


def _classes(element: HtmlElement) -> list[str]:
    return str(element.get("class") or "").split()


def _names(element: HtmlElement) -> str:
    """Classes and id, lower case, for matching words like "sidebar" or "content"."""
    return " ".join([*_classes(element), str(element.get("id") or "")]).lower()


def _stable_classes(element: HtmlElement) -> frozenset[str]:
    return _stable(element.get("class") or "")


@lru_cache(maxsize=4096)
def _stable(classes: str) -> frozenset[str]:
    """The class attribute's stable classes; one attribute value recurs on every list item."""
    return frozenset(c for c in classes.split() if not _UNSTABLE_CLASS.search(c))


def _inside(element: HtmlElement, ancestor: HtmlElement) -> bool:
    return element is ancestor or any(parent is ancestor for parent in element.iterancestors())


def _elements(parent: HtmlElement) -> list[HtmlElement]:
    """The element's child elements (no comments or processing instructions)."""
    return list(parent.iterchildren(etree.Element))


# --- scoring ----------------------------------------------------------------------------------


class _Link(NamedTuple):
    """An article link as `_Detector.article` classifies it."""

    url: str  # absolute, without fragment
    quality: float  # how article-like, 0..1: deeper than the listing, same host
    taxonomy: bool  # the index page of a tag, label, category, topic or author
    shape: str  # the URL with its variable parts blanked (see _shape)


def _shape(host: str, segments: list[str], query: list[tuple[str, str]]) -> str:
    """What the links to one list's items share: host, path with numbers and the last segment
    blanked, query keys. `/2019/09/a-title.html` and `/2019/10/other.html` are one shape,
    `/releases/tag/v2.1` and `/tree/v2.1` are two."""
    kept = [_DIGITS.sub("0", s) for s in segments[:-1]]
    keys = "&".join(sorted({k for k, _ in query}))
    return "/".join([host, *kept, "*"]) + (f"?{keys}" if keys else "")


class _Anchor(NamedTuple):
    """An <a> of a block and the article link it leads to."""

    element: HtmlElement
    link: _Link


@dataclass(slots=True)
class _Found:
    """One item as read from one block, with the elements it came from."""

    link: str
    title: str
    date: str | None
    summary: HtmlElement | None
    anchor: HtmlElement
    title_el: HtmlElement
    date_el: HtmlElement | None
    date_attr: bool  # the date is the datetime attribute of <time>
    quality: float  # how article-like the link is, 0..1
    taxonomy: bool  # the link is a tag's, label's or category's page
    titled: int  # distinct article links in the block with a title-like text, at least 1

    @property
    def bare_taxonomy(self) -> bool:
        """A tag cloud's or label widget's entry: a link to a taxonomy page, nothing else.

        Such widgets list hundreds of near-identical short links; a list of full posts (with
        a date or a teaser) must beat them however long they are.
        """
        return self.taxonomy and self.date is None and self.summary is None


@dataclass(slots=True)
class _Candidate:
    """A run of look-alike blocks; a block is one element or a run of flat siblings."""

    units: list[tuple[HtmlElement, ...]]
    # every element of the signature, linked or not (for selector checks)
    members: list[HtmlElement]
    context: float
    flat: bool


class _Detector:
    def __init__(self, root: HtmlElement, base_url: str) -> None:
        self.root = root
        self.reader = _TextReader.of(root)
        self.base = base_url
        base = next(root.iter("base"), None)
        if base is not None and base.get("href") is not None:
            with contextlib.suppress(ValueError):
                self.base = urljoin(base_url, base.get("href").strip())
        origin = urlsplit(self.base)
        self.origin = f"{origin.scheme}://{origin.netloc}"
        page = urlsplit(base_url)
        self.host = _bare_host(page.hostname or "")
        self.path = page.path or "/"
        last = self.path.rsplit("/", 1)[-1]
        self.dir = self.path if not last else self.path + "/"
        if "." in last:
            self.dir = self.path[: -len(last)]
        # Caches keyed by element: a key keeps its lxml proxy alive, so the node keeps that
        # proxy (and its identity) for the whole detection.
        self._links: dict[str, _Link | None] = {}
        self._sigs: dict[HtmlElement, str] = {}
        self._contexts: dict[HtmlElement, float] = {}
        self._texts: dict[HtmlElement, str] = {}
        self._marked: dict[HtmlElement, tuple[bool, bool, bool]] = {}
        self._aboves: dict[HtmlElement, tuple[float, bool]] = {}
        self._unit_links: dict[tuple[HtmlElement, ...], dict[str, list[_Anchor]]] = {}
        # a block is read anew only when the link shapes its siblings share differ
        self._reads: dict[tuple[tuple[HtmlElement, ...], frozenset[str]], _Found | None] = {}
        self._titled: dict[HtmlElement, bool] = {}
        self._arounds: dict[tuple[HtmlElement, bool, HtmlElement], re.Match[str] | None] = {}
        self.counts: dict[HtmlElement, int] = {}  # article links in or at each element
        # The same without taxonomy links: a label widget of 900 links is no page layout.
        self.own: dict[HtmlElement, int] = {}
        self.total = 0  # article links on the page, taxonomy links aside
        self.wrapper = 0.0

    def run(self, now: datetime) -> Detection:
        best: tuple[float, _Candidate, list[_Found]] | None = None
        # A block scores at most 1.8 (dated, with summary): candidates that cannot beat the
        # best so far are not read at all, which keeps big pages fast.
        candidates = sorted(self._candidates(), key=lambda c: -len(c.units) * c.context)
        for candidate in candidates:
            if best is not None and 1.8 * len(candidate.units) * candidate.context < best[0]:
                break
            found = self._evaluate(candidate)
            score = self._score(found) * candidate.context
            # On a tie a wrapped block wins over a run of flat siblings: CSS can express it.
            if best is None or score > best[0] or (score == best[0] and best[1].flat):
                best = (score, candidate, found)
        if best is None or best[0] < _MIN_SCORE or len(best[2]) < _MIN_ITEMS:
            return Detection(items=(), selectors=None)
        _, candidate, found = best
        numeric = {f.date: n for f in found if f.date and (n := _NumericDate.read(f.date))}
        day_first = self._numeric_order(list(numeric.values()), now) if numeric else True

        def date(text: str | None) -> str | None:
            """Numeric dates as ISO text in the page's order; others as the page writes them."""
            return (numeric[text].iso(day_first) or text) if text in numeric else text

        items = tuple(
            RawItem(
                title=f.title,
                link=f.link,
                date=date(f.date),
                summary=(inner_html(f.summary).strip() or None) if f.summary is not None else None,
            )
            for f in found
        )
        selectors = _suggest(self, candidate, found)
        if selectors is not None and selectors.date and numeric:
            selectors = replace(selectors, date_format=self._date_format(found, day_first))
        return Detection(items=items, selectors=selectors)

    # numeric dates

    def _numeric_order(self, dates: list[_NumericDate], now: datetime) -> bool:
        """Whether the page's numeric dates are day first (23.12.2024) or month first (12/23/2024).

        One order holds for a whole page, and it is the one that makes every date a real date
        not in the future: the items' dates first, then dates standing alone elsewhere on the
        page (a first field over 12 anywhere means day first, a second one month first). When
        both orders fit, the page's language decides (en-US writes month first), else day
        first, as most of the world writes and as normalize reads dd.mm.yyyy.
        """
        fitting = _fitting(dates, now)
        if len(fitting) != 1:
            fitting = _fitting([*dates, *self._page_dates()], now)
        if len(fitting) == 1:
            return fitting[0]
        return _language_region(self.root) not in _MONTH_FIRST_REGIONS

    def _page_dates(self) -> list[_NumericDate]:
        """The numeric dates that are the whole text of a text node anywhere on the page."""
        out = []
        for string in self.reader.strings(self.root):
            stripped = string.strip()
            if 6 <= len(stripped) <= 25 and (date := _NumericDate.read(stripped)) is not None:
                out.append(date)
        return out

    def _date_format(self, found: list[_Found], day_first: bool) -> str | None:
        """The strptime format that reads every date element's text as detection read it, so a
        pinned source reads the dates alike; None when no one format does (a text around the
        date that differs between items)."""
        formats = set()
        for f in found:
            if f.date_el is None or f.date_attr:
                continue
            numeric = _NumericDate.read(f.date) if f.date else None
            text = self.text(f.date_el)
            if numeric is None or not f.date or f.date not in text:
                return None
            before, _, after = text.partition(f.date)
            formats.add(_literal(before) + numeric.format(day_first) + _literal(after))
        return formats.pop() if len(formats) == 1 else None

    # links

    def article(self, href: str | None) -> _Link | None:
        """The absolute link and how article-like it is; None for anything else."""
        if href is None:
            return None
        if href not in self._links:
            self._links[href] = self._classify(href)
        return self._links[href]

    def _classify(self, href: str) -> _Link | None:
        href = href.strip()
        if not href or href.startswith("#"):
            return None
        scheme = _SCHEME.match(href)
        if scheme and scheme.group(1).lower() not in ("http", "https"):
            return None  # javascript:, mailto:, tel:, as urljoin would leave them
        try:
            if href.startswith(("http://", "https://")) and "/." not in href:
                parts = urlsplit(href)
            elif href.startswith("/") and not href.startswith("//") and "/." not in href:
                parts = urlsplit(self.origin + href)  # urljoin's answer, several times faster
            else:
                parts = urlsplit(urljoin(self.base, href))
            host = _bare_host(parts.hostname or "")
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not host:
            return None
        if host == self.host:
            site = 1.0
        elif host.split(".")[-2:] == self.host.split(".")[-2:]:
            site = 0.7
        else:
            return None
        path = parts.path or "/"
        query = parse_qsl(parts.query, keep_blank_values=True) if parts.query else []
        if any(_PAGE_QUERY.fullmatch(key) for key, _ in query) or _PAGE_PATH.search(path):
            return None
        if _DOWNLOAD.search(path):
            return None
        if not query and (self.path.rstrip("/") + "/").startswith(path.rstrip("/") + "/"):
            return None  # the listing itself or one of its breadcrumbs
        segments = [s for s in path.split("/") if s]
        if path.startswith(self.dir) and len(path) > len(self.dir):
            depth = 1.0
        elif path.rstrip("/") == self.path.rstrip("/"):
            depth = 0.6  # the listing's script with an item id: detail.php?ID=5
        elif len(segments) >= 2:
            depth = 0.8
        elif segments and _SLUGGY.search(segments[0]):
            depth = 0.7
        else:
            depth = 0.3
        taxonomy = bool(_TAXONOMY_PATH.search(path)) or any(
            key.lower() in _TAXONOMY_QUERY for key, _ in query
        )
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        return _Link(url, depth * site, taxonomy, _shape(host, segments, query))

    # candidates

    def sig(self, element: HtmlElement) -> str:
        if element not in self._sigs:
            self._sigs[element] = ".".join([element.tag, *sorted(_stable_classes(element))])
        return self._sigs[element]

    def _candidates(self) -> Iterator[_Candidate]:
        root = next(self.root.iter("body"), self.root)
        parents: dict[HtmlElement, None] = {}  # in the order first met, as the anchors' are
        counts = self.counts
        own = self.own
        for anchor in root.iter("a"):
            if (link := self.article(anchor.get("href"))) is None:
                continue
            counts[anchor] = counts.get(anchor, 0) + 1
            for element in anchor.iterancestors():
                if element in counts:
                    counts[element] += 1
                else:
                    counts[element] = 1
                    parents[element] = None
            if not link.taxonomy:
                self.total += 1
                for element in chain((anchor,), anchor.iterancestors()):
                    own[element] = own.get(element, 0) + 1
        self.wrapper = max(0.5, _WRAPPER_SHARE * self.total)  # pages of taxonomy links only
        # Look-alike siblings are grouped per parent; parents that look alike under one
        # grandparent (rows of a card grid) pool their blocks.
        groups: dict[tuple[HtmlElement, str, str], list[tuple[HtmlElement, list[HtmlElement]]]] = {}
        for parent in parents:
            if counts[parent] < 2 or parent.tag == "html":
                continue
            kids = _elements(parent)
            positions: dict[str, list[int]] = {}
            for index, kid in enumerate(kids):
                positions.setdefault(self.sig(kid), []).append(index)
            _join_variants(kids, positions)
            for sig, where in positions.items():
                linked = [i for i in where if kids[i] in counts]
                if not linked:
                    continue
                groups.setdefault((parent.getparent(), self.sig(parent), sig), []).append(
                    (parent, [kids[i] for i in where])
                )
                if len(linked) >= _MIN_ITEMS:
                    yield from self._flat(kids, linked, self.context(parent, kids[linked[0]]))
        for (grandparent, parent_sig, sig), runs in groups.items():
            if sum(m in counts for _, run in runs for m in run) < 2:
                continue
            if len(runs) > 1 and grandparent is not None:
                runs = self._pooled(grandparent, parent_sig, sig)
            by_context: dict[float, list[HtmlElement]] = {}
            for parent, run in runs:
                first = next((m for m in run if m in counts), None)
                if first is not None:
                    by_context.setdefault(self.context(parent, first), []).extend(run)
            for context, members in by_context.items():
                units: list[tuple[HtmlElement, ...]] = [(m,) for m in members if m in counts]
                if len(units) >= 2:
                    yield _Candidate(units=units, members=members, context=context, flat=False)

    def _pooled(
        self, grandparent: HtmlElement, parent_sig: str, sig: str
    ) -> list[tuple[HtmlElement, list[HtmlElement]]]:
        """All look-alike parents' blocks in page order, parents with a single link included.

        Those were left out of the grouping (a lone link makes no run), but date-headed
        sections (an h3 date, then a list) often hold a single item.
        """
        runs = []
        for parent in grandparent.iterchildren(etree.Element):
            if parent in self.counts and self.sig(parent) == parent_sig:
                runs.append((parent, [k for k in _elements(parent) if self.sig(k) == sig]))
        return runs

    def _flat(
        self, kids: list[HtmlElement], linked: list[int], context: float
    ) -> Iterator[_Candidate]:
        """Items with no wrapper of their own: runs of siblings such as date, link, date, link.

        A run starts `lead` siblings before its link; every run must start with the same kind
        of element, and the lead that puts a date into the most runs wins during scoring.
        """
        gaps = [b - a for a, b in pairwise(linked)]
        if max(gaps) < 2:
            return
        for lead in range(min(min(gaps), linked[0] + 1, _MAX_CHUNK_LEAD + 1)):
            starts = [i - lead for i in linked]
            if len({self.sig(kids[s]) for s in starts}) != 1:
                continue
            ends = [*starts[1:], min(len(kids), starts[-1] + min(gaps))]
            units = [tuple(kids[s:e]) for s, e in zip(starts, ends, strict=True)]
            yield _Candidate(units=units, members=[], context=context, flat=True)

    def context(self, parent: HtmlElement, first: HtmlElement) -> float:
        """How much a list looks like main content (>1) or navigation and side boxes (<1).

        `first` is the list's first linked block: its class and a heading just before it
        count too, as do headings just before the list and its two nearest wrappers.
        """
        if parent not in self._contexts:
            factor, main = self._above(parent)
            for element in islice(chain((parent,), parent.iterancestors()), 3):
                if element.tag in _ROOTS or self.own.get(element, 0) >= self.wrapper:
                    break
                factor *= _OFF if self.box_title(element) else 1.0
            self._contexts[parent] = max(factor, _OFF**4) * (1.5 if main else 1.0)
        off_first = _OFF_NAMES.search(" ".join(_stable_classes(first)).lower())
        return self._contexts[parent] * (_OFF if off_first or self.box_title(first) else 1.0)

    def _above(self, element: HtmlElement) -> tuple[float, bool]:
        """The navigation factor of the element and its ancestors, and whether one is main.

        Memoized top-down, so the rows of a long menu do not each walk up to the root.
        """
        path: list[HtmlElement] = []
        node: HtmlElement | None = element
        while node is not None and node.tag not in _ROOTS and node not in self._aboves:
            path.append(node)
            node = node.getparent()
        factor, main = self._aboves.get(node, (1.0, False))
        for node in reversed(path):
            off, off_names, is_main = self._marks(node)
            if off or (off_names and self.own.get(node, 0) < self.wrapper):
                factor *= _OFF
            main = main or is_main
            self._aboves[node] = (factor, main)
        return self._aboves.get(element, (1.0, False))

    def _marks(self, element: HtmlElement) -> tuple[bool, bool, bool]:
        """Whether the element is navigation or a side box by tag or role, by name, or main."""
        if element not in self._marked:
            role = element.get("role")
            names = _names(element)
            off_names = bool(_OFF_NAMES.search(names))
            self._marked[element] = (
                element.tag in _OFF_TAGS or role in _OFF_ROLES,
                off_names,
                element.tag == "main"
                or role == "main"
                or bool(not off_names and _MAIN_NAMES.search(names)),
            )
        return self._marked[element]

    # reading blocks

    def _evaluate(self, candidate: _Candidate) -> list[_Found]:
        recurring = self._recurring(candidate.units)
        found: list[_Found] = []
        seen: set[str] = set()
        for unit in candidate.units:
            links = self._links_in(unit)
            key = (unit, frozenset(a[0].link.shape for a in links.values()) & recurring)
            if key not in self._reads:  # pooled and per-parent candidates share blocks
                self._reads[key] = self._read(unit, links, key[1]) if links else None
            item = self._reads[key]
            if item is not None and item.link not in seen:
                seen.add(item.link)
                found.append(item)
        return found

    def _links_in(self, unit: tuple[HtmlElement, ...]) -> dict[str, list[_Anchor]]:
        """The unit's article links, each with its anchors in page order."""
        if unit not in self._unit_links:
            links: dict[str, list[_Anchor]] = {}
            for element in _Block(unit).all("a"):
                if (link := self.article(element.get("href"))) is not None:
                    links.setdefault(link.url, []).append(_Anchor(element, link))
            self._unit_links[unit] = links
        return self._unit_links[unit]

    def _recurring(self, units: list[tuple[HtmlElement, ...]]) -> frozenset[str]:
        """The link shapes that most blocks of the list hold, each block a URL of its own.

        An item's link is most like its siblings' links: the same path pattern in every block,
        a different page each time. A link in one block only (a "Latest release" badge, a link
        in the notes) or the same URL in every block (a section link) is not one.
        """
        blocks: dict[str, int] = {}
        urls: dict[str, set[str]] = {}
        for unit in units:
            shapes: dict[str, str] = {}
            for url, anchors in self._links_in(unit).items():
                shapes.setdefault(anchors[0].link.shape, url)
            for shape, url in shapes.items():
                blocks[shape] = blocks.get(shape, 0) + 1
                urls.setdefault(shape, set()).add(url)
        least = max(2, len(units) / 2)
        return frozenset(
            shape for shape, n in blocks.items() if n >= least and len(urls[shape]) >= 0.8 * n
        )

    def _score(self, found: list[_Found]) -> float:
        if len(found) < 2:
            return 0.0
        dated = fmean(f.date is not None for f in found)
        summarized = fmean(f.summary is not None for f in found)
        wordy = fmean(min(1.0, max(len(f.title.split()) / 4, len(f.title) / 25)) for f in found)
        # An item links one article (and maybe an author or tags, with short texts): a block
        # linking several titles is a section of the page that holds several items.
        single = fmean(1 / f.titled for f in found)
        quality = fmean(f.quality * (_OFF if f.bare_taxonomy else 1.0) for f in found)
        return len(found) * quality * single * wordy * (0.5 + dated) * (1 + 0.2 * summarized)

    def text(self, element: HtmlElement) -> str:
        if element not in self._texts:
            self._texts[element] = self.reader.text(element)
        return self._texts[element]

    def _read(
        self,
        unit: tuple[HtmlElement, ...],
        links: dict[str, list[_Anchor]],
        recurring: frozenset[str],
    ) -> _Found | None:
        block = _Block(unit)
        date, date_el, date_attr = self._date(block)
        if date is None and len(unit) == 1:
            date, date_el = self._group_date(unit[0])
        heading: HtmlElement | None = next(
            (e for e in block.inner(*_HEADINGS) if self.text(e)), None
        )
        if heading is None:
            heading = next(
                (
                    e
                    for e in block.inner()
                    if _TITLE_HINT.search(" ".join(_classes(e)))
                    and not (date_el is not None and _inside(date_el, e))
                    and 3 <= len(self.text(e)) <= 300
                ),
                None,
            )
        link, anchor = self._item_link(unit, links, heading, recurring)
        title_el = anchor
        if heading is not None and self._titles(heading, anchor, links):
            title_el = heading
        title = self.text(title_el)
        if date and date_el is not None and _inside(date_el, title_el) and date_el is not title_el:
            title = " ".join(title.replace(date, " ").split()).strip(" -–—|:,")
        if not title:
            return None
        return _Found(
            link=link.url,
            title=title,
            date=date,
            summary=self._summary(block, title_el, anchor, date_el, title),
            anchor=anchor,
            title_el=title_el,
            date_el=date_el,
            date_attr=date_attr,
            quality=link.quality,
            taxonomy=link.taxonomy,
            titled=max(
                1, sum(any(len(self.text(a.element)) >= 20 for a in links[u]) for u in links)
            ),
        )

    def _titles(
        self, heading: HtmlElement, anchor: HtmlElement, links: dict[str, list[_Anchor]]
    ) -> bool:
        """Whether the heading, rather than the item's link, holds the item's title.

        It does when it holds the link or is inside it; a heading apart from the link (a card
        whose link says "Read more") when its text is the longer. Not a heading that links
        elsewhere, nor one after a link with text of its own: that heads a part of the notes
        ("Bug fixes"), the title comes first.
        """
        if _inside(anchor, heading) or _inside(heading, anchor):
            return True
        if any(_inside(a.element, heading) for anchors in links.values() for a in anchors):
            return False
        if self.text(anchor) and _precedes(anchor, heading):
            return False
        return len(self.text(heading)) >= len(self.text(anchor))

    def _item_link(
        self,
        unit: tuple[HtmlElement, ...],
        links: dict[str, list[_Anchor]],
        heading: HtmlElement | None,
        recurring: frozenset[str],
    ) -> tuple[_Link, HtmlElement]:
        """The link to the item's own page, and its anchor with the most text.

        The heading's link, when it has the shape its siblings' links share and the heading
        heads the item, not a part of its notes (see `_below`); else of the links with that
        shape the most article-like (under the listing's path: a release's tag page, not its
        commit or tree), then the one with the most text. Links in running text (a paragraph
        that mentions them) are what the item talks about, not the item, while the block has
        any other link.
        """
        plain = {
            url: anchors
            for url, anchors in links.items()
            if not all(self._in_prose(a.element, unit) for a in anchors)
        } or links
        shared = {
            url: anchors for url, anchors in plain.items() if anchors[0].link.shape in recurring
        }
        if heading is not None:
            titled = next(
                (
                    a
                    for anchors in links.values()
                    for a in anchors
                    if _inside(a.element, heading) or _inside(heading, a.element)
                ),
                None,
            )
            if titled is not None and (
                not shared or (titled.link.url in shared and not self._below(heading, shared))
            ):
                return titled.link, titled.element
        pool = shared or plain
        chosen = max(
            pool,
            key=lambda url: (
                pool[url][0].link.quality if shared else 0.0,
                sum(len(self.text(a.element)) for a in pool[url]),
            ),
        )
        anchor = max(links[chosen], key=lambda a: len(self.text(a.element)))
        return anchor.link, anchor.element

    def _below(self, heading: HtmlElement, shared: dict[str, list[_Anchor]]) -> bool:
        """Whether a shared-shape link with text comes before the heading, other than in it.

        The item's title comes first; a heading after such a link heads a part of the notes
        ("[1.2.0](compare/v1.1...v1.2)" in generated changelogs), even in every block.
        """
        return any(
            self.text(a.element) and _precedes(a.element, heading)
            for anchors in shared.values()
            for a in anchors
            if not _inside(a.element, heading)
        )

    def _in_prose(self, anchor: HtmlElement, unit: tuple[HtmlElement, ...]) -> bool:
        """Whether the link sits in running text: the nearest non-inline element around it,
        inside the block, holds three times its text and a sentence or more, and words come
        before it (a title that leads a cell's description is no mention)."""
        holder: HtmlElement | None = None
        for element in chain((anchor,), anchor.iterancestors()):
            if any(element is e for e in unit):
                return False  # the block itself: its text is the item's, title and teaser
            if element is not anchor and element.tag not in _INLINE:
                holder = element
                break
        if holder is None:
            return False
        text, own = self.text(holder), self.text(anchor)
        return len(text) >= max(80, 3 * len(own)) and not text.startswith(own)

    def _date(self, block: _Block) -> tuple[str | None, HtmlElement | None, bool]:
        """The block's date: <time> first, else the first short text that reads as a date.

        Dates outside links and headings win over dates inside them (a title may mention one).
        """
        for time in block.times():
            value = time.get("datetime")
            if value is not None and value.strip():
                return value.strip(), time, True
            match = _DATE.search(self.text(time))
            if match:
                return match.group(0), time, False
        fallback: tuple[str, HtmlElement] | None = None
        for string in block.strings(self.reader):
            stripped = string.strip()
            if not (any(map(str.isdigit, stripped)) or _RELATIVE_WORD.search(stripped)):
                continue
            if len(stripped) > _MAX_DATE_TEXT and not _DATE.match(stripped):
                continue  # prose that mentions a date; a date opening it is the item's
            holder = _parent_of(string)
            match = _DATE.search(stripped)
            for _ in range(2):  # a date split over elements: <span>23</span> <span>Dec 2024</span>
                if match or holder is None or any(holder is e for e in block.unit):
                    break
                holder = holder.getparent()
                match = self._date_around(string, holder) if holder is not None else None
            if not match or holder is None or not _some_date(match.group(0)):
                continue
            if not self.in_title(holder):
                return match.group(0), holder, False
            fallback = fallback or (match.group(0), holder)
        if fallback:
            return fallback[0], fallback[1], False
        return None, None, False

    def _group_date(self, member: HtmlElement) -> tuple[str | None, HtmlElement | None]:
        """The date heading the member's group, for items listed under the day they belong to
        (<h3>Friday, 4 December 2024</h3><ul><li>…</li></ul>): the element just before the
        member's list, when its text is mostly a date."""
        parent = member.getparent()
        heading = parent.getprevious() if parent is not None else None
        while heading is not None and not isinstance(heading.tag, str):  # a comment
            heading = heading.getprevious()
        if heading is None:
            return None, None
        text = self.text(heading)
        match = _DATE.search(text) if len(text) <= _MAX_DATE_TEXT else None
        if match is None or 2 * len(match.group(0)) < len(text) or not _some_date(match[0]):
            return None, None
        return match.group(0), heading

    def _date_around(self, string: _String, holder: HtmlElement) -> re.Match[str] | None:
        """A date in holder's text that takes in string, so a row's number is no part of its date.

        The text is joined as `_text` joins it, keeping where string starts and ends. Text nodes
        are no objects in lxml: string is known by the element holding it and whether as a tail.
        """
        if len(self.text(holder)) > _MAX_DATE_TEXT:  # the text below, known already
            return None
        key = (string.getparent(), string.is_tail, holder)
        if key not in self._arounds:  # nested blocks take in the same strings
            pieces: list[str] = []
            start = end = 0
            for node in self.reader.strings(holder):
                piece = " ".join(node.split())
                if piece:
                    pieces.append(piece)
                if node.is_tail == key[1] and node.getparent() is key[0]:
                    end = len(" ".join(pieces))
                    start = end - len(piece)
            text = " ".join(pieces)
            self._arounds[key] = next(
                (m for m in _DATE.finditer(text) if m.start() < end and start < m.end()), None
            )
        return self._arounds[key]

    def in_title(self, element: HtmlElement) -> bool:
        """Whether the element is or is inside a link or a heading; memoized top-down."""
        path: list[HtmlElement] = []
        node: HtmlElement | None = element
        while node is not None and node not in self._titled:
            path.append(node)
            node = node.getparent()
        titled = node is not None and self._titled[node]
        for node in reversed(path):
            titled = titled or node.tag == "a" or node.tag in _HEADINGS
            self._titled[node] = titled
        return self._titled[element]

    def _summary(
        self,
        block: _Block,
        title_el: HtmlElement,
        anchor: HtmlElement,
        date_el: HtmlElement | None,
        title: str,
    ) -> HtmlElement | None:
        """A teaser: an element hinted by its class, else the first paragraph, besides the title.

        It may sit inside the link only when the link wraps the whole card (title included).
        """
        parts = [e for e in (title_el, anchor, date_el) if e is not None]
        holders = [e for e in (title_el, date_el) if e is not None]
        if title_el is anchor:
            holders.append(anchor)
        # What holds a part, and what a holder holds, is no summary.
        taken = {e for p in parts for e in chain((p,), p.iterancestors())}
        taken.update(e for h in holders for e in h.iter())
        plain: HtmlElement | None = None
        for element in block.inner("p", "div", "section", "span", "dd"):
            hinted = bool(_SUMMARY_HINT.search(_names(element)))
            if element.tag == "span" and not hinted:
                continue
            if element in taken:
                continue
            text = self.text(element)
            if len(text) < 20 or text == title or _DATE.fullmatch(text):
                continue
            if hinted:
                return element
            if plain is None and element.tag == "p":
                plain = element
        return plain

    def box_title(self, element: HtmlElement) -> bool:
        """Whether a heading just before the element names a side box ("Most read")."""
        for sibling in islice(element.itersiblings(etree.Element, preceding=True), 2):
            if sibling.tag in _HEADINGS or _TITLE_HINT.search(_names(sibling)):
                text = self.text(sibling)
                if len(text) <= 60 and _BOX_TITLE.search(text):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class _Block:
    """A unit (one element, or a run of flat siblings) as its items are read from it.

    Elements are found by lxml's own tag filters, in document order, rather than by walking
    the block in Python.
    """

    unit: tuple[HtmlElement, ...]

    def all(self, *tags: str) -> Iterator[HtmlElement]:
        """The elements with one of the tags, the units' own included (an item may be a lone
        <a> or <time>)."""
        return chain.from_iterable(element.iter(*tags) for element in self.unit)

    def inner(self, *tags: str) -> Iterator[HtmlElement]:
        """The elements with one of the tags (any, without tags), the wrapper of a one-element
        unit aside: its class names the list, not the title or summary."""
        if len(self.unit) > 1:
            return self.all(*tags or (etree.Element,))
        elements: Iterator[HtmlElement] = self.unit[0].iterdescendants(*tags or (etree.Element,))
        return elements

    def times(self) -> Iterator[HtmlElement]:
        """<time> elements and any other with a datetime attribute (GitHub's <relative-time>,
        <local-time>, <ins>), in page order."""
        return chain.from_iterable(_TIMES(element) for element in self.unit)

    def strings(self, reader: _TextReader) -> Iterator[_String]:
        """The text nodes inside the unit's elements (not the text between flat siblings)."""
        for element in self.unit:
            yield from reader.strings(element)


def _precedes(first: HtmlElement, second: HtmlElement) -> bool:
    """Whether `first` starts before `second` in the document, neither inside the other."""
    line = [second, *second.iterancestors()]
    position = {e: i for i, e in enumerate(line)}
    child = first
    for parent in first.iterancestors():
        if parent in position:
            if position[parent] == 0:
                return False  # first is inside second
            return bool(parent.index(child) < parent.index(line[position[parent] - 1]))
        child = parent
    return False


def _bare_host(host: str) -> str:
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


# --- numeric dates ------------------------------------------------------------------------------

_NUMERIC = re.compile(
    r"(\d{1,2})([./-])(\d{1,2})([./-])(\d{4}|\d{2})"
    r"(?:(,?\s*(?:в\s*)?)(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
# Where people write the month first: the United States with its territories, and the
# Philippines. Read from the page's lang ("en-US") or og:locale ("en_US").
_MONTH_FIRST_REGIONS = frozenset({"US", "PH", "AS", "GU", "MP", "PR", "VI", "UM"})
_REGION = re.compile(r"[a-z]{2,3}[-_]([a-z]{2})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _NumericDate:
    """A date written with numbers only, whose first two fields are day and month in either
    order: 05.12.15, 23/12/2024 14:30."""

    match: re.Match[str]

    @staticmethod
    def read(text: str) -> _NumericDate | None:
        match = _NUMERIC.fullmatch(text)
        return _NumericDate(match) if match else None

    def moment(self, day_first: bool) -> datetime | None:
        """The date in that order; None when it is no date (a 13th month). Two-digit years are
        read as strptime's %y reads them (69-99: the 1900s), so a pinned format agrees."""
        first, _, second, _, year, _, hour, minute, sec = self.match.groups()
        day, month = (first, second) if day_first else (second, first)
        full_year = int(year) if len(year) == 4 else int(year) + (1900 if int(year) >= 69 else 2000)
        try:
            return datetime(
                full_year,
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(sec or 0),
                tzinfo=UTC,
            )
        except ValueError:
            return None

    def fits(self, day_first: bool, now: datetime) -> bool:
        """A real date, and not in the future (a day's grace for time zones)."""
        moment = self.moment(day_first)
        return moment is not None and moment <= now + timedelta(days=1)

    def iso(self, day_first: bool) -> str | None:
        """2015-05-12, or 2015-05-12T14:30 with the time the page gives; None if no date."""
        moment = self.moment(day_first)
        if moment is None:
            return None
        if self.match.group(7) is None:
            return moment.date().isoformat()
        timespec = "seconds" if self.match.group(9) else "minutes"
        return moment.replace(tzinfo=None).isoformat(timespec=timespec)  # local time, as written

    def format(self, day_first: bool) -> str:
        """The strptime format of the text: %d.%m.%y, %m/%d/%Y %H:%M ..."""
        _, sep1, _, sep2, year, joiner, hour, _, sec = self.match.groups()
        fields = ("%d", "%m") if day_first else ("%m", "%d")
        out = f"{fields[0]}{sep1}{fields[1]}{sep2}{'%Y' if len(year) == 4 else '%y'}"
        if hour is not None:
            out += _literal(joiner) + "%H:%M" + (":%S" if sec else "")
        return out


def _some_date(text: str) -> bool:
    """False for numbers that look like a numeric date but are none in either order: a
    version ("Squid 4.0.23"), a score. Any other date text is taken as it is."""
    numeric = _NumericDate.read(text)
    return numeric is None or any(numeric.moment(order) is not None for order in (True, False))


def _fitting(dates: list[_NumericDate], now: datetime) -> list[bool]:
    """The orders (day first: True) in which every date is a real one, not in the future."""
    return [order for order in (True, False) if all(d.fits(order, now) for d in dates)]


def _literal(text: str) -> str:
    return text.replace("%", "%%")


def _language_region(root: HtmlElement) -> str | None:
    """The region of the page's language (US for lang="en-US"), from <html lang> or og:locale."""
    values = [root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    values += [m.get("content") for m in root.iterfind(".//meta[@property='og:locale']")]
    values += [
        m.get("content")
        for m in root.iterfind(".//meta[@http-equiv]")
        if str(m.get("http-equiv")).lower() == "content-language"
    ]
    for value in values:
        if value and (match := _REGION.match(value.strip())):
            return match.group(1).upper()
    return None


# --- selectors --------------------------------------------------------------------------------


def _suggest(detector: _Detector, candidate: _Candidate, found: list[_Found]) -> Selectors | None:
    """Selectors that reproduce the detection, each checked against the page."""
    if candidate.flat:
        return None
    members = set(candidate.members)
    blocks = [
        next(e for e in chain((f.anchor,), f.anchor.iterancestors()) if e in members)
        for f in found  # the anchor was found in one of the members
    ]
    item = _item_selector(detector.root, blocks, candidate.members)
    if item is None:
        return None

    def href(element: HtmlElement, f: _Found) -> bool:
        article = detector.article(element.get("href"))
        return article is not None and article.url == f.link

    def same_title(element: HtmlElement, f: _Found) -> bool:
        return detector.text(element) == f.title

    def same_date(element: HtmlElement, f: _Found) -> bool:
        if f.date_attr:
            value = element.get("datetime")
            return value is not None and value.strip() == f.date
        match = _DATE.search(detector.text(element))
        return match is not None and match.group(0) == f.date

    title = _relative(blocks, [f.title_el for f in found], same_title, found)
    link = _relative(blocks, [f.anchor for f in found], href, found, allow_self=True)
    if title is None or link is None:
        return None
    date = None
    dated = [(b, f) for b, f in zip(blocks, found, strict=True) if f.date_el is not None]
    if dated and len({f.date_attr for _, f in dated}) == 1:
        date = _relative(
            [b for b, _ in dated],
            [f.date_el for _, f in dated if f.date_el is not None],
            same_date,
            [f for _, f in dated],
        )
        if date is None:
            date = _group_date_selector([b for b, _ in dated], [f for _, f in dated])
        elif dated[0][1].date_attr:
            date += "@datetime"
    summarized = [(b, f) for b, f in zip(blocks, found, strict=True) if f.summary is not None]
    summary = None
    if summarized:
        summary = _relative(
            [b for b, _ in summarized],
            [f.summary for _, f in summarized if f.summary is not None],
            lambda e, f: e is f.summary,
            [f for _, f in summarized],
        )
    return Selectors(item=item, title=title, link=f"{link}@href", date=date, summary=summary)


def _group_date_selector(blocks: list[HtmlElement], found: list[_Found]) -> str | None:
    """An XPath reading, from each block, the date heading its list, when that is where the
    dates were found (see `_Detector._group_date`) and it reads them all back."""
    tags = {f.date_el.tag for f in found if f.date_el is not None}
    tag = tags.pop() if len(tags) == 1 else None
    if tag is None or not _SIMPLE_NAME.fullmatch(tag):
        return None
    spec = f"xpath:string(../preceding-sibling::{tag}[1])"
    selector = Selector.compile(spec)
    for block, f in zip(blocks, found, strict=True):
        match = _DATE.search(selector.text(block) or "")
        if match is None or match.group(0) != f.date:
            return None
    return spec


def _join_variants(kids: list[HtmlElement], positions: dict[str, list[int]]) -> None:
    """A lone sibling that is a variant of a run of look-alikes joins the run: the same tag,
    the run's classes and some of its own ("post-card post-card-large", a featured first
    card), so that the item a site shows off is not the one left out."""
    runs = {sig: where for sig, where in positions.items() if len(where) >= 2}
    for sig, where in list(positions.items()):
        if len(where) != 1:
            continue
        odd = kids[where[0]]
        classes = _stable_classes(odd)
        hosts = [
            run
            for run, members in runs.items()
            if kids[members[0]].tag == odd.tag
            and (shared := _stable_classes(kids[members[0]]))
            and shared < classes
        ]
        if len(hosts) == 1:
            runs[hosts[0]] = positions[hosts[0]] = sorted([*runs[hosts[0]], where[0]])
            del positions[sig]


def _simple(elements: Sequence[HtmlElement]) -> str | None:
    """tag.class.class shared by all the elements, or None when their tags differ."""
    name: str = elements[0].tag
    if not _SIMPLE_NAME.fullmatch(name) or any(e.tag != name for e in elements):
        return None
    shared = frozenset.intersection(*(_stable_classes(e) for e in elements))
    return name + "".join("." + _css_escape(c) for c in sorted(shared))


def _item_selector(
    root: HtmlElement, blocks: list[HtmlElement], members: list[HtmlElement]
) -> str | None:
    """A selector for all the found blocks and, besides them, only their same-kind siblings.

    Tried from short to long: the blocks' tag and classes, then under ancestors (a child chain,
    a distinctive ancestor or id), then with the ancestors' positions as the last resort.
    """
    allowed = set(members)
    levels = [blocks]
    while len(levels) < 7:
        parents = [e.getparent() for e in levels[-1]]
        if any(p is None or p.tag == "html" for p in parents):
            break
        levels.append([p for p in parents if p is not None])
    parts: list[str] = []
    for level in levels:
        part = _simple(level)
        if part is None:
            break
        parts.append(part)
    if not parts:
        return None

    def tries() -> Iterator[str]:
        yield parts[0]
        for depth in range(1, len(parts)):
            chain, below = " > ".join(reversed(parts[: depth + 1])), f"{parts[depth]} {parts[0]}"
            yield from (chain, below) if depth == 1 else (below, chain)
            shared = levels[depth][0]
            if all(e is shared for e in levels[depth]) and (ident := _id_selector(shared)):
                yield f"{ident} {parts[0]}"
        positioned = [parts[0]]
        for depth in range(1, len(parts)):
            places = {_place(e) for e in levels[depth]}
            only = places.pop() if len(places) == 1 else None
            positioned.append(parts[depth] + (f":nth-of-type({only})" if only else ""))
            yield " > ".join(reversed(positioned))

    # Each try is run over the page as Page.extract runs it: it must select every block and
    # nothing else but the blocks' same-kind siblings.
    for css in tries():
        compiled = _compiled(css)
        if compiled is None:
            continue
        selected = compiled.all(root)
        if allowed.issuperset(selected) and set(blocks).issubset(selected):
            return css
    return None


def _place(element: HtmlElement) -> int:
    """The element's position among its same-tag siblings, from 1 (CSS :nth-of-type)."""
    return 1 + sum(1 for _ in element.itersiblings(element.tag, preceding=True))


def _id_selector(element: HtmlElement) -> str | None:
    """#id, unless the id looks generated (three digits or more in a row)."""
    ident = element.get("id")
    if ident and not re.search(r"\d{3}", ident):
        return "#" + _css_escape(ident)
    return None


def _css_escape(ident: str) -> str:
    """An identifier (class or id) as CSS writes it: digits first and punctuation escaped."""
    out = []
    for index, char in enumerate(ident):
        if char.isascii() and not (char.isalnum() or char in "-_"):
            out.append("\\" + char if char.isprintable() else f"\\{ord(char):x} ")
        elif char in "0123456789" and (index == 0 or (index == 1 and ident[0] == "-")):
            out.append(f"\\{ord(char):x} ")
        else:
            out.append(char)
    return "\\-" if ident == "-" else "".join(out)


def _compiled(css: str) -> Selector | None:
    """The selector, or None when the engine refuses what was built (an exotic class name)."""
    try:
        return Selector.compile(css)
    except ExtractError:
        return None


def _relative(
    blocks: list[HtmlElement],
    targets: list[HtmlElement],
    same: Callable[[HtmlElement, _Found], bool],
    found: list[_Found],
    *,
    allow_self: bool = False,
) -> str | None:
    """A selector that, from each block, finds an element giving the same value as its target.

    "" stands for the block itself (link only: feedtool reads "@href" of the item).
    """
    if any(t is b for t, b in zip(targets, blocks, strict=True)):
        if allow_self and all(t is b for t, b in zip(targets, blocks, strict=True)):
            return ""
        return None
    paths = [[t, *_until(t, b)] for t, b in zip(targets, blocks, strict=True)]
    below: list[str] = []
    for depth in range(min(len(p) for p in paths)):
        part = _simple([p[depth] for p in paths])
        if part is None:
            return None
        tries = [part] if depth else [part, part.split(".", 1)[0]]
        places = {_place(p[depth]) for p in paths}
        if len(places) == 1:
            tries.append(f"{part}:nth-of-type({places.pop()})")
        for css in (" > ".join([p, *below]) for p in tries):
            compiled = _compiled(css)
            if compiled is not None and all(
                (hit := compiled.first(b)) is not None and same(hit, f)
                for b, f in zip(blocks, found, strict=True)
            ):
                return css
        below.insert(0, part)
        if depth >= 2:
            break
    return None


def _until(element: HtmlElement, block: HtmlElement) -> list[HtmlElement]:
    """The element's ancestors below the block."""
    out: list[HtmlElement] = []
    for parent in element.iterancestors():
        if parent is block:
            return out
        out.append(parent)
    return out
