"""URL joining and link absolutizing: one home for resolving hrefs against a page's base."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin

import lxml.html


def join(base: str, href: str) -> str | None:
    """urljoin, or None for a URL it cannot parse (a malformed IPv6 host: "http://[broken/")."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def absolutize(root: lxml.html.HtmlElement, base: str) -> None:
    """Resolve a/@href, img/@src and img/@srcset under root (root included) against base, in place.

    An unparsable URL is left as written, for the sanitizer to judge.
    """
    for element in root.iter("a", "img"):
        for attribute in ("href", "src"):
            value = element.get(attribute)
            if value is not None:
                element.set(attribute, _join_or_keep(base, value))
        srcset = element.get("srcset")
        if srcset:
            element.set("srcset", ", ".join(_srcset(base, srcset)))


def _srcset(base: str, srcset: str) -> Iterator[str]:
    for candidate in srcset.split(","):
        url, _, descriptor = candidate.strip().partition(" ")
        if url:
            yield f"{_join_or_keep(base, url)} {descriptor.strip()}".rstrip()


def _join_or_keep(base: str, url: str) -> str:
    return join(base, url.strip()) or url
