"""`feedtool serve`: the published feeds over HTTP, with ETag/Last-Modified and 304s."""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from feedtool.errors import FeedtoolError

CONTENT_TYPES = {
    ".atom.xml": "application/atom+xml; charset=utf-8",
    ".rss.xml": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}


class FeedHandler(SimpleHTTPRequestHandler):
    """Static files with strong-enough ETags (size + mtime) so readers can poll cheaply."""

    def send_head(self):  # type: ignore[no-untyped-def,unused-ignore]
        path = Path(self.translate_path(self.path))
        self._etag = _etag(path) if path.is_file() else None
        if self._etag and _matches(self.headers.get("If-None-Match", ""), self._etag):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.end_headers()
            return None
        return super().send_head()  # also answers If-Modified-Since with 304

    def end_headers(self) -> None:
        etag: str | None = getattr(self, "_etag", None)
        if etag:
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", "no-cache")  # revalidate: feeds change
        super().end_headers()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        """No listings: feed URLs are published (OPML), not browsed."""
        self.send_error(HTTPStatus.NOT_FOUND, "Not Found")

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        name = str(path)
        for suffix, content_type in CONTENT_TYPES.items():
            if name.endswith(suffix):
                return content_type
        return super().guess_type(path)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def _etag(path: Path) -> str:
    """Size and mtime: feeds are replaced whole, and an unchanged feed is never rewritten."""
    stat = path.stat()
    token = f"{stat.st_size}-{stat.st_mtime_ns}".encode()
    return '"' + hashlib.sha1(token, usedforsecurity=False).hexdigest()[:16] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """A server for the published feeds in directory (port 0: any free port)."""
    directory.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(FeedHandler, directory=str(directory))
    return ThreadingHTTPServer((host, port), handler)


def serve(directory: Path, *, host: str, port: int) -> int:
    """Serve directory until interrupted."""
    try:
        server = make_server(directory, host, port)
    except OSError as e:
        raise FeedtoolError(f"cannot serve on {host}:{port}: {e.strerror or e}") from e
    print(f"feedtool: serving {directory} at http://{host}:{server.server_port}/", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
