"""URLs as requests prepared them, redirects as requests followed them; the host key.

The fetcher follows redirects itself (so that every hop is checked): these are its rules.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urljoin, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from feedtool.errors import FetchError

DEFAULT_PORTS = {"http": 80, "https": 443}


def prepared(url: str) -> Url | None:
    """`url` as urllib3 sends it: the host lower-case and IDNA-encoded, the path and query
    percent-encoded, "/" for an empty path; None unless it is an http(s) URL with a host."""
    try:
        parts = parse_url(url.lstrip())
    except LocationParseError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.host or parts.host.startswith(("*", ".")):
        return None
    return parts._replace(path=parts.path or "/")


def redirect_target(current: Url, location: str) -> Url:
    """Where a redirect's Location leads, refused unless it is an http(s) URL with a host.

    The message names the target, not the URL that redirected (only its scheme when that
    is not http: a file: path is nobody's business). As requests did, a Location in UTF-8 is
    read as such, and a fragment carries over to a Location without one.
    """
    with contextlib.suppress(UnicodeError):
        location = location.encode("latin-1").decode()
    try:
        url = urljoin(current.url, location)
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        raise FetchError(f"redirect to an invalid URL {location!r}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise FetchError(f"redirect to a {parts.scheme}: URL refused")
    following = prepared(url)
    if following is None:
        raise FetchError(f"redirect to an invalid URL {location!r}")
    if current.fragment and not following.fragment:
        following = following._replace(fragment=current.fragment)
    return following


def keeps_authorization(old: Url, new: Url) -> bool:
    """requests' rule: credentials follow a redirect to the same scheme, host and port only,
    or from http to https on the default ports."""
    before, after = (old.scheme, old.port or 80), (new.scheme, new.port or 443)
    upgrade = before == ("http", 80) and after == ("https", 443)
    return old.host == new.host and (upgrade or host_key(old.url) == host_key(new.url))


def host_key(url: str) -> str:
    """scheme://host:port, the unit of the per-host limit."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return f"{scheme}://{parts.hostname or ''}:{parts.port or DEFAULT_PORTS.get(scheme, '')}"
    except ValueError:
        return url
