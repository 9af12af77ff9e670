"""HTML pages: decoding, CSS-selector extraction, pagination and advertised feeds.

Every CSS selector feedtool evaluates goes through `Selector`, so the engine behind it can
change in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urljoin, urlsplit

import soupsieve
from bs4 import BeautifulSoup, Tag
from bs4.dammit import UnicodeDammit

from feedtool.errors import ExtractError
from feedtool.model import Extracted, Paginate, RawItem, Selectors

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/octet-stream")
# Not application/json: WordPress advertises its REST API (/wp-json/) with it.
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
    }
)
# PNG, GIF, JPEG, PDF, ZIP (and so Office files), gzip.
_MAGIC = (b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"%PDF-", b"PK\x03\x04", b"\x1f\x8b")
_CONTROL = bytes(c for c in [*range(32), 127] if chr(c) not in "\t\n\r\f")
_SNIFF_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Selector:
    """A compiled "css" or "css@attribute" selector; an empty css part is the element itself."""

    css: soupsieve.SoupSieve | None
    attribute: str | None

    @staticmethod
    @lru_cache(maxsize=512)
    def compile(spec: str) -> Selector:
        """Raises ExtractError for invalid CSS, whatever the engine's own error is."""
        css, attribute = spec, None
        if "@" in spec:
            css, _, attribute = spec.rpartition("@")
        css = css.strip()
        try:
            return Selector(soupsieve.compile(css) if css else None, attribute)
        except soupsieve.SelectorSyntaxError as e:
            raise ExtractError(f"invalid selector {spec!r}: {' '.join(str(e).split())}") from e

    def all(self, scope: Tag) -> list[Tag]:
        return [scope] if self.css is None else list(self.css.select(scope))

    def first(self, scope: Tag) -> Tag | None:
        return scope if self.css is None else self.css.select_one(scope)

    def matches(self, element: Tag) -> bool:
        return self.css is None or self.css.match(element)

    def text(self, scope: Tag) -> str | None:
        """The attribute's value, or the element's text."""
        element = self.first(scope)
        if element is None:
            return None
        if self.attribute:
            value = element.get(self.attribute)
            return " ".join(value) if isinstance(value, list) else value
        return element.get_text(" ", strip=True)

    def inner_html(self, scope: Tag) -> str | None:
        element = self.first(scope)
        if element is None:
            return None
        if self.attribute:
            return self.text(scope)
        return element.decode_contents()


def join(base: str, href: str) -> str | None:
    """urljoin, or None for a URL it cannot parse (a malformed IPv6 host: "http://[broken/")."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def looks_binary(body: bytes) -> bool:
    """A known binary format, or a start over 10 % control bytes (UTF-16 with a BOM is text).

    A stray NUL or two in a real page does not count: normalize strips control characters.
    """
    if body.startswith(_MAGIC):
        return True
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    head = body[:_SNIFF_BYTES]
    return len(head) - len(head.translate(None, _CONTROL)) > len(head) / 10


def decode(body: bytes, charset: str | None) -> str:
    """Bytes to text: the header's charset, then <meta>, then detection.

    Each candidate must decode the whole body strictly, so a wrong header (a windows-1251 page
    served as UTF-8) falls through to the next one instead of producing mojibake.
    """
    if looks_binary(body):
        raise ExtractError("not a text document (binary content)")
    known = [charset] if charset else []
    dammit = UnicodeDammit(body, known_definite_encodings=known, is_html=True)
    if dammit.unicode_markup is None:
        raise ExtractError("cannot decode the page's text")
    return dammit.unicode_markup


class Page:
    """A parsed HTML page and the URL its relative links resolve against."""

    def __init__(self, text: str, url: str) -> None:
        self.url = url
        self.soup = BeautifulSoup(text, "lxml")
        base = self.soup.find("base", href=True)
        joined = join(url, str(base["href"]).strip()) if isinstance(base, Tag) else None
        self.base = joined or url  # an unparsable <base href> is ignored

    @classmethod
    def parse(cls, body: bytes, charset: str | None, content_type: str, url: str) -> Page:
        if content_type not in HTML_TYPES and not content_type.endswith("+xml"):
            raise ExtractError(f"not an HTML page ({content_type})")
        return cls(decode(body, charset), url)

    @property
    def title(self) -> str | None:
        og = self.soup.find("meta", property="og:site_name") or self.soup.find(
            "meta", property="og:title"
        )
        if isinstance(og, Tag) and og.get("content"):
            return str(og["content"]).strip()
        if self.soup.title and self.soup.title.string:
            return self.soup.title.string.strip()
        return None

    def extract(self, selectors: Selectors, identity: str | None = None) -> Extracted:
        """Items by the source's selectors; those without a title or link are skipped."""
        items: list[RawItem] = []
        skipped = 0
        for element in Selector.compile(selectors.item).all(self.soup):
            item = self._item(element, selectors, identity)
            if item.title and item.link:
                items.append(item)
            else:
                skipped += 1
        return Extracted(items=tuple(items), title=self.title, skipped=skipped, base_url=self.base)

    def _item(self, element: Tag, selectors: Selectors, identity: str | None) -> RawItem:
        def text(spec: str | None) -> str | None:
            return Selector.compile(spec).text(element) if spec else None

        def markup(spec: str | None) -> str | None:
            return Selector.compile(spec).inner_html(element) if spec else None

        link = text(_link_spec(selectors.link))
        return RawItem(
            title=text(selectors.title) or _default_title(element, selectors.link),
            link=join(self.base, link.strip()) if link else None,
            date=text(selectors.date),
            summary=markup(selectors.summary),
            content=markup(selectors.content),
            guid=text(identity),
        )

    def next_url(self, paginate: Paginate) -> str | None:
        """The next page: the configured selector, else rel=next, else a Bitrix PAGEN_N link."""
        if paginate.next:
            href = Selector.compile(_link_spec(paginate.next)).text(self.soup)
            return self._absolute(href)
        rel_next = Selector.compile('link[rel~="next"][href], a[rel~="next"][href]@href')
        return self._absolute(rel_next.text(self.soup)) or self._bitrix_next()

    def _bitrix_next(self) -> str | None:
        current = dict(parse_qsl(urlsplit(self.url).query))
        for anchor in Selector.compile('a[href*="PAGEN_"]').all(self.soup):
            href = self._absolute(str(anchor["href"]))
            if href is None:
                continue
            for key, value in parse_qsl(urlsplit(href).query):
                numbered = re.fullmatch(r"PAGEN_\d+", key) and value.isdigit()
                if numbered and int(value) == int(current.get(key, "1")) + 1:
                    return href
        return None

    def advertised_feed(self) -> str | None:
        """The first feed the page links with <link rel="alternate" type="...">."""
        for link in Selector.compile('link[rel~="alternate"][href][type]').all(self.soup):
            if str(link["type"]).split(";")[0].strip().lower() in FEED_TYPES:
                return self._absolute(str(link["href"]))
        return None

    def _absolute(self, href: str | None) -> str | None:
        if not href or not href.strip() or href.strip().startswith(("#", "javascript:")):
            return None
        return join(self.base, href.strip())


def _default_title(element: Tag, link_spec: str | None) -> str | None:
    """The text of the element the link selector matches; with no link selector, of the first
    link that has any text (Bitrix items often start with an image link)."""
    if link_spec:
        anchor = Selector.compile(_link_spec(link_spec)).first(element)
        return (anchor.get_text(" ", strip=True) or None) if anchor is not None else None
    for anchor in Selector.compile("a[href]").all(element):
        text = anchor.get_text(" ", strip=True)
        if text:
            return text
    return None


def _link_spec(spec: str | None) -> str:
    """Link selectors default to href: "a" means "a@href", nothing means the first link."""
    if not spec:
        return "a[href]@href"
    return spec if "@" in spec else spec + "@href"
