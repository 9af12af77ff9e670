"""HTTP GET for a run's threads: timeouts and a deadline, a body cap, retries, conditional GET,
a per-host limit, and the server's hints on when to come back (Retry-After, max-age).

One HttpFetcher is shared by every thread of a run. Its parts:

- one urllib3.PoolManager (and one ProxyManager per proxy) whose pools keep `workers`
  connections per host, returned to the pool after every response that was read to its end
  (304s, redirects and small error pages included);
- redirects followed here, not by urllib3, so that every hop is checked (see `_request`);
- `_HostGate`: at most `host_connections` requests in flight to one host, their starts
  `host_spacing` seconds apart;
- `_Watchdog`: one daemon thread that shuts down the socket of a request past its deadline, or
  of every request once `stop` is set, so a blocked read returns at once;
- `_Routes`: the proxy and CA bundle environment, read once;
- a cookie jar (http.cookiejar's, its default policy), made by the first response that sets a
  cookie: a run without cookies never imports http.cookiejar (see `_open`);
- `AddressPolicy`: the addresses feedtool refuses to connect to (SSRF), checked on the address
  each socket actually connects to, after DNS, on every hop (see _TrackedConnection).

It sends what requests, its former HTTP client, sent: the same headers, URLs encoded the same
way (IDNA host names, percent-encoded paths and queries), a URL's user info as Basic auth.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import importlib.util
import ipaddress
import itertools
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import urllib3
import urllib3.connection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util import Url, make_headers, parse_url
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from feedtool import USER_AGENT
from feedtool.errors import FetchError, Interrupted
from feedtool.model import MAX_HOLD, Fetched, NotModified, Settings, Validators, utc_now

if TYPE_CHECKING:
    from http.cookiejar import CookieJar

    from urllib3._base_connection import BaseHTTPConnection
    from urllib3._collections import HTTPHeaderDict

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
DEADLINE_FACTOR = 3  # a whole response may take this many read timeouts
ACCEPT = (
    "text/html,application/xhtml+xml,application/atom+xml,application/rss+xml,"
    "application/feed+json,application/json;q=0.9,application/xml;q=0.9,*/*;q=0.8"
)
HEADERS = {  # as requests sent them: "gzip, deflate", then "br" and "zstd" if they can be read
    "User-Agent": USER_AGENT,
    "Accept-Encoding": ", ".join(make_headers(accept_encoding=True)["accept-encoding"].split(",")),
    "Accept": ACCEPT,
    "Connection": "keep-alive",
}
STOP_POLL = 0.2  # seconds: how soon `stop` is noticed by a request or a wait for a host slot
HOST_POOLS = 100  # hosts whose idle connections are kept (least recently used dropped)
DRAIN_BYTES = 64 * 1024  # an error page up to this size is read so its connection is kept
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})  # with a Location; we only GET: GET again
MAX_REDIRECTS = 30  # as requests


class HttpFetcher:
    """Fetches pages for a run; one instance is shared by all the run's threads.

    Time: each attempt, from connect to the last byte of the final response (status line,
    headers and redirects included), may take `timeout * DEADLINE_FACTOR` seconds; no single
    read may wait longer than `timeout`. Read timeouts, connection errors and 5xx are retried
    `retries` times with exponential backoff; an overrun deadline is not (a server that trickles
    once trickles again). So a get() lasts at most (retries + 1) deadlines plus the backoff,
    plus the wait for its host's slot. Setting `stop` aborts every request and wait within
    about STOP_POLL seconds with Interrupted (a DNS lookup, connect or TLS handshake in
    progress is cut off once it ends, at the latest at its own timeout).

    `workers`: threads that may call get() at once (sizes the connection pools);
    `host_connections`, `host_spacing`: the per-host limit (see _HostGate);
    `allow_private_addresses`: see AddressPolicy. for_settings() takes all of these from
    Settings.

    Cookies are kept as a requests session kept them: set by any response (every redirect hop,
    304s and error pages too), sent back on this fetcher's later requests where the cookie rules
    allow. They live as long as the fetcher: one run, or the daemon's (until a config reload).
    """

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        retries: int = 2,
        backoff: float = 0.5,
        stop: threading.Event | None = None,
        workers: int = 8,
        host_connections: int = 2,
        host_spacing: float = 0.0,
        allow_private_addresses: bool = True,
    ) -> None:
        self.timeout = timeout
        self.deadline = timeout * DEADLINE_FACTOR
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.stop = stop if stop is not None else threading.Event()  # the daemon's SIGTERM
        self.policy = AddressPolicy(allow_private=allow_private_addresses)
        self._routes = _Routes.from_environ()
        self._gate = _HostGate(host_connections, host_spacing, self.stop)
        self._watchdog = _Watchdog(self.stop)
        self._timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, self.deadline), read=timeout)
        self._pool_kw: dict[str, Any] = {
            "num_pools": HOST_POOLS,
            "maxsize": max(workers, host_connections, 1),
            "block": False,
            **self._routes.tls,
        }
        self._direct = urllib3.PoolManager(**self._pool_kw)
        _track(self._direct, self.policy)
        self._proxied: dict[str, urllib3.PoolManager] = {}  # proxy URL -> its manager
        self._proxy_lock = threading.Lock()
        self._cookies: CookieJar | None = None  # made by the first response with Set-Cookie
        self._cookies_lock = threading.Lock()  # guards its making only: the jar has its own

    @classmethod
    def for_settings(cls, settings: Settings, stop: threading.Event | None = None) -> HttpFetcher:
        return cls(
            timeout=settings.timeout,
            max_bytes=settings.max_bytes,
            retries=settings.retries,
            stop=stop,
            workers=settings.workers,
            host_connections=settings.host_connections,
            host_spacing=settings.host_spacing,
            allow_private_addresses=settings.allow_private_addresses,
        )

    def close(self) -> None:
        self._watchdog.close()
        self._direct.clear()
        with self._proxy_lock:
            for manager in self._proxied.values():
                manager.clear()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, validators: Validators | None = None) -> Fetched | NotModified:
        """GET `url`, retrying connection errors and 5xx with exponential backoff.

        Raises FetchError with a one-line reason once the retries are spent (with `retry_after`
        on a 429 or 503 that said when to come back), at once (never retried) for an invalid
        URL or an address the policy refuses, and Interrupted as soon as `stop` is set.
        Safe to call from many threads at once. The host's slot is that of `url`: a redirect
        to another host does not wait for that host's.
        """
        target = _target(url)
        headers = _headers(target)
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        host = _host_key(url)
        for attempt in range(self.retries + 1):
            try:
                with self._gate.slot(host):
                    return self._get_once(target, headers)
            except _Retryable as e:
                if attempt == self.retries:
                    raise FetchError(str(e)) from e.__cause__
                delay = self.backoff * 2**attempt
                logger.info("%s: %s; retrying in %.1fs", url, e, delay)
                if self.stop.wait(delay):
                    raise Interrupted("stopped") from None
        raise AssertionError("unreachable")

    def post_form(self, url: str, data: Mapping[str, str]) -> int:
        """POST `data` form-encoded to `url` (a WebSub hub's ping); the 2xx status answered.

        What get() promises holds here too: the address policy, the proxies, the host's slot,
        the deadline and `stop`. But one attempt only, and no redirect followed (it would turn
        into a GET): a ping is news of one moment, and the next change sends another. Raises
        FetchError with a one-line reason, Interrupted once `stop` is set.
        """
        target = _target(url)
        headers = _headers(target) | {"Content-Type": "application/x-www-form-urlencoded"}
        body = urlencode(data).encode()
        with self._gate.slot(_host_key(url)), self._watchdog.guard(self.deadline) as guard:
            try:
                response = self._open("POST", target, headers, body)
            except _Retryable as e:
                guard.check()
                raise FetchError(str(e)) from e.__cause__
            with _closing(response):
                _release(response)
            guard.check()
        if not 200 <= response.status < 300:
            raise FetchError(f"HTTP {response.status} {response.reason}")
        return response.status

    def _get_once(self, target: Url, headers: dict[str, str]) -> Fetched | NotModified:
        """One attempt under the watchdog: what it cut off fails as such, whatever the symptom
        (a closed connection, or a body without Content-Length that seemed to end)."""
        with self._watchdog.guard(self.deadline) as guard:
            try:
                result = self._request(target, headers)
            except (FetchError, _Retryable):
                guard.check()
                raise
            guard.check()
            return result

    def _request(self, target: Url, headers: dict[str, str]) -> Fetched | NotModified:
        """GET `target`, following up to MAX_REDIRECTS redirects, each hop through its own
        route and checked by the address policy; the final URL is the one reported."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._open("GET", target, headers)
            location = response.headers.get("Location") if response.status in REDIRECTS else None
            if location is None:
                break
            with _closing(response):
                _release(response)
            following = _redirect_target(target, location)
            if "Authorization" in headers and not _keeps_authorization(target, following):
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
            target = following
        else:
            raise FetchError("too many redirects")
        # close() after a complete read is a no-op: the connection is back in the pool by then.
        # Otherwise (too big, broken, cut off) it closes the connection.
        with _closing(response):
            status = response.status
            if status >= 400:
                _release(response)
                message = f"HTTP {status} {response.reason}"
                retry_after = _retry_after(response.headers) if status in (429, 503) else None
                if status >= 500 and retry_after is None:
                    raise _Retryable(message)
                raise FetchError(message, retry_after=retry_after)  # asked to wait: no retry now
            fresh_for = _fresh_for(response.headers)
            if status == 304:
                _release(response)
                return NotModified(target.url, fresh_for)
            body = self._read_capped(response)
            response.release_conn()
        content_type, charset = _parse_content_type(response.headers.get("Content-Type", ""))
        return Fetched(
            url=target.url,
            status=status,
            body=body,
            content_type=content_type,
            charset=charset,
            validators=Validators(
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            ),
            fresh_for=fresh_for,
        )

    def _open(
        self, method: str, target: Url, headers: dict[str, str], body: bytes | None = None
    ) -> urllib3.BaseHTTPResponse:
        """Send one request, its response unread: directly or through the proxy for `target`,
        once the address policy allowed its host. Network trouble raises _Retryable.

        The jar's cookies for `target` go with it; the response's cookies go into the jar. No jar
        (no response set a cookie yet): one attribute check, one header lookup."""
        self.policy.check_url(target.url)
        manager = self._manager(target)
        target = target._replace(auth=None)  # the user info goes as Authorization
        jar = self._cookies
        if jar is not None:
            headers = _with_cookies(jar, target, headers)
        try:
            response = manager.urlopen(
                method,
                target.url,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                timeout=self._timeout,
                preload_content=False,
                decode_content=False,
            )
        except urllib3.exceptions.HTTPError as e:
            raise _Retryable(_describe(e)) from e
        if "Set-Cookie" in response.headers:
            self._jar().extract_cookies(
                _CookieResponse(response.headers),  # type: ignore[arg-type]
                _CookieRequest(target, headers),  # type: ignore[arg-type]
            )
        return response

    def _jar(self) -> CookieJar:
        """The cookie jar, made (and http.cookiejar imported) on first use."""
        jar = self._cookies
        if jar is None:
            with self._cookies_lock:
                if self._cookies is None:
                    import http.cookiejar

                    self._cookies = http.cookiejar.CookieJar()
                jar = self._cookies
        return jar

    def _manager(self, target: Url) -> urllib3.PoolManager:
        """The direct pools, or those of the proxy for `target` (made on first use)."""
        proxy = self._routes.proxy_for(target)
        if proxy is None:
            return self._direct
        with self._proxy_lock:
            manager = self._proxied.get(proxy)
            if manager is None:
                manager = self._proxied[proxy] = _proxy_manager(proxy, self._pool_kw)
                _track(manager, self.policy)
            return manager

    def _read_capped(self, response: urllib3.BaseHTTPResponse) -> bytes:
        """Read the whole (decompressed) body within max_bytes: a page must not eat memory.

        The deadline is the watchdog's business: it cuts the connection, the read ends.
        """
        declared = response.headers.get("Content-Length", "")
        compressed = "Content-Encoding" in response.headers
        if declared.isdigit() and not compressed and int(declared) > self.max_bytes:
            raise FetchError(f"response larger than {_size(self.max_bytes)}")
        chunks: list[bytes] = []
        total = 0
        try:
            while chunk := response.read1(65536, decode_content=True):
                total += len(chunk)
                if total > self.max_bytes:
                    raise FetchError(f"response larger than {_size(self.max_bytes)}")
                chunks.append(chunk)
        except urllib3.exceptions.HTTPError as e:
            raise _Retryable("timed out" if "timed out" in str(e) else "connection broken") from e
        return b"".join(chunks)


class _Retryable(Exception):
    """A failure worth another try: network trouble or a 5xx."""


def _release(response: urllib3.BaseHTTPResponse) -> None:
    """Read the rest of a small body (a 304's, an error page's) and put the connection back in
    the pool; a big or broken one is left for close() to cut off."""
    total = 0
    try:
        while chunk := response.read1(65536, decode_content=False):
            total += len(chunk)
            if total > DRAIN_BYTES:
                return
    except (urllib3.exceptions.HTTPError, OSError):
        return
    response.release_conn()


@contextlib.contextmanager
def _closing(response: urllib3.BaseHTTPResponse) -> Iterator[None]:
    """Close `response` when done: its connection too unless it went back to the pool (once
    the body was read to its end); the pool then gets the closed one's place back."""
    try:
        yield
    finally:
        response.close()
        response.release_conn()


# --- cookies: what http.cookiejar needs of urllib.request's Request and response -------------


class _CookieRequest:
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


class _CookieResponse:
    """A response's headers as http.cookiejar reads them (`info().get_all`)."""

    __slots__ = ("_headers",)

    def __init__(self, headers: HTTPHeaderDict) -> None:
        self._headers = headers

    def info(self) -> _CookieResponse:
        return self

    def get_all(self, name: str, default: list[str]) -> list[str]:
        return self._headers.getlist(name) or default


def _with_cookies(jar: CookieJar, target: Url, headers: dict[str, str]) -> dict[str, str]:
    """`headers`, and a Cookie header if the jar has cookies for `target` (a copy then)."""
    request = _CookieRequest(target, headers)
    jar.add_cookie_header(request)  # type: ignore[arg-type]
    return headers if request.cookie is None else headers | {"Cookie": request.cookie}


# --- URLs: as requests prepared them, redirects as requests followed them ----------------------


def _prepared(url: str) -> Url | None:
    """`url` as urllib3 sends it: the host lower-case and IDNA-encoded, the path and query
    percent-encoded, "/" for an empty path; None unless it is an http(s) URL with a host."""
    try:
        parts = parse_url(url.lstrip())
    except LocationParseError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.host or parts.host.startswith(("*", ".")):
        return None
    return parts._replace(path=parts.path or "/")


def _target(url: str) -> Url:
    target = _prepared(url)
    if target is None:
        raise FetchError(f"invalid URL {url!r} (expected http:// or https://)")
    return target


def _headers(target: Url) -> dict[str, str]:
    """HEADERS, and Authorization (Basic) from the URL's user info, if any."""
    headers = dict(HEADERS)
    if target.auth:
        headers["Authorization"] = make_headers(basic_auth=unquote(target.auth))["authorization"]
    return headers


def _redirect_target(current: Url, location: str) -> Url:
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
    following = _prepared(url)
    if following is None:
        raise FetchError(f"redirect to an invalid URL {location!r}")
    if current.fragment and not following.fragment:
        following = following._replace(fragment=current.fragment)
    return following


def _keeps_authorization(old: Url, new: Url) -> bool:
    """requests' rule: credentials follow a redirect to the same scheme, host and port only,
    or from http to https on the default ports."""
    before, after = (old.scheme, old.port or 80), (new.scheme, new.port or 443)
    upgrade = before == ("http", 80) and after == ("https", 443)
    return old.host == new.host and (upgrade or _host_key(old.url) == _host_key(new.url))


# --- the server's hints: Retry-After, Cache-Control, Expires -----------------------------------


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from Retry-After (delta-seconds or an HTTP-date), at most MAX_HOLD."""
    value = headers.get("Retry-After", "").strip()
    if value.isdigit():
        return _hold(float(value))
    return _hold(_seconds_until(value, headers))


def _fresh_for(headers: Mapping[str, str]) -> float | None:
    """Seconds the response stays fresh: Cache-Control max-age (less Age), else Expires - Date.

    None when the server says nothing or forbids reuse (no-cache, no-store); s-maxage is for
    shared caches, not us. At most MAX_HOLD.
    """
    directives: dict[str, str] = {}
    for part in headers.get("Cache-Control", "").split(","):
        name, _, value = part.partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    if "max-age" in directives:
        max_age, age = directives["max-age"], headers.get("Age", "").strip()
        if not max_age.isdigit():
            return None
        return _hold(float(int(max_age) - (int(age) if age.isdigit() else 0)))
    return _hold(_seconds_until(headers.get("Expires", ""), headers))


def _seconds_until(http_date: str, headers: Mapping[str, str]) -> float | None:
    """Seconds from the response's Date (the server's clock, else ours) to `http_date`."""
    when = _http_date(http_date)
    if when is None:
        return None
    now = _http_date(headers.get("Date", "")) or utc_now()
    return (when - now).total_seconds()


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _hold(seconds: float | None) -> float | None:
    if seconds is None or seconds <= 0:
        return None
    return min(seconds, float(MAX_HOLD))


# --- the address policy (SSRF) ------------------------------------------------------------------

NAT64 = ipaddress.ip_network("64:ff9b::/96")  # NAT64's well-known prefix: IPv4 in the last 32 bits
NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")  # what inet_aton might read as IPv4 ("2130706433")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The addresses feedtool refuses to connect to, whoever chose the URL (a source, a redirect,
    a next page, an advertised feed, an article link): pages are written by others.

    Link-local addresses are always refused: 169.254.169.254 and fe80:: are where cloud
    metadata services hand out credentials. With `allow_private` off, so is everything that is
    not a public unicast address (loopback, private, multicast, unspecified, reserved), for
    deployments where others add sources; on (the default), one can still watch one's own
    intranet page. An IPv6 address carrying an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged by
    the IPv4 address it reaches.
    """

    allow_private: bool = True

    def refusal(self, address: str) -> str | None:
        """The one-line reason not to connect to `address` (an IP literal), or None."""
        try:
            ip = _reached(ipaddress.ip_address(address))
        except ValueError:
            return None  # not an IP address: resolved, and then checked, at connect time
        if ip.is_link_local:
            return f"refused address {address} (link-local: cloud metadata)"
        if self.allow_private:
            return None
        kind = _non_public_kind(ip)
        if kind is None:
            return None
        return f"refused address {address} ({kind}; allow_private_addresses = false)"

    def check_url(self, url: str) -> None:
        """Raise FetchError if `url`'s host is an IP literal the policy refuses.

        Through a proxy this is all feedtool can check (the proxy resolves and connects);
        directly it spares a refused literal its connect. Also reads the forms inet_aton
        accepts ("2130706433", "127.1", "0x7f.1"), which a resolver would turn into IPv4.
        """
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return  # no URL: get() refuses it
        if NUMERIC_HOST.fullmatch(host) and any(c.isdigit() for c in host):
            with contextlib.suppress(OSError):
                host = socket.inet_ntoa(socket.inet_aton(host))
        reason = self.refusal(host)
        if reason is not None:
            raise FetchError(reason)


def _reached(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address an IPv6 one leads to (IPv4-mapped, 6to4, NAT64), else `ip` itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _non_public_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes `ip` no public unicast address ("loopback", "private"...), or None."""
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not public", not ip.is_global),  # e.g. 100.64.0.0/10, carrier-grade NAT
    ):
        if flag:
            return kind
    return None


def _connect_checked(
    host: str,
    port: int,
    policy: AddressPolicy,
    timeout: object,  # seconds, None (blocking) or urllib3's "default" sentinel
    source_address: tuple[str, int] | None,
    socket_options: Sequence[tuple[int, int, int | bytes]] | None,
) -> socket.socket:
    """urllib3's create_connection, with every resolved address checked before its connect.

    The check is on the very address the socket connects to: a name that resolved to a public
    address for a check and to 169.254.169.254 for the connect (DNS rebinding) gets nowhere.
    Refused addresses are skipped; when none is left the refusal is the error (FetchError,
    which urllib3 lets through untouched, and get() never retries).
    """
    refused: str | None = None
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(
        host, port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        reason = policy.refusal(str(address[0]))
        if reason is not None:
            refused = refused or reason
            continue
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(cast(float | None, timeout))
            if source_address:
                sock.bind(source_address)
            sock.connect(address)
        except OSError as e:
            error = e
            sock.close()
            continue
        return sock
    if error is not None:
        raise error
    if refused is not None:
        raise FetchError(refused)
    raise OSError("getaddrinfo returns an empty list")


# --- proxies, read once ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Routes:
    """The proxy and CA bundle environment, read once (not at every request, as requests did).

    `tls`: the pools' CA settings, a bundle (file or directory) named by REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE; else the system's certificates (OpenSSL's, which honour SSL_CERT_FILE and
    SSL_CERT_DIR).
    """

    proxies: dict[str, str]  # scheme (or "all") -> proxy URL
    no_proxy: tuple[str, ...]
    tls: dict[str, str]

    @classmethod
    def from_environ(cls) -> _Routes:
        proxies: dict[str, str] = {}
        if any(name.lower().endswith("_proxy") for name in os.environ):  # else no import
            import urllib.request

            proxies = urllib.request.getproxies()  # HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY
        no_proxy = proxies.pop("no", "")
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        entries = tuple(e.strip().lower() for e in no_proxy.split(",") if e.strip())
        tls = {"ca_cert_dir" if os.path.isdir(bundle) else "ca_certs": bundle} if bundle else {}
        return cls(proxies=proxies, no_proxy=entries, tls=tls)

    def proxy_for(self, target: Url) -> str | None:
        """The proxy URL for `target` (its scheme's, else ALL_PROXY's); None when there is none
        or NO_PROXY covers `target`."""
        scheme = target.scheme or ""
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy is None:
            return None
        host, port = (target.host or "").strip("[]"), target.port or DEFAULT_PORTS.get(scheme)
        if any(_no_proxy_covers(entry, host, port) for entry in self.no_proxy):
            return None
        return proxy


def _proxy_manager(proxy: str, pool_kw: dict[str, Any]) -> urllib3.PoolManager:
    """Pools through the proxy at `proxy`, as requests made them: "http://" when it names no
    scheme, Proxy-Authorization (Basic) from its user info, SOCKS with PySocks."""
    if "://" not in proxy:
        proxy = "http://" + proxy
    try:
        parts = urlsplit(proxy)
        username, password = unquote(parts.username or ""), unquote(parts.password or "")
        if parts.scheme.lower().startswith("socks"):
            if importlib.util.find_spec("socks") is None:
                raise FetchError("SOCKS proxy needs PySocks (pip install PySocks)")
            from urllib3.contrib.socks import SOCKSProxyManager

            return SOCKSProxyManager(proxy, username or None, password or None, **pool_kw)
        auth = make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
        return urllib3.ProxyManager(proxy, proxy_headers=auth, **pool_kw)
    except ValueError as e:  # urllib3's LocationValueError and ProxySchemeUnknown included
        raise FetchError("invalid proxy URL") from e


def _no_proxy_covers(entry: str, host: str, port: int | None) -> bool:
    """Whether one NO_PROXY entry covers host:port: "*", an IP address or network, a domain
    with its subdomains ("example.org" or ".example.org"), optionally with ":port"."""
    if entry == "*":
        return True
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        pass
    else:
        try:
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False
    name, _, entry_port = entry.rpartition(":")
    if name and entry_port.isdigit():
        if int(entry_port) != port:
            return False
        entry = name
    entry = entry.lstrip(".")
    return host == entry or host.endswith("." + entry)


# --- the per-host limit ------------------------------------------------------------------------


def _host_key(url: str) -> str:
    """scheme://host:port, the unit of the per-host limit."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return f"{scheme}://{parts.hostname or ''}:{parts.port or DEFAULT_PORTS.get(scheme, '')}"
    except ValueError:
        return url


class _HostGate:
    """At most `limit` requests in flight to one host, their starts `spacing` seconds apart."""

    def __init__(self, limit: int, spacing: float, stop: threading.Event) -> None:
        self._limit = max(1, limit)
        self._spacing = spacing
        self._stop = stop
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots; raises Interrupted once `stop` is set."""
        with self._lock:
            slots = self._slots.setdefault(host, threading.BoundedSemaphore(self._limit))
        while not slots.acquire(timeout=STOP_POLL):
            if self._stop.is_set():
                raise Interrupted("stopped")
        try:
            # The start time is booked once the slot is held, so starts stay in booking order.
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self._spacing
            if self._stop.wait(start - now):
                raise Interrupted("stopped")
            yield
        finally:
            slots.release()


# --- the deadline: a watchdog that cuts connections off ----------------------------------------


_local = threading.local()  # .guard: the _Guard of the request the current thread is making


def _current_guard() -> _Guard | None:
    guard: _Guard | None = getattr(_local, "guard", None)
    return guard


class _Guard:
    """One attempt under watch: the connection it is using, and whether it was cut off.

    The pool tells it which connection the thread took (`use`) and gave back (`let_go`), so
    the watchdog never touches a connection another request took from the pool since.
    """

    __slots__ = ("_conn", "_done", "_lock", "deadline", "fired", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.fired: str | None = None  # "deadline" or "stop"
        self._conn: BaseHTTPConnection | None = None
        self._done = False
        self._lock = threading.Lock()

    def use(self, conn: BaseHTTPConnection) -> None:
        with self._lock:
            self._conn = conn

    def let_go(self, conn: BaseHTTPConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def cut(self, reason: str) -> None:
        """Shut the connection's socket down (the watchdog repeats this until the attempt ends:
        a connection still connecting has no socket yet)."""
        with self._lock:
            if self._done:
                return
            self.fired = self.fired or reason
            sock = getattr(self._conn, "feedtool_sock", None)
            # An SSLTransport (TLS through an HTTPS proxy) wraps its socket.
            sock = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # socket.socket's own: SSLSocket.shutdown would drop its TLS state under
                    # the reading thread's feet; this way the read just sees the end.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None

    def check(self) -> None:
        """Raise what the watchdog's cut means, if it cut."""
        if self.fired == "stop":
            raise Interrupted("stopped")
        if self.fired == "deadline":
            raise FetchError(f"response took longer than {self.seconds:g}s")


class _Watchdog:
    """One daemon thread per fetcher: cuts off attempts past their deadline (a heap of them),
    and every attempt once `stop` is set. Idle (no thread, or one asleep) while nothing runs."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, _Guard]] = []
        self._live: set[_Guard] = set()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[_Guard]:
        guard = _Guard(seconds)
        with self._wake:
            heapq.heappush(self._heap, (guard.deadline, next(self._order), guard))
            self._live.add(guard)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="feedtool-fetch-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is guard:  # the earliest deadline: the thread may sleep past it
                self._wake.notify()
        _local.guard = guard
        try:
            yield guard
        finally:
            _local.guard = None
            guard.finish()
            with self._wake:
                self._live.discard(guard)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        with self._wake:
            while not self._closed:
                if not self._live:
                    self._heap.clear()
                    self._wake.wait()
                    continue
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2].cut("deadline")
                for guard in self._live:
                    if self._stop.is_set():
                        guard.cut("stop")
                    elif guard.fired:
                        guard.cut(guard.fired)  # again: it may have connected since
                wait = self._heap[0][0] - now if self._heap else STOP_POLL
                self._wake.wait(min(wait, STOP_POLL))


class _TrackedPool(HTTPConnectionPool):
    """Tells the current thread's _Guard which connection it took and gave back."""

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        conn = super()._get_conn(timeout)
        guard = _current_guard()
        if guard is not None:
            guard.use(conn)
        return conn

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        guard = _current_guard()
        if guard is not None and conn is not None:
            guard.let_go(conn)
        super()._put_conn(conn)


class _TrackedConnection(urllib3.connection.HTTPConnection):
    """Keeps its socket where the watchdog finds it: http.client forgets `sock` as soon as a
    response that ends with the connection arrives, though the response still reads from it.

    And connects only to addresses its fetcher's AddressPolicy allows (`feedtool_policy`, set
    by _tracked): every connection of every hop is made here, HTTPS ones too (TLS comes after,
    with the host's name for SNI and the certificate; the Host header is the name as well).
    """

    feedtool_sock: object = None
    feedtool_policy: AddressPolicy = AddressPolicy()

    def connect(self) -> None:
        super().connect()
        self.feedtool_sock = self.sock

    def _new_conn(self) -> socket.socket:
        if self.proxy is not None or getattr(self, "_socks_options", None) is not None:
            # The proxy the admin chose (it may well be on loopback); it resolves the target
            # and must enforce the policy itself. check_url refused the target's IP literals.
            return super()._new_conn()
        # Failures are wrapped as urllib3's own _new_conn wraps them, so _describe reads them
        # alike; a refusal (FetchError) passes through.
        try:
            return _connect_checked(
                self._dns_host.strip("[]"),
                self.port,
                self.feedtool_policy,
                self.timeout,
                self.source_address,
                self.socket_options,
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except UnicodeError as e:  # a label over 63 characters: no name, no retry
            raise FetchError(f"invalid host name {self.host!r}") from e
        except TimeoutError as e:
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e


@functools.cache
def _tracked(
    pool_class: type[HTTPConnectionPool], policy: AddressPolicy
) -> type[HTTPConnectionPool]:
    """`pool_class` (http, https, or a SOCKS one) with _TrackedPool's and _TrackedConnection's
    hooks, its connections bound by `policy`."""
    connection_class = pool_class.ConnectionCls
    tracked_connection = type(
        f"Tracked{connection_class.__name__}",
        (_TrackedConnection, connection_class),
        {"feedtool_policy": policy},
    )
    return cast(
        type[HTTPConnectionPool],
        type(
            f"Tracked{pool_class.__name__}",
            (_TrackedPool, pool_class),
            {"ConnectionCls": tracked_connection},
        ),
    )


def _track(manager: urllib3.PoolManager, policy: AddressPolicy) -> None:
    manager.pool_classes_by_scheme = {
        scheme: _tracked(pool_class, policy)
        for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }


# --- small helpers -----------------------------------------------------------------------------


def _parse_content_type(value: str) -> tuple[str, str | None]:
    message = Message()
    message["Content-Type"] = value or "application/octet-stream"
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) else None


def _describe(error: urllib3.exceptions.HTTPError) -> str:
    if isinstance(error, urllib3.exceptions.ProxyError):
        return "proxy failed"
    # NewConnectionError is a TimeoutError too (urllib3 keeps it so), though it is no timeout
    timeout = isinstance(error, urllib3.exceptions.TimeoutError)
    if timeout and not isinstance(error, NewConnectionError):
        return "timed out"
    reason = str(error)
    if "Name or service not known" in reason or "nodename nor servname" in reason:
        return "host not found"
    if "Connection refused" in reason:
        return "connection refused"
    return "connection failed"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"
