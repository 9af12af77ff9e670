"""A fetcher's cookies: http.cookiejar's jar, and what it needs of urllib.request's Request
and response.

Nothing of http.cookiejar is imported until a response sets a cookie: most sites never do.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from urllib3.util import Url

if TYPE_CHECKING:
    from http.cookiejar import CookieJar

    from urllib3._collections import HTTPHeaderDict

MAX_COOKIES = 3000  # cookies kept at most (a daemon's fetcher lives for weeks)


class Cookies:
    """Cookies kept as a requests session kept them: set by any response (every redirect hop,
    304s and error pages too), sent back on later requests where the cookie rules allow. Past
    MAX_COOKIES (a site minting new ones on every answer) the jar starts over.
    """

    def __init__(self) -> None:
        self._jar: CookieJar | None = None  # made by the first response with Set-Cookie
        self._making = threading.Lock()  # guards its making only: the jar has its own lock

    def added(self, target: Url, headers: dict[str, str]) -> dict[str, str]:
        """`headers`, and a Cookie header if the jar has cookies for `target` (a copy then).
        No jar yet: one attribute check."""
        jar = self._jar
        if jar is None:
            return headers
        request = CookieRequest(target, headers)
        jar.add_cookie_header(request)  # type: ignore[arg-type]
        return headers if request.cookie is None else headers | {"Cookie": request.cookie}

    def keep(self, target: Url, headers: Mapping[str, str], answer: HTTPHeaderDict) -> None:
        """Store what the answer to a request with `headers` to `target` set, if anything."""
        if "Set-Cookie" not in answer:
            return
        jar = self._made()
        jar.extract_cookies(
            CookieResponse(answer),  # type: ignore[arg-type]
            CookieRequest(target, headers),  # type: ignore[arg-type]
        )
        if len(jar) > MAX_COOKIES:
            jar.clear()

    def _made(self) -> CookieJar:
        with self._making:
            if self._jar is None:
                import http.cookiejar

                self._jar = http.cookiejar.CookieJar()
            return self._jar


class CookieRequest:
    """One request as http.cookiejar sees it (a new one for every request: nothing shared).

    `cookie`: the Cookie header the jar chose for it. `unverifiable` is False, as for a URL the
    user asked for: under the default policy it only matters to RFC 2965 cookies, refused
    anyway. An explicit Cookie among `headers` (by that spelling) is kept, not merged.
    """

    __slots__ = ("_headers", "_url", "cookie", "host", "origin_req_host", "type")

    unverifiable = False

    def __init__(self, target: Url, headers: Mapping[str, str]) -> None:
        self._url = target.url
        self._headers = headers
        self.type = target.scheme or "http"
        self.host = target.netloc or ""  # "host:port", as urllib.request's
        self.origin_req_host = target.host or ""  # host names are lower-case already
        self.cookie: str | None = None

    def get_full_url(self) -> str:
        return self._url

    def get_host(self) -> str:
        return self.host

    def has_header(self, name: str) -> bool:
        return name in self._headers

    def get_header(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name, default)

    def add_unredirected_header(self, name: str, value: str) -> None:
        if name == "Cookie":  # "Cookie2" only with RFC 2965 on, not the default policy
            self.cookie = value


class CookieResponse:
    """A response's headers as http.cookiejar reads them (`info().get_all`)."""

    __slots__ = ("_headers",)

    def __init__(self, headers: HTTPHeaderDict) -> None:
        self._headers = headers

    def info(self) -> CookieResponse:
        return self

    def get_all(self, name: str, default: list[str]) -> list[str]:
        return self._headers.getlist(name) or default
