"""HTTP GET with one requests.Session: timeouts, a body cap, retries and conditional GET."""

from __future__ import annotations

import logging
import time
from email.message import Message

import requests

from feedtool import USER_AGENT
from feedtool.errors import FetchError
from feedtool.model import Fetched, NotModified, Validators

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
ACCEPT = (
    "text/html,application/xhtml+xml,application/atom+xml,application/rss+xml,"
    "application/feed+json,application/json;q=0.9,application/xml;q=0.9,*/*;q=0.8"
)


class Fetcher:
    """Fetches pages for a run; one instance shares its connection pool across sources."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": ACCEPT})

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, validators: Validators | None = None) -> Fetched | NotModified:
        """GET `url`, retrying connection errors and 5xx with exponential backoff.

        Raises FetchError with a one-line reason once the retries are spent.
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
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _get_once(self, url: str, headers: dict[str, str]) -> Fetched | NotModified:
        try:
            response = self.session.get(
                url, headers=headers, timeout=(CONNECT_TIMEOUT, self.timeout), stream=True
            )
        except requests.exceptions.InvalidURL as e:
            raise FetchError(f"invalid URL {url!r}") from e
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
        """Read the (decompressed) body, aborting past max_bytes: a page must not eat memory."""
        declared = response.headers.get("Content-Length", "")
        compressed = "Content-Encoding" in response.headers
        if declared.isdigit() and not compressed and int(declared) > self.max_bytes:
            raise FetchError(f"response larger than {_size(self.max_bytes)}")
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                total += len(chunk)
                if total > self.max_bytes:
                    raise FetchError(f"response larger than {_size(self.max_bytes)}")
                chunks.append(chunk)
        except requests.exceptions.RequestException as e:
            raise _Retryable(_describe(e)) from e
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
