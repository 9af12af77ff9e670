"""HTTP GET with one requests.Session: timeouts, a body cap, retries and conditional GET."""

from __future__ import annotations

import logging
import threading
import time
from email.message import Message

import requests
import urllib3

from feedtool import USER_AGENT
from feedtool.errors import FetchError, Interrupted
from feedtool.model import Fetched, NotModified, Settings, Validators

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
DEADLINE_FACTOR = 3  # a whole body may take this many read timeouts
ACCEPT = (
    "text/html,application/xhtml+xml,application/atom+xml,application/rss+xml,"
    "application/feed+json,application/json;q=0.9,application/xml;q=0.9,*/*;q=0.8"
)


class HttpFetcher:
    """Fetches pages for a run; one instance shares its connection pool across sources."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        retries: int = 2,
        backoff: float = 0.5,
        stop: threading.Event | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.stop = stop or threading.Event()  # set by the daemon's SIGTERM: abort at once
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": ACCEPT})

    @classmethod
    def for_settings(cls, settings: Settings, stop: threading.Event | None = None) -> HttpFetcher:
        return cls(
            timeout=settings.timeout,
            max_bytes=settings.max_bytes,
            retries=settings.retries,
            stop=stop,
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, validators: Validators | None = None) -> Fetched | NotModified:
        """GET `url`, retrying connection errors and 5xx with exponential backoff.

        Raises FetchError with a one-line reason once the retries are spent, and Interrupted
        as soon as `stop` is set.
        """
        headers = {}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        for attempt in range(self.retries + 1):
            try:
                return self._get_once(url, headers)
            except _Retryable as e:
                if attempt == self.retries:
                    raise FetchError(str(e)) from e.__cause__
                delay = self.backoff * 2**attempt
                logger.info("%s: %s; retrying in %.1fs", url, e, delay)
                if self.stop.wait(delay):
                    raise Interrupted("stopped") from None
        raise AssertionError("unreachable")

    def _get_once(self, url: str, headers: dict[str, str]) -> Fetched | NotModified:
        try:
            response = self.session.get(
                url, headers=headers, timeout=(CONNECT_TIMEOUT, self.timeout), stream=True
            )
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as e:
            raise FetchError(f"invalid URL {url!r} (expected http:// or https://)") from e
        except requests.exceptions.TooManyRedirects as e:
            raise FetchError("too many redirects") from e
        except requests.exceptions.RequestException as e:
            raise _Retryable(_describe(e)) from e
        with response:
            if response.status_code == 304:
                return NotModified(response.url)
            if response.status_code >= 500:
                raise _Retryable(f"HTTP {response.status_code} {response.reason}")
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason}")
            body = self._read_capped(response)
        content_type, charset = _parse_content_type(response.headers.get("Content-Type", ""))
        return Fetched(
            url=response.url,
            status=response.status_code,
            body=body,
            content_type=content_type,
            charset=charset,
            validators=Validators(
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            ),
        )

    def _read_capped(self, response: requests.Response) -> bytes:
        """Read the (decompressed) body within max_bytes and a deadline.

        A page must not eat memory, and a server that trickles bytes must not hold a run (or a
        stopping daemon) hostage: the read timeout alone applies per chunk, not to the whole.
        """
        declared = response.headers.get("Content-Length", "")
        compressed = "Content-Encoding" in response.headers
        if declared.isdigit() and not compressed and int(declared) > self.max_bytes:
            raise FetchError(f"response larger than {_size(self.max_bytes)}")
        deadline = time.monotonic() + self.timeout * DEADLINE_FACTOR
        chunks: list[bytes] = []
        total = 0
        try:
            while chunk := response.raw.read1(65536, decode_content=True):
                total += len(chunk)
                if total > self.max_bytes:
                    raise FetchError(f"response larger than {_size(self.max_bytes)}")
                if self.stop.is_set():
                    raise Interrupted("stopped")
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"response took longer than {self.timeout * DEADLINE_FACTOR:g}s"
                    )
                chunks.append(chunk)
        except urllib3.exceptions.HTTPError as e:
            raise _Retryable("timed out" if "timed out" in str(e) else "connection broken") from e
        return b"".join(chunks)


class _Retryable(Exception):
    """A failure worth another try: network trouble or a 5xx."""


def _parse_content_type(value: str) -> tuple[str, str | None]:
    message = Message()
    message["Content-Type"] = value or "application/octet-stream"
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) else None


def _describe(error: requests.exceptions.RequestException) -> str:
    if isinstance(error, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = str(error.args[0]) if error.args else ""
        if "Name or service not known" in reason or "nodename nor servname" in reason:
            return "host not found"
        if "Connection refused" in reason:
            return "connection refused"
        return "connection failed"
    return type(error).__name__


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"
