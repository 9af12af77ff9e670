"""Selector regression tests for users: `feedtool snapshot` and `feedtool check`.

A snapshot is a page as fetched plus the items extracted from it then, kept in `snapshots/`
beside the config: `<source id>/<time>.body` (the bytes) and `<time>.json` (URL, content type,
charset, time, items). `check` re-runs the current config's extraction on every snapshot,
offline, and shows what changed, so a config change can be tested before subscribers see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feedtool import extract, normalize
from feedtool.errors import FeedtoolError, FetchError
from feedtool.fetch import Fetcher
from feedtool.model import Config, Fetched, Item, NotModified, Source, Validators

FOLDER = "snapshots"


def folder(config: Config, source: Source) -> Path:
    return config.path.parent / FOLDER / source.id


def items_of(source: Source, fetched: Fetched, now: datetime, fetch: extract.Fetch) -> list[Item]:
    extracted = extract.items(source, fetched, fetch=fetch)
    return normalize.items(
        extracted.items, source=source, page_url=extracted.base_url or fetched.url, now=now
    )


def take(config: Config, source: Source, now: datetime) -> tuple[Path, int]:
    """Fetch the source's page now and save it with its items; returns (path, item count)."""
    settings = config.settings
    with Fetcher.for_settings(settings) as fetcher:
        fetched = fetcher.get(source.url)
        assert isinstance(fetched, Fetched)  # no validators sent: never a 304
        items = items_of(source, fetched, now, fetcher.get)
    target = folder(config, source)
    target.mkdir(parents=True, exist_ok=True)
    stem = target / now.strftime("%Y%m%dT%H%M%SZ")
    stem.with_suffix(".body").write_bytes(fetched.body)
    meta = {
        "url": fetched.url,
        "content_type": fetched.content_type,
        "charset": fetched.charset,
        "taken": now.isoformat(),
        "items": [_record(item) for item in items],
    }
    stem.with_suffix(".json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return stem.with_suffix(".json"), len(items)


def _record(item: Item) -> dict[str, str | None]:
    return {
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
    for meta_path in sorted(folder(config, source).glob("*.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            fetched = Fetched(
                url=meta["url"],
                status=200,
                body=meta_path.with_suffix(".body").read_bytes(),
                content_type=meta["content_type"],
                charset=meta["charset"],
                validators=Validators(),
            )
            now = datetime.fromisoformat(meta["taken"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            error = f"unreadable snapshot: {type(e).__name__}: {e}"
            results.append(CheckResult(snapshot=meta_path, count=0, changes=(), error=error))
            continue
        try:
            items = [_record(item) for item in items_of(source, fetched, now, _offline)]
        except FeedtoolError as e:
            results.append(CheckResult(snapshot=meta_path, count=0, changes=(), error=str(e)))
            continue
        changes = tuple(compare(meta["items"], items))
        results.append(CheckResult(snapshot=meta_path, count=len(items), changes=changes))
    return results


def _offline(url: str) -> Fetched | NotModified:
    raise FetchError(f"check works offline and cannot follow {url}")


def compare(before: list[dict[str, str | None]], after: list[dict[str, str | None]]) -> list[str]:
    """Lines saying what differs, items matched by link (or title when they have none)."""

    def key(record: dict[str, str | None]) -> str | None:
        return record["link"] or record["title"]

    old = {key(r): r for r in before}
    new = {key(r): r for r in after}
    lines = [f"- {r['title']}  {r['link'] or ''}".rstrip() for k, r in old.items() if k not in new]
    lines += [f"+ {r['title']}  {r['link'] or ''}".rstrip() for k, r in new.items() if k not in old]
    for k in sorted(old.keys() & new.keys(), key=str):
        for field in ("title", "published", "summary"):
            if old[k][field] != new[k][field]:
                lines.append(f"~ {k}: {field} {old[k][field]!r} -> {new[k][field]!r}")
    return lines
