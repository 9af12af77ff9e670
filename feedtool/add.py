"""`feedtool add URL`: fetch a page once, decide what kind of source it is, show its items
and append a ready `[[sources]]` block to the config.

- a URL that serves a feed: `type = "feed"`;
- a page that advertises a feed (`<link rel="alternate">`): a feed source on that feed's URL;
- else an `html` source pinned to the selectors automatic detection found, so the items
  printed here are the ones the next `run` publishes (the same harvest, the same selectors).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedtool import configedit, extract, harvest
from feedtool.errors import ExtractError, FetchError, SourceError, UsageError
from feedtool.extract.feed import looks_like_feed
from feedtool.fetch import HttpFetcher
from feedtool.model import Fetched, Selectors, Settings, Source, SourceType


@dataclass(frozen=True, slots=True)
class Found:
    """What `add` makes of a URL: the source to add and what its first harvest gives."""

    source: Source
    result: harvest.Harvest
    how: str  # one line: why this type


def add(path: Path, url: str, *, source_id: str | None, dry_run: bool) -> tuple[Found, str]:
    """Examine `url` and append its source to the config at `path` (unless `dry_run`).

    Returns what was found and the block (written, or to paste).
    """
    document = configedit.read(path)
    taken = set(configedit.source_ids(document))
    if source_id is not None and source_id in taken:
        raise UsageError(f"{path}: a source with id {source_id!r} exists already")
    from feedtool.preview import suggest_id

    chosen = source_id or configedit.unique_id(suggest_id(url), taken)
    known = configedit.source_urls(document)
    if configedit.url_key(url) in known:
        raise UsageError(f"{url} is in the config already, as {known[configedit.url_key(url)]!r}")
    # the config as it would be with a plain source for the URL: checks the id, the URL and
    # the file, and gives the settings (timeouts, address policy) to fetch with
    probe = configedit.source_table({"id": chosen, "url": url})
    configedit.append_sources(document, [probe])
    settings = configedit.check(document, path).settings
    document["sources"].pop()
    found = examine(url, chosen, settings)
    table = configedit.source_table(_values(found.source))
    if not dry_run:
        configedit.append_sources(document, [table])
        configedit.write(path, document)
    return found, configedit.block(table)


def examine(url: str, source_id: str, settings: Settings) -> Found:
    """Fetch `url` (and a feed it advertises) and harvest it as the source to add would."""
    now = datetime.now(UTC)
    with HttpFetcher.for_settings(settings) as fetcher:
        try:
            first = extract.fetch_document(fetcher.get, url)
            if looks_like_feed(first):
                source = Source(id=source_id, url=url, type="feed")
                result = harvest.stateless(source, first, now=now, fetch=fetcher.get)
                return Found(source, result, "the URL serves a feed")
            advertised = _advertised_feed(first, fetcher)
            if advertised is not None:
                source = Source(id=source_id, url=advertised.url, type="feed")
                result = harvest.stateless(source, advertised, now=now, fetch=fetcher.get)
                return Found(source, result, f"the page advertises a feed: {advertised.url}")
            detected = harvest.stateless(
                Source(id=source_id, url=url, type="html"), first, now=now, fetch=fetcher.get
            )
            selectors = detected.first.selectors
            if selectors is None:
                raise ExtractError("no items found")
            source = Source(id=source_id, url=url, type="html", select=selectors)
            result = harvest.stateless(source, first, now=now, fetch=fetcher.get)
            return Found(source, result, "a listing page: items found by automatic detection")
        except SourceError as e:
            raise SourceError(f"{url}: {e}") from e


def _advertised_feed(first: Fetched, fetcher: HttpFetcher) -> Fetched | None:
    """The feed the page names with <link rel="alternate">, if it answers with one."""
    from feedtool.extract.html import Page

    try:
        page = Page.parse(first.body, first.charset, first.content_type, first.url)
    except ExtractError:
        return None
    href = page.advertised_feed()
    if href is None:
        return None
    try:
        document = extract.fetch_document(fetcher.get, href)
    except FetchError:
        return None
    return document if looks_like_feed(document) else None


def _values(source: Source) -> dict[str, Any]:
    kind: SourceType = source.type
    values: dict[str, Any] = {"id": source.id, "url": source.url, "type": kind}
    if source.select is not None:
        values["select"] = _selectors(source.select)
    return values


def _selectors(selectors: Selectors) -> dict[str, str]:
    fields = ("item", "title", "link", "date", "summary", "content", "date_format")
    return {f: getattr(selectors, f) for f in fields if getattr(selectors, f)}
