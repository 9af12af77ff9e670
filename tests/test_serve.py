"""`feedtool serve`: feeds over HTTP with validators, so readers poll for 304s."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from feedtool.serve import make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "news.atom.xml").write_text("<feed/>")
    (tmp_path / "news.json").write_text("{}")
    server = make_server(tmp_path, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_feeds_are_served_with_their_media_types_and_validators(served: str) -> None:
    atom = requests.get(f"{served}/news.atom.xml", timeout=5)
    assert atom.status_code == 200
    assert atom.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert atom.headers["ETag"]
    assert atom.headers["Last-Modified"]
    assert atom.headers["Cache-Control"] == "no-cache"
    jsonfeed = requests.get(f"{served}/news.json", timeout=5)
    assert jsonfeed.headers["Content-Type"] == "application/feed+json; charset=utf-8"


@pytest.mark.parametrize("header", ["If-None-Match", "If-Modified-Since"])
def test_an_unchanged_feed_is_a_304(served: str, header: str) -> None:
    first = requests.get(f"{served}/news.atom.xml", timeout=5)
    validator = first.headers["ETag" if header == "If-None-Match" else "Last-Modified"]
    again = requests.get(f"{served}/news.atom.xml", headers={header: validator}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-cache"


def test_if_none_match_star_and_lists(served: str) -> None:
    etag = requests.get(f"{served}/news.atom.xml", timeout=5).headers["ETag"]
    for value in ("*", f'"other", {etag}', f"W/{etag}"):
        response = requests.get(
            f"{served}/news.atom.xml", headers={"If-None-Match": value}, timeout=5
        )
        assert response.status_code == 304, value
    changed = requests.get(f"{served}/news.atom.xml", headers={"If-None-Match": '"x"'}, timeout=5)
    assert changed.status_code == 200
