"""HTTP GET for a run's threads: timeouts and a deadline, a body cap, retries, conditional GET,
a per-host limit, and the server's hints on when to come back (Retry-After, max-age).

One HttpFetcher is shared by every thread of a run. Its parts (each in its own module):

- one urllib3.PoolManager (and one ProxyManager per proxy) whose pools keep `workers`
  connections per host, returned to the pool after every response that was read to its end
  (304s, redirects and small error pages included);
- redirects followed here, not by urllib3, so that every hop is checked (see `_request`);
  redirects.py: URLs as requests prepared them, redirects as requests followed them;
- gate.py, `HostGate`: at most `host_connections` requests in flight to one host, their starts
  `host_spacing` seconds apart;
- deadline.py, `Watchdog`: one daemon thread that shuts down the socket of a request past its
  deadline, or of every request once `stop` is set, so a blocked read returns at once;
- routes.py, `Routes`: the proxy and CA bundle environment, read once;
- cookies.py, `Cookies`: http.cookiejar's jar (its default policy), made by the first response
  that sets a cookie: a run without cookies never imports http.cookiejar;
- policy.py, `AddressPolicy`: the addresses feedtool refuses to connect to (SSRF), checked on
  the address each socket actually connects to, after DNS, on every hop (see
  deadline._TrackedConnection);
- hints.py: the server's hints, Retry-After, Cache-Control and Expires.

It sends what requests, its former HTTP client, sent: the same headers, URLs encoded the same
way (IDNA host names, percent-encoded paths and queries), a URL's user info as Basic auth.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlencode

import urllib3
from urllib3.exceptions import NewConnectionError
from urllib3.util import Url, make_headers

from feedtool import USER_AGENT
from feedtool.errors import FetchError, Interrupted
from feedtool.fetch import hints
from feedtool.fetch.cookies import Cookies
from feedtool.fetch.deadline import Watchdog, track
from feedtool.fetch.gate import HostGate
from feedtool.fetch.policy import AddressPolicy
from feedtool.fetch.redirects import host_key, keeps_authorization, prepared, redirect_target
from feedtool.fetch.routes import Routes, proxy_manager
from feedtool.model import Fetched, NotModified, Settings, Validators

__all__ = ["AddressPolicy", "HttpFetcher"]

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
HOST_POOLS = 100  # hosts whose idle connections are kept (least recently used dropped)
DRAIN_BYTES = 64 * 1024  # an error page up to this size is read so its connection is kept
REDIRECTS = frozenset({301, 302, 303, 307, 308})  # with a Location; we only GET: GET again
MAX_REDIRECTS = 30  # as requests
MAX_BACKOFF = 60.0  # the longest wait between two tries, however many the config allows


class HttpFetcher:
    """Fetches pages for a run; one instance is shared by all the run's threads.

    Time: each attempt, from connect to the last byte of the final response (status line,
    headers and redirects included), may take `timeout * DEADLINE_FACTOR` seconds; no single
    read may wait longer than `timeout`. Read timeouts, connection errors and 5xx are retried
    `retries` times with exponential backoff; an overrun deadline is not (a server that trickles
    once trickles again). So a get() lasts at most (retries + 1) deadlines plus the backoff,
    plus the wait for its host's slot. Setting `stop` aborts every request and wait within
    about deadline.STOP_POLL seconds with Interrupted (a DNS lookup, connect or TLS handshake in
    progress is cut off once it ends, at the latest at its own timeout).

    `workers`: threads that may call get() at once (sizes the connection pools);
    `host_connections`, `host_spacing`: the per-host limit (see HostGate);
    `allow_private_addresses`: see AddressPolicy. for_settings() takes all of these from
    Settings.

    Cookies (see `Cookies`) live as long as the fetcher: one run, or the daemon's (until a
    config reload).
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
        self._routes = Routes.from_environ()
        self._gate = HostGate(host_connections, host_spacing, self.stop)
        self._watchdog = Watchdog(self.stop)
        self._timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, self.deadline), read=timeout)
        self._pool_kw: dict[str, Any] = {
            "num_pools": HOST_POOLS,
            "maxsize": max(workers, host_connections, 1),
            "block": False,
            **self._routes.tls,
        }
        self._direct = urllib3.PoolManager(**self._pool_kw)
        track(self._direct, self.policy)
        self._proxied: dict[str, urllib3.PoolManager] = {}  # proxy URL -> its manager
        self._proxy_lock = threading.Lock()
        self._cookies = Cookies()

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
        host = host_key(url)
        for attempt in range(self.retries + 1):
            try:
                with self._gate.slot(host):
                    return self._get_once(target, headers)
            except _Retryable as e:
                if attempt == self.retries:
                    raise FetchError(str(e)) from e.__cause__
                delay = min(self.backoff * 2**attempt, MAX_BACKOFF)
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
        with self._gate.slot(host_key(url)), self._watchdog.guard(self.deadline) as guard:
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
            following = redirect_target(target, location)
            if "Authorization" in headers and not keeps_authorization(target, following):
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
                retry_after = hints.retry_after(response.headers) if status in (429, 503) else None
                if status >= 500 and retry_after is None:
                    raise _Retryable(message)
                raise FetchError(message, retry_after=retry_after)  # asked to wait: no retry now
            fresh_for = hints.fresh_for(response.headers)
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

        The cookies kept for `target` go with it; those the response sets are kept."""
        self.policy.check_url(target.url)
        manager = self._manager(target)
        target = target._replace(auth=None)  # the user info goes as Authorization
        headers = self._cookies.added(target, headers)
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
        self._cookies.keep(target, headers, response.headers)
        return response

    def _manager(self, target: Url) -> urllib3.PoolManager:
        """The direct pools, or those of the proxy for `target` (made on first use)."""
        proxy = self._routes.proxy_for(target)
        if proxy is None:
            return self._direct
        with self._proxy_lock:
            manager = self._proxied.get(proxy)
            if manager is None:
                manager = self._proxied[proxy] = proxy_manager(proxy, self._pool_kw)
                track(manager, self.policy)
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


def _target(url: str) -> Url:
    target = prepared(url)
    if target is None:
        raise FetchError(f"invalid URL {url!r} (expected http:// or https://)")
    return target


def _headers(target: Url) -> dict[str, str]:
    """HEADERS, and Authorization (Basic) from the URL's user info, if any."""
    headers = dict(HEADERS)
    if target.auth:
        headers["Authorization"] = make_headers(basic_auth=unquote(target.auth))["authorization"]
    return headers


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
