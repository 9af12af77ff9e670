"""Selector regression tests for users: `feedtool snapshot` and `feedtool check`.

A snapshot is a page as fetched plus the items extracted from it then, kept in `snapshots/`
beside the config. In `snapshots/<source id>/`, one snapshot is:

- `<name>.body`: the page's bytes as fetched;
- `<name>.json`: {"url" (after redirects), "content_type", "charset", "taken" (ISO 8601 time),
  "items": [{"key" (the item's identity), "title", "link", "published" (ISO 8601; null when
  inferred), "summary"}] (what a run would publish: filters applied, every page read),
  "followed": [{"url" (as requested), "final_url" (after redirects), "content_type", "charset",
  "body" (a file name)}]};
- `<name>.followed-<n>.body`: the bytes of each further document the harvest fetched (the
  feed an "auto" source's page advertises, the next pages), in the order of "followed".

`<name>` is the time taken, `YYYYMMDDTHHMMSSZ`, with `-2`, `-3`... for further snapshots taken
in the same second. Snapshots from before "followed" existed have none; from before "key",
items are matched by link.

`check` re-runs the current config's harvest (the one `run` uses: extraction, pagination,
identity, include/exclude) on every snapshot, offline (a followed URL gets its saved document,
any other URL fails), and shows what changed, so a config change can be tested before
subscribers see it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedtool import extract, harvest
from feedtool.errors import FeedtoolError, FetchError
from feedtool.fetch import HttpFetcher
from feedtool.model import Config, Fetched, Item, NotModified, Source, Validators

FOLDER = "snapshots"


def folder(config: Config, source: Source) -> Path:
    return config.path.parent / FOLDER / source.id


def take(config: Config, source: Source, now: datetime) -> tuple[Path, int]:
    """Fetch the source's page now and save it with its items; returns (path, item count)."""
    followed: list[tuple[str, Fetched]] = []
    with HttpFetcher.for_settings(config.settings) as fetcher:

        def recording(url: str) -> Fetched | NotModified:
            document = fetcher.get(url)
            if isinstance(document, Fetched):
                followed.append((url, document))
            return document

        fetched = extract.fetch_document(fetcher.get, source.url)
        source, learned = harvest.as_run_reads(source, config.settings.state_dir)
        items = harvest.stateless(source, fetched, now=now, fetch=recording, learned=learned).items
    target = folder(config, source)
    target.mkdir(parents=True, exist_ok=True)
    name = _claim(target, now)
    (target / f"{name}.body").write_bytes(fetched.body)
    documents = []
    for number, (url, document) in enumerate(followed, 1):
        body = f"{name}.followed-{number}.body"
        (target / body).write_bytes(document.body)
        documents.append(
            {
                "url": url,
                "final_url": document.url,
                "content_type": document.content_type,
                "charset": document.charset,
                "body": body,
            }
        )
    meta = {
        "url": fetched.url,
        "content_type": fetched.content_type,
        "charset": fetched.charset,
        "taken": now.isoformat(),
        "items": [_record(item) for item in items],
        "followed": documents,
    }
    meta_path = target / f"{name}.json"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return meta_path, len(items)


def _claim(target: Path, now: datetime) -> str:
    """A snapshot name not taken yet, claimed by creating its .body file exclusively."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for number in itertools.count(1):
        name = stamp if number == 1 else f"{stamp}-{number}"
        try:
            (target / f"{name}.body").touch(exist_ok=False)
        except FileExistsError:
            continue
        return name
    raise AssertionError("unreachable")


def _order(meta_path: Path) -> tuple[str, int]:
    """Snapshots in the order taken: "<time>" before "<time>-2" before "<time>-10"."""
    stamp, _, number = meta_path.stem.partition("-")
    return stamp, int(number) if number.isdigit() else 1


def _record(item: Item) -> dict[str, str | None]:
    return {
        "key": item.key,
        "title": item.title,
        "link": item.link,
        "published": None if item.date_inferred else item.published.isoformat(),
        "summary": item.summary,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    snapshot: Path
    count: int
    changes: tuple[str, ...]  # "+ new", "- lost", "~ changed" lines; empty when all is alike
    error: str | None = None


def check(config: Config, source: Source) -> list[CheckResult]:
    """Extract every snapshot of the source again and compare with what was saved."""
    results = []
    source, learned = harvest.as_run_reads(source, config.settings.state_dir)
    for meta_path in sorted(folder(config, source).glob("*.json"), key=_order):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            fetched = _document(meta, meta_path.with_suffix(".body"))
            followed = {
                str(saved["url"]): _document(saved, meta_path.parent / Path(saved["body"]).name)
                for saved in meta.get("followed", [])
            }
            now = datetime.fromisoformat(meta["taken"])
            saved_items = meta["items"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            error = f"unreadable snapshot: {_why(e)}"
            results.append(CheckResult(snapshot=meta_path, count=0, changes=(), error=error))
            continue
        try:
            found = harvest.stateless(
                source, fetched, now=now, fetch=_offline(followed), learned=learned
            )
        except FeedtoolError as e:
            results.append(CheckResult(snapshot=meta_path, count=0, changes=(), error=str(e)))
            continue
        items = [_record(item) for item in found.items]
        filtered = [_record(item) for item in found.filtered]
        changes = tuple(compare(saved_items, items, filtered))
        results.append(CheckResult(snapshot=meta_path, count=len(items), changes=changes))
    return results


def _why(error: Exception) -> str:
    """Why a snapshot cannot be read, in words: its file's trouble, or contents not ours."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return "not what `feedtool snapshot` writes (edited?)"


def _offline(saved: dict[str, Fetched]) -> extract.Fetch:
    """A fetch that returns the saved documents and fails for any other URL."""

    def fetch(url: str) -> Fetched | NotModified:
        if url in saved:
            return saved[url]
        raise FetchError(f"check works offline and cannot follow {url}")

    return fetch


def _document(saved: dict[str, Any], body: Path) -> Fetched:
    """A saved document as the fetcher returned it (the page: no "final_url", "url" is final)."""
    return Fetched(
        url=saved.get("final_url") or saved["url"],
        status=200,
        body=body.read_bytes(),
        content_type=saved["content_type"],
        charset=saved["charset"],
        validators=Validators(),
    )


def _shown(value: str | None) -> str:
    return "(none)" if value is None else repr(value)


def compare(
    before: list[dict[str, str | None]],
    after: list[dict[str, str | None]],
    filtered: Sequence[dict[str, str | None]] = (),
) -> list[str]:
    """Lines saying what differs, items matched by identity as a run matches them.

    An item now dropped by include/exclude is lost with a note saying so. Snapshots saved
    before items had a "key" are matched by link (or title when there is none).
    """
    by_key = all(record.get("key") for record in before)

    def key(record: dict[str, str | None]) -> str | None:
        return record["key"] if by_key else record["link"] or record["title"]

    def line(mark: str, record: dict[str, str | None]) -> str:
        return f"{mark} {record['title']}  {record['link'] or ''}".rstrip()

    old = {key(r): r for r in before}
    new = {key(r): r for r in after}
    dropped = {key(r) for r in filtered}
    lines = [
        line("-", r) + ("  (filtered out by include/exclude)" if k in dropped else "")
        for k, r in old.items()
        if k not in new
    ]
    lines += [line("+", r) for k, r in new.items() if k not in old]
    for k in (k for k in old if k in new):  # in page order
        for field in ("title", "link", "published", "summary"):
            if old[k][field] != new[k][field]:
                was, now = _shown(old[k][field]), _shown(new[k][field])
                lines.append(f"~ {old[k]['link'] or k}: {field} {was} -> {now}")
    return lines
