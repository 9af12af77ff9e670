"""The files of `output_dir` over HTTP: safe lookup, validators, content coding.

Feeds are small and replaced whole (temp file, rename), so a file is read once per version
(device, inode, size, mtime) and kept in a small cache with its digest and compressed
variants: a reader polling every few minutes costs a stat and a dictionary lookup.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

# What a URL path segment may be: no leading dot (so no "..", no hidden files), no NUL,
# backslash, colon or anything else a file system might read specially.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")

CONTENT_TYPES = {
    ".atom.xml": "application/atom+xml; charset=utf-8",
    ".rss.xml": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = ("application/", "text/")
MIN_COMPRESS = 256  # bytes: below this a compressed body is hardly smaller
_CACHED_FILES = 256


def locate(root: Path, url_path: str) -> Path | None:
    """The file under `root` that the (percent-decoded) URL path names, or None.

    Every segment must be a plain name, and the file's real path, symlinks resolved, must
    lie inside root's: a link in output_dir that points elsewhere is refused, not followed.
    """
    segments = url_path.split("/")  # "a//b", "/a", "a/": no file has such a name
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(root.joinpath(*segments)))
    if real_root not in real.parents or not real.is_file():
        return None
    return real


def content_type(name: str) -> str:
    for suffix, media_type in CONTENT_TYPES.items():
        if name.endswith(suffix):
            return media_type
    return "application/octet-stream"


@dataclass(slots=True)
class Body:
    """One version of a resource: its bytes, digest and lazily made compressed variants."""

    data: bytes
    media_type: str
    modified: datetime | None = None
    digest: str = ""
    _variants: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = hashlib.blake2b(self.data, digest_size=12).hexdigest()

    @property
    def compressible(self) -> bool:
        return self.media_type.startswith(_COMPRESSIBLE) and len(self.data) >= MIN_COMPRESS

    def encoded(self, coding: str | None) -> bytes:
        """The body in `coding` ("gzip", "br" or None); variants are made once per version."""
        if coding is None:
            return self.data
        if coding not in self._variants:
            if coding == "br":
                import brotli

                self._variants[coding] = brotli.compress(self.data, quality=5)
            else:  # mtime=0: the same file gives the same bytes, as a strong ETag promises
                self._variants[coding] = gzip.compress(self.data, compresslevel=6, mtime=0)
        return self._variants[coding]

    def etag(self, coding: str | None) -> str:
        """Strong, and different per coding: a gzip body is another representation."""
        return f'"{self.digest}-{coding}"' if coding else f'"{self.digest}"'


class FileCache:
    """Bodies of files by (device, inode, size, mtime): a replaced feed is a new entry."""

    def __init__(self, size: int = _CACHED_FILES) -> None:
        self._entries: OrderedDict[tuple[int, ...], Body] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def read(self, path: Path) -> Body | None:
        """The file's current body; None when it vanished between lookup and open."""
        try:
            with path.open("rb") as file:
                stat = os.fstat(file.fileno())
                key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
                with self._lock:
                    if key in self._entries:
                        self._entries.move_to_end(key)
                        return self._entries[key]
                data = file.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(microsecond=0)
        body = Body(data, content_type(path.name), modified)
        with self._lock:
            self._entries[key] = body
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return body


def choose_coding(accept_encoding: str | None, *, brotli: bool) -> str | None:
    """The content coding to answer with: br or gzip when the client accepts it (q > 0),
    the one it prefers, br on a tie; None (identity) otherwise."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[name.strip().lower()] = q
    offered = ("br", "gzip") if brotli else ("gzip",)
    scored = [(weights.get(c, weights.get("*", 0.0)), -i, c) for i, c in enumerate(offered)]
    best = max(scored)
    return best[2] if best[0] > 0 else None


def not_modified(headers: Mapping[str, str], body: Body) -> bool:
    """RFC 9110 13.2.2: If-None-Match (a list, or *; weak comparison) when present, else
    If-Modified-Since against the file's time."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        # One file's representations (plain, gzip, br) are one content: any of their tags
        # will do, but no other.
        ours = {body.etag(coding).strip('"') for coding in (None, "gzip", "br")}
        for tag in if_none_match.split(","):
            tag = tag.strip().removeprefix("W/").strip('"')
            if tag == "*" or tag in ours:
                return True
        return False
    since = headers.get("if-modified-since")
    if since and body.modified is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return body.modified <= when
    return False


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)
