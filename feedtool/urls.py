"""URL joining, link absolutizing and the safety rule for URLs feedtool writes out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

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


def feed_url(base_url: str, feed_id: str, suffix: str) -> str:
    """Where a published file is served: its self link, and the topic a WebSub hub hears of."""
    return f"{base_url if base_url.endswith('/') else base_url + '/'}{feed_id}{suffix}"


# Control characters: a browser drops tabs and newlines anywhere in a URL (so "java\tscript:"
# is javascript:), and XML forbids the others; leading and trailing spaces go too.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def safe_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL with a host; else None.

    The one rule for every URL feedtool writes into a feed, a page or a message: a link a
    source supplies (a site link, an item link) is copied into outputs others open, so a
    javascript:, data: or file: URL must never get through, whatever its case or padding.
    Control characters and surrounding spaces are removed first, as a browser would.
    """
    if not url:
        return None
    cleaned = _CONTROLS.sub("", url).strip()
    try:
        parts = urlsplit(cleaned)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return cleaned
