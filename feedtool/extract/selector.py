"""Selectors: "css", "css@attribute", "@attribute" or "xpath:EXPR", compiled once.

Every selector feedtool evaluates goes through `Selector`, so the engine behind it (lxml's
XPath, CSS as `syntax` translates it) lives in one place: extraction, detection and preview
run selectors with it, and config checks XPath with it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import lxml.etree
import lxml.html

from feedtool.extract.syntax import SelectorError, first_line, parse

# Beautiful Soup keeps the strings of these elements out of get_text() (unless asked for the
# text of such an element itself); text_of() does the same.
_STRING_CONTAINERS = ("script", "style", "template", "rt", "rp")
_TEXT_NODES = lxml.etree.XPath(
    "descendant::text()[name(ancestor::*[{}][1]) = $container]".format(
        " or ".join(f"self::{name}" for name in _STRING_CONTAINERS)
    ),
    smart_strings=False,
)
_RAW_TEXT = ("script", "style")  # their text is not escaped when serialised
_PROBE = lxml.html.fromstring("<div></div>")


@dataclass(frozen=True, slots=True)
class Selector:
    """A compiled selector: "css", "css@attribute", "@attribute" or "xpath:EXPR".

    CSS is matched as Beautiful Soup's soupsieve matched it: against the whole document, so a
    selector may name the scope's ancestors ("article .title" from an article), but only the
    scope's descendants are selected, never the scope itself. An empty css part is the scope.
    An XPath is evaluated with the scope as context node and may select elements, attributes or
    text (read as their values; as elements, they stand for the element holding them) or compute
    a string ("string(.//time/@datetime)").
    """

    spec: str
    attribute: str | None
    select: Any  # lxml.etree.XPath from the scope; None: the scope itself
    match: Any  # lxml.etree.XPath testing the context element; None: any element
    xpath: bool = False

    @staticmethod
    @lru_cache(maxsize=512)
    def compile(spec: str) -> Selector:
        """Raises SelectorError (an ExtractError) for anything the engine cannot evaluate."""
        source, attribute, steps = parse(spec)
        if steps is None:
            select = _xpath(spec, source, f"invalid XPath {source!r}")
            return Selector(spec, None, select, None, xpath=True)
        if not steps:
            return Selector(spec, attribute, None, None)
        problem = f"invalid CSS selector {source!r}"
        select = _xpath(spec, " | ".join(f"descendant::{step}" for step in steps), problem)
        match = _xpath(spec, " | ".join(f"self::{step}" for step in steps), problem)
        return Selector(spec, attribute, select, match)

    def reading(self, attribute: str) -> Selector:
        """This selector reading `attribute` of the elements it selects, unless it names one."""
        return self if self.attribute else replace(self, attribute=attribute)

    def all(self, scope: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
        if self.select is None:
            return [scope]
        result = self.select(scope)
        if not self.xpath:
            return list(result)
        if not isinstance(result, list):
            return []
        elements = (_holder(hit) for hit in result)
        return list(dict.fromkeys(e for e in elements if e is not None))

    def first(self, scope: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
        return next(iter(self.all(scope)), None)

    def matches(self, element: lxml.html.HtmlElement) -> bool:
        if self.xpath:
            return element in self.all(element.getroottree().getroot())
        return self.match is None or bool(self.match(element))

    def text(self, scope: lxml.html.HtmlElement) -> str | None:
        """The attribute's value, the XPath's string, or the element's text."""
        hit = self._hit(scope)
        if hit is None or isinstance(hit, str):
            return hit
        if self.attribute:
            value: str | None = hit.get(self.attribute)
            return value
        return text_of(hit)

    def inner_html(self, scope: lxml.html.HtmlElement) -> str | None:
        """The element's inner HTML, or the value text() reads."""
        hit = self._hit(scope)
        if hit is None or isinstance(hit, str) or self.attribute:
            return self.text(scope)
        return inner_html(hit)

    def _hit(self, scope: lxml.html.HtmlElement) -> lxml.html.HtmlElement | str | None:
        """The first element selected, or for an XPath, its first value."""
        if not self.xpath:
            return self.first(scope)
        result = self.select(scope)
        if not isinstance(result, list):
            return _xpath_string(result)
        if not result:
            return None
        hit = result[0]
        return str(hit) if isinstance(hit, str) else hit if _is_element(hit) else None


def _xpath(spec: str, expression: str, problem: str) -> Any:
    """Compiled, and evaluated once on an empty element: an unknown function, variable or
    namespace prefix fails here, when the configuration loads, not on every page."""
    try:
        compiled = lxml.etree.XPath(expression)
        compiled(_PROBE)
    except lxml.etree.XPathError as e:
        detail = first_line(e)
        raise SelectorError(spec, f"{problem}: {detail}", detail) from None
    return compiled


def _is_element(node: object) -> bool:
    """An element: lxml gives comments and processing instructions a callable tag."""
    return isinstance(node, lxml.etree._Element) and isinstance(node.tag, str)


def _holder(hit: object) -> lxml.html.HtmlElement | None:
    """An XPath hit as an element: itself, or the element holding an attribute or text."""
    if _is_element(hit):
        return hit
    parent = getattr(hit, "getparent", None)
    return parent() if parent is not None else None


def _xpath_string(value: object) -> str:
    """A number or boolean XPath result as XPath's string() would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text_of(element: lxml.html.HtmlElement) -> str:
    """The element's text as Beautiful Soup's get_text(" ", strip=True) gives it.

    Stripped text nodes joined by one space; comments, processing instructions and the
    contents of script, style, template, rt and rp left out (the element's own, when it is one
    of those, kept).
    """
    if element.tag in _STRING_CONTAINERS or _first(element.iter(*_STRING_CONTAINERS)):
        container = element.tag if element.tag in _STRING_CONTAINERS else ""
        texts = _TEXT_NODES(element, container=container)
    elif _first(element.iterancestors(*_STRING_CONTAINERS)):
        return ""  # inside a <template> (or the like): its strings are not text
    else:  # the common case, several times faster than the XPath
        texts = element.itertext()
    return " ".join(s for s in (t.strip() for t in texts) if s)


def _first(elements: Iterator[lxml.html.HtmlElement]) -> bool:
    return next(elements, None) is not None


def inner_html(element: lxml.html.HtmlElement) -> str:
    """The element's contents as HTML (Beautiful Soup's decode_contents): text and children."""
    text = element.text or ""
    if element.tag not in _RAW_TEXT:
        text = html.escape(text, quote=False)
    return text + "".join(lxml.html.tostring(child, encoding="unicode") for child in element)
