"""Feed extraction on the feed corpus: entry recall against feedparser, and valid outputs.

Run from the repository root:

    python benchmarks/eval_feeds.py [--corpus DIR] [--jobs N] [--files SUBSTRING]

The corpus (../shared/feed-corpus beside the repository, never copied into it) holds the test
feeds of feedparser, the W3C feed validator, feed-rs, gofeed, RSParser and reader, with the HTTP
headers each test declares in manifest.json. Every file goes through what a run does with a
`type = "feed"` source: `feedtool.extract.normalized_items`, the items deduplicated by key as
the store does, then `feedtool.publish.render`. Printed:

- **recall**: entries feedtool publishes / distinct entries feedparser itself recovers from the
  same bytes and headers (for JSON Feeds, which feedparser 6.0 cannot read, the objects of
  their `items`), over the files where it finds any (capped per file, so an entry the
  reference misses cannot make up for a lost one). Entries with the same id string are
  one entry, instances of it (RFC 4287 4.1.1; an RSS guid likewise): a feed may not publish
  them twice. The raw recall, counting every instance, is printed too;
- the files that lose entries (most lost first), crashes (any exception but ExtractError);
- invalid outputs: Atom against the RFC 4287 RELAX NG schema (tests/feedcheck.py), RSS read
  back by feedparser without bozo, JSON Feed 1.1 checked structurally, no duplicate entry ids,
  and a second render byte-identical to the first.

Exit status 1 when recall is under TARGET_RECALL or any output is invalid or any file crashes.
tests/test_feed_corpus.py holds the same targets.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser

from feedtool.errors import ExtractError
from feedtool.extract import jsonfeed, normalized_items
from feedtool.model import Fetched, NotModified, Source, Validators
from feedtool.normalize import parse_iso
from feedtool.publish import JSON_FEED_VERSION, FeedInfo, render
from tests.feedcheck import assert_valid_atom, parse_clean, stored

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "feed-corpus"
TARGET_RECALL = 0.99
NOW = datetime(2025, 1, 1, tzinfo=UTC)  # fixed: outputs must not depend on the clock
BASE_URL = "https://feeds.example.org/"
# Where a test that declares no Content-Location was served from (relative links resolve here).
SERVED_FROM = "http://corpus.example/"


@dataclass(frozen=True, slots=True)
class FileResult:
    """What one corpus file gave: feedparser's entries against feedtool's, and any fault."""

    file: str
    expected: int  # distinct entries feedparser recovers (one per id, and each without one)
    instances: int = 0  # every entry feedparser recovers, repeated ids too
    published: int = 0  # distinct items feedtool would publish
    error: str | None = None  # ExtractError: a failed run, which is no crash
    crash: str | None = None  # any other exception, as its last traceback line
    invalid: tuple[str, ...] = ()  # "atom: ...", "rss: ...", "json: ...", "unstable: ..."
    duplicate_ids: int = 0

    @property
    def lost(self) -> int:
        return max(self.expected - self.published, 0)


@dataclass(frozen=True, slots=True)
class Summary:
    files: int
    expected: int  # distinct entries feedparser recovers, over files where it finds any
    recovered: int  # of those, published by feedtool (capped per file)
    instances: int  # every entry feedparser recovers
    recovered_instances: int  # of those, published by feedtool (capped per file)
    lossy: list[FileResult] = field(default_factory=list)  # most lost first
    crashes: list[FileResult] = field(default_factory=list)
    invalid: list[FileResult] = field(default_factory=list)
    duplicates: list[FileResult] = field(default_factory=list)
    errors: list[FileResult] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.recovered / self.expected if self.expected else 1.0

    @property
    def raw_recall(self) -> float:
        return self.recovered_instances / self.instances if self.instances else 1.0


def manifest(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """The corpus files in manifest order: {"file", "repo", "path", "headers"}."""
    entries: list[dict[str, Any]] = json.loads((corpus / "manifest.json").read_text("utf-8"))
    return entries


def fetched_for(body: bytes, file: str, headers: dict[str, str]) -> Fetched:
    """The Fetched a server sending the test's declared headers would give.

    Without a declared Content-Type the server is taken to say application/xml (or
    application/json for .json files): neutral types that leave the encoding to the document.
    """
    url = urljoin(SERVED_FROM + file, headers.get("content-location", ""))
    declared = headers.get("content-type")
    if declared is None:
        declared = "application/json" if file.endswith(".json") else "application/xml"
    message = Message()
    message["Content-Type"] = declared
    charset = message.get_param("charset")
    return Fetched(
        url=url,
        status=200,
        body=body,
        content_type=message.get_content_type(),
        charset=charset.strip("'\"") if isinstance(charset, str) else None,
        validators=Validators(),
    )


def _refuse(url: str) -> Fetched | NotModified:
    raise AssertionError(f"a feed source must not fetch anything else ({url})")


def reference_counts(body: bytes, fetched: Fetched) -> tuple[int, int]:
    """Distinct entries and all entries of the document, as the reference reads it.

    feedparser, given the declared headers; for a JSON Feed, which feedparser 6.0 cannot read,
    the objects of its `items` array. An id repeated is one distinct entry.
    """
    headers = {"content-location": fetched.url, "content-type": fetched.content_type}
    if fetched.charset:
        headers["content-type"] += f"; charset={fetched.charset}"
    try:
        entries: list[Any] = feedparser.parse(body, response_headers=headers).entries
    except Exception:  # feedparser itself gives up on a few (surrogate escapes): nothing to match
        entries = []
    if not entries and jsonfeed.is_jsonfeed(body):
        entries = _json_feed_items(body)
    ids = [entry.get("id") for entry in entries]
    named = [i.strip() if isinstance(i, str) else str(i) for i in ids if i not in (None, "")]
    return len(set(named)) + len(ids) - len(named), len(entries)


def _json_feed_items(body: bytes) -> list[dict[str, Any]]:
    try:
        feed = json.loads(body, strict=False)
    except ValueError:
        return []
    items = feed.get("items") if isinstance(feed, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def evaluate(corpus: Path, entry: dict[str, Any]) -> FileResult:
    """Run one corpus file through feedtool and check what it would publish."""
    file = entry["file"]
    body = (corpus / file).read_bytes()
    fetched = fetched_for(body, file, entry.get("headers", {}))
    expected, instances = reference_counts(body, fetched)
    source = Source(id="corpus", url=fetched.url, type="feed")
    try:
        extracted, items = normalized_items(source, fetched, now=NOW, fetch=_refuse)
    except ExtractError as e:
        return FileResult(file, expected, instances, error=str(e))
    except Exception:
        crash = traceback.format_exc().strip().splitlines()[-1]
        return FileResult(file, expected, instances, crash=crash)
    kept = stored(items, source.id, NOW)
    info = FeedInfo(id=source.id, title=extracted.title or "corpus", site_url=source.url)
    try:
        documents = render(info, kept, BASE_URL)
        again = render(info, kept, BASE_URL)
    except Exception:
        crash = "render: " + traceback.format_exc().strip().splitlines()[-1]
        return FileResult(file, expected, instances, published=len(kept), crash=crash)
    invalid = list(check_documents(documents))
    invalid += [f"unstable: {suffix}" for suffix in documents if documents[suffix] != again[suffix]]
    ids = Counter(json.loads(documents[".json"])["items"][i]["id"] for i in range(len(kept)))
    return FileResult(
        file,
        expected,
        instances,
        published=len(kept),
        invalid=tuple(invalid),
        duplicate_ids=sum(count - 1 for count in ids.values()),
    )


def check_documents(documents: dict[str, bytes]) -> Iterable[str]:
    """One line per problem in the three rendered documents."""
    for label, check in (
        ("atom", lambda: assert_valid_atom(documents[".atom.xml"])),
        ("rss", lambda: parse_clean(documents[".rss.xml"])),
        ("json", lambda: check_json_feed(documents[".json"])),
    ):
        try:
            check()
        except AssertionError as e:
            yield f"{label}: {' '.join(str(e).split())[:200]}"


def check_json_feed(data: bytes) -> None:
    """Fail unless `data` is a structurally valid JSON Feed 1.1 with unique item ids."""
    feed = json.loads(data.decode("utf-8"))
    assert isinstance(feed, dict), "not an object"
    assert feed.get("version") == JSON_FEED_VERSION, f"version {feed.get('version')!r}"
    assert isinstance(feed.get("title"), str), "no title"
    assert feed["title"].strip(), "a blank title"
    for key in ("home_page_url", "feed_url"):
        assert key not in feed or isinstance(feed[key], str), f"{key} not a string"
    items = feed.get("items")
    assert isinstance(items, list), "no items list"
    ids = [item.get("id") for item in items]
    assert all(isinstance(i, str) and i for i in ids), "an item without a string id"
    assert len(set(ids)) == len(ids), "duplicate item ids"
    for item in items:
        assert isinstance(item.get("content_html", item.get("content_text")), str), (
            f"item {item['id']} has neither content_html nor content_text"
        )
        for key in ("url", "title", "summary"):
            assert key not in item or isinstance(item[key], str), f"{key} not a string"
        for key in ("date_published", "date_modified"):
            assert key not in item or parse_iso(item[key]), f"{key} not RFC 3339"


def evaluate_all(corpus: Path = CORPUS, jobs: int = 2, only: str = "") -> list[FileResult]:
    """Every corpus file (those whose name contains `only`), on `jobs` processes."""
    entries = [entry for entry in manifest(corpus) if only in entry["file"]]
    if jobs <= 1:
        return [evaluate(corpus, entry) for entry in entries]
    # spawn: a fork of a process that runs threads (pytest's, a daemon's) may deadlock
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(evaluate, [corpus] * len(entries), entries, chunksize=16))


def summarize(results: Sequence[FileResult]) -> Summary:
    counted = [r for r in results if r.expected]
    return Summary(
        files=len(results),
        expected=sum(r.expected for r in counted),
        recovered=sum(min(r.published, r.expected) for r in counted),
        instances=sum(r.instances for r in counted),
        recovered_instances=sum(min(r.published, r.instances) for r in counted),
        lossy=sorted((r for r in counted if r.lost), key=lambda r: (-r.lost, r.file)),
        crashes=[r for r in results if r.crash],
        invalid=[r for r in results if r.invalid],
        duplicates=[r for r in results if r.duplicate_ids],
        errors=[r for r in results if r.error],
    )


def report(summary: Summary, seconds: float, top: int = 20) -> None:
    print(
        f"{summary.files} files in {seconds:.1f}s; entry recall {summary.recall:.4f} "
        f"({summary.recovered}/{summary.expected} distinct entries of the reference; "
        f"{summary.raw_recall:.4f} of all {summary.instances}, repeated ids too)"
    )
    lost = sum(r.lost for r in summary.lossy)
    print(f"\nfiles with lost entries: {len(summary.lossy)} ({lost} entries)")
    for r in summary.lossy[:top]:
        reason = f"  [{r.error}]" if r.error else ""
        print(f"  {r.lost:4d} of {r.expected:4d}  {r.file}{reason}")
    print(f"\ncrashes: {len(summary.crashes)}")
    for r in summary.crashes:
        print(f"  {r.file}: {r.crash}")
    print(f"\ninvalid outputs: {len(summary.invalid)}")
    for r in summary.invalid:
        for problem in r.invalid:
            print(f"  {r.file}: {problem}")
    print(f"\nfiles with duplicate entry ids: {len(summary.duplicates)}")
    for r in summary.duplicates:
        print(f"  {r.file}: {r.duplicate_ids}")
    print(f"\nfailed runs (ExtractError): {len(summary.errors)}")
    for reason, count in Counter(_kind(r.error or "") for r in summary.errors).most_common():
        print(f"  {count:4d}  {reason}")


def _kind(error: str) -> str:
    """An error message without its file-specific details, to count errors by kind."""
    return error.split(":")[0].split(" (")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--files", default="", help="only files whose name contains this")
    parser.add_argument("--top", type=int, default=20, help="lossy files listed (default 20)")
    args = parser.parse_args()
    if not (args.corpus / "manifest.json").is_file():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    summary = summarize(evaluate_all(args.corpus, args.jobs, args.files))
    report(summary, time.perf_counter() - start, args.top)
    ok = summary.recall >= TARGET_RECALL and not (
        summary.crashes or summary.invalid or summary.duplicates
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
