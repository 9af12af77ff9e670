"""HTML pages: parsing, selector extraction, pagination and advertised feeds."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

import lxml.html

from feedtool.errors import ExtractError
from feedtool.extract.meta import image_url, language_tag
from feedtool.extract.selector import Selector, text_of
from feedtool.model import FEED_TYPES, Extracted, Paginate, RawItem, Selectors, SiteMeta
from feedtool.normalize import MAX_TITLE, cut_text
from feedtool.textcodec import decode
from feedtool.urls import join

__all__ = ["HTML_TYPES", "Page", "parse_html"]

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/octet-stream")
_parsers = threading.local()


def parse_html(text: str, url: str) -> lxml.html.HtmlElement:
    """The document's <html> element; an empty one for a document without any element.

    lxml refuses a str that carries an XML encoding declaration, so the text goes in as UTF-8
    bytes with the encoding given; NUL characters would end libxml2's reading early. What
    libxml2 leaves out of a document nested deeper than it allows (256 levels) is one warning,
    naming `url`.
    """
    data = text.replace("\x00", "").encode("utf-8", errors="replace")
    parser = getattr(_parsers, "parser", None)
    if parser is None:  # one per thread: a parser serializes the threads sharing it
        parser = _parsers.parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except lxml.etree.ParserError:  # "Document is empty": whitespace or comments only
        return lxml.html.Element("html")
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        logger.warning("%s: nested too deep to read whole; what lies deeper is left out", url)
    return root


class Page:
    """A parsed HTML page and the URL its relative links resolve against."""

    def __init__(self, text: str, url: str) -> None:
        self.url = url
        self.root: lxml.html.HtmlElement = parse_html(text, url)
        base = self.root.find(".//base[@href]")
        joined = join(url, base.get("href").strip()) if base is not None else None
        self.base = joined or url  # an unparsable <base href> is ignored

    @classmethod
    def parse(cls, body: bytes, charset: str | None, content_type: str, url: str) -> Page:
        if content_type not in HTML_TYPES and not content_type.endswith("+xml"):
            raise ExtractError(f"not an HTML page ({content_type})")
        return cls(decode(body, charset), url)

    @property
    def title(self) -> str | None:
        """The site's name or the page's title, cut to MAX_TITLE: it heads every feed file."""
        og = self._meta("og:site_name")
        if og is None:
            og = self._meta("og:title")
        if og is not None and og.get("content"):
            return cut_text(str(og.get("content")).strip(), MAX_TITLE)
        title = self.root.find(".//title")
        if title is not None and len(title) == 0 and title.text:
            return cut_text(str(title.text).strip(), MAX_TITLE)
        return None

    def _meta(self, prop: str) -> lxml.html.HtmlElement | None:
        return next(iter(self.root.iterfind(f".//meta[@property='{prop}']")), None)

    def _meta_content(self, prop: str) -> str | None:
        meta = self._meta(prop)
        if meta is None or meta.get("content") is None:
            return None
        return str(meta.get("content")).strip() or None

    @property
    def meta(self) -> SiteMeta:
        """What the page says about its site: language, icon, logo (og:image), og:site_name."""
        name = self._meta_content("og:site_name")
        return SiteMeta(
            language=self._language(),
            icon=self._icon(),
            logo=image_url(self.base, self._meta_content("og:image")),
            site_name=cut_text(name, MAX_TITLE) if name else None,
        )

    def _language(self) -> str | None:
        """<html lang>, else <meta http-equiv="content-language">, else og:locale: the first
        that holds a language tag."""
        declared = (
            str(meta.get("content"))
            for meta in self.root.iter("meta")
            if str(meta.get("http-equiv", "")).strip().lower() == "content-language"
        )
        candidates = (
            self.root.get("lang"),
            self.root.get("xml:lang"),
            next(declared, None),
            self._meta_content("og:locale"),
        )
        return next((tag for value in candidates if (tag := language_tag(value))), None)

    def _icon(self) -> str | None:
        """The first rel="icon" (or "shortcut icon") link, else an apple-touch-icon: a favicon
        first, as Atom's <icon> is meant to be small."""
        links = [
            (str(link.get("rel", "")).lower().split(), link.get("href"))
            for link in self.root.iter("link")
        ]
        for wanted in ({"icon"}, {"apple-touch-icon", "apple-touch-icon-precomposed"}):
            for rels, href in links:
                if wanted.intersection(rels) and (url := image_url(self.base, href)):
                    return url
        return None

    def extract(self, selectors: Selectors, identity: str | None = None) -> Extracted:
        """Items by the source's selectors; those without a title or link are skipped."""
        items: list[RawItem] = []
        skipped = 0
        elements = Selector.compile(selectors.item).all(self.root)
        for element in elements:
            item = self._item(element, selectors, identity)
            if item.title and item.link:
                items.append(item)
            else:
                skipped += 1
        title = Selector.compile(selectors.title) if selectors.title else None
        unmatched = (
            ("title",)
            if title is not None
            and elements
            and not any(title.first(e) is not None for e in elements)
            else ()
        )
        return Extracted(
            items=tuple(items),
            title=self.title,
            skipped=skipped,
            base_url=self.base,
            unmatched=unmatched,
            meta=self.meta,
        )

    def _item(
        self, element: lxml.html.HtmlElement, selectors: Selectors, identity: str | None
    ) -> RawItem:
        def text(spec: str | None) -> str | None:
            return Selector.compile(spec).text(element) if spec else None

        def markup(spec: str | None) -> str | None:
            return Selector.compile(spec).inner_html(element) if spec else None

        link = _link_selector(selectors.link).text(element)
        return RawItem(
            title=text(selectors.title) or _default_title(element, selectors.link),
            link=join(self.base, link.strip()) if link else None,
            date=text(selectors.date),
            summary=markup(selectors.summary),
            content=markup(selectors.content),
            guid=text(identity),
        )

    def next_url(self, paginate: Paginate) -> str | None:
        """The next page: the configured selector; else, in this order, rel=next, a Bitrix
        PAGEN_N link, a link with class "next", or a pager's "Next" / "»" / "Older posts" link.

        rel=next comes first because a site says it on purpose; the pager's text is a guess,
        made only inside pagers (.pagination, .pager, nav...) and never on a "previous" link.
        A link back to this very page is no next page (it would loop).
        """
        if paginate.next:
            return self._elsewhere(_link_selector(paginate.next).text(self.root))
        rel_next = Selector.compile('link[rel~="next"][href], a[rel~="next"][href]@href')
        return (
            self._elsewhere(rel_next.text(self.root))
            or self._bitrix_next()
            or self._classed_next()
            or self._pager_next()
        )

    def _bitrix_next(self) -> str | None:
        current = dict(parse_qsl(urlsplit(self.url).query))
        for anchor in Selector.compile('a[href*="PAGEN_"]').all(self.root):
            href = self._elsewhere(anchor.get("href"))
            if href is None:
                continue
            for key, value in parse_qsl(urlsplit(href).query):
                numbered = re.fullmatch(r"PAGEN_\d+", key) and value.isdigit()
                if numbered and int(value) == int(current.get(key, "1")) + 1:
                    return href
        return None

    def _classed_next(self) -> str | None:
        """`a.next`, or the link in a `.next` pager cell (`<li class="next"><a>`)."""
        for anchor in Selector.compile(_CLASSED_NEXT).all(self.root):
            if not _previous(anchor) and (href := self._elsewhere(anchor.get("href"))):
                return href
        return None

    def _pager_next(self) -> str | None:
        """The pager link whose words say "next" ("Next ›", "Older posts", "Далее"), else the
        one that is a forward arrow alone ("›" before "»", which some pagers use for "last")."""
        best: tuple[int, str] | None = None
        for anchor in Selector.compile(_PAGER_LINKS).all(self.root):
            rank = _next_rank(anchor)
            if rank is None or (best is not None and best[0] <= rank):
                continue
            if href := self._elsewhere(anchor.get("href")):
                best = (rank, href)
        return best[1] if best else None

    def _elsewhere(self, href: str | None) -> str | None:
        """The absolute URL of href, unless it leads back to this page."""
        url = self._absolute(href)
        return None if url is None or _same_page(url, self.url) else url

    def advertised_feed(self) -> str | None:
        """The first feed the page links with <link rel="alternate" type="...">."""
        for link in Selector.compile('link[rel~="alternate"][href][type]').all(self.root):
            if str(link.get("type")).split(";")[0].strip().lower() in FEED_TYPES:
                return self._absolute(link.get("href"))
        return None

    def _absolute(self, href: str | None) -> str | None:
        if not href or not href.strip() or href.strip().startswith(("#", "javascript:")):
            return None
        return join(self.base, href.strip())


def _default_title(element: lxml.html.HtmlElement, link_spec: str | None) -> str | None:
    """The text of the element the link selector matches; with no link selector, of the first
    link that has any text (Bitrix items often start with an image link)."""
    if link_spec:
        anchor = _link_selector(link_spec).first(element)
        return (text_of(anchor) or None) if anchor is not None else None
    for anchor in Selector.compile("a[href]").all(element):
        text = text_of(anchor)
        if text:
            return text
    return None


@lru_cache(maxsize=256)
def _link_selector(spec: str | None) -> Selector:
    """Links default to href: "a" reads "a@href", nothing means the first link."""
    return Selector.compile(spec or "a[href]").reading("href")


# Pagination: where a pager's links live, and the words of its "next" and "previous" links.
_PAGERS = (
    ".pagination, .pager, .paging, .pagenav, .page-nav, .nav-links, .navigation, nav,"
    ' [role="navigation"], [class*="pagination"], [class*="pager"], [class*="paging"],'
    ' [class*="page-nav"], [class*="pagenav"], [class*="navigation"]'
)
_PAGER_LINKS = ", ".join(f"{pager.strip()} a[href]" for pager in _PAGERS.split(","))
_CLASSED_NEXT = "a.next[href], .next > a[href], a.next-page[href], a.nextpostslink[href]"
_NEXT_WORDS = re.compile(
    r"(?:next|older|следующая|следующие|далее|вперёд|вперед)"
    r"(?:\s+(?:page|posts|entries|news|articles|страница|новости|записи))?"
    r"\s*[›»>→]*"
)
_NEXT_ARROWS = {"›": 1, ">": 1, "→": 1, "»": 2, ">>": 2}
_PREVIOUS = re.compile(r"(?<![a-z])prev(?!iew)|newer|назад|предыдущ|[«‹←]")  # not "preview"


def _next_rank(anchor: lxml.html.HtmlElement) -> int | None:
    """0 for a link whose words say "next", 1-2 for a forward arrow alone, None otherwise.

    The words may be the link's text, its aria-label or its title (icon-only pager links).
    """
    if _previous(anchor):
        return None
    for label in (text_of(anchor), anchor.get("aria-label"), anchor.get("title")):
        label = " ".join((label or "").casefold().split())
        if _NEXT_WORDS.fullmatch(label):
            return 0
        if label in _NEXT_ARROWS:
            return _NEXT_ARROWS[label]
    return None


def _previous(anchor: lxml.html.HtmlElement) -> bool:
    """A link that goes back: rel=prev, a "prev" class, or "Previous" / "«" / "Назад" text."""
    cell = anchor.getparent()
    marks = (
        anchor.get("rel"),
        anchor.get("class"),
        cell.get("class") if cell is not None and cell.tag == "li" else None,
        text_of(anchor),
        anchor.get("aria-label"),
    )
    return any(_PREVIOUS.search(mark.casefold()) for mark in marks if mark)


def _same_page(url: str, other: str) -> bool:
    """Both URLs name one page: fragment, a trailing slash and host case aside."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.netloc.lower(), a.path.rstrip("/"), a.query) == (
        b.netloc.lower(),
        b.path.rstrip("/"),
        b.query,
    )
