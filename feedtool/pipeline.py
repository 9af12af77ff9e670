"""One pass over one source: fetch -> extract -> normalize -> store -> publish.

The only module besides cli that knows all the stages. Failures of one source are recorded
for that source and never stop the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedtool import extract, normalize, publish
from feedtool.errors import ExtractError, FeedtoolError, SourceError
from feedtool.fetch import Fetcher
from feedtool.model import (
    Config,
    Fetched,
    Item,
    NotModified,
    RawItem,
    Settings,
    Source,
    SourceResult,
    Status,
)
from feedtool.scheduler import is_due
from feedtool.store import Changes, Queued, Store

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Planner = Callable[[Source, Changes], Sequence[Queued]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Harvest:
    items: tuple[Item, ...]
    skipped: int
    title: str | None
    warning: str | None


def run_source(
    source: Source,
    *,
    store: Store,
    fetcher: Fetcher,
    settings: Settings,
    clock: Clock = utc_now,
    plan: Planner | None = None,
) -> SourceResult:
    """Check one source and publish its feeds; never raises for a source's own failure."""
    started = time.monotonic()
    now = clock()
    try:
        result = _check(source, store=store, fetcher=fetcher, settings=settings, now=now, plan=plan)
    except SourceError as e:
        error = str(e)
        store.record_failure(source, error, now)
        result = SourceResult(source_id=source.id, status=Status.FAILED, error=error)
    except FeedtoolError:
        raise  # state trouble concerns every source: let the caller stop
    except Exception as e:  # a bug must not take the other sources down with it
        logger.exception("%s: internal error", source.id)
        error = f"internal error: {type(e).__name__}: {e}"
        store.record_failure(source, error, now)
        result = SourceResult(source_id=source.id, status=Status.FAILED, error=error)
    return replace(result, duration=time.monotonic() - started)


def _check(
    source: Source,
    *,
    store: Store,
    fetcher: Fetcher,
    settings: Settings,
    now: datetime,
    plan: Planner | None,
) -> SourceResult:
    state = store.source(source.id)
    validators = state.validators if state else None
    first = fetcher.get(source.url, validators)
    if isinstance(first, NotModified):
        store.record_not_modified(source, now)
        if not _published(source, settings):
            _publish(source, store, settings, state.title if state else None)
        return SourceResult(source_id=source.id, status=Status.NOT_MODIFIED)
    harvest = _harvest(source, first, store=store, fetcher=fetcher, now=now)
    if source.fulltext:
        harvest = replace(
            harvest, items=_with_fulltext(source, harvest.items, store, fetcher, settings)
        )
    changes = store.apply(
        source,
        harvest.items,
        now=now,
        validators=first.validators,
        title=harvest.title,
        warning=harvest.warning,
        notifications=(lambda changes: plan(source, changes)) if plan else None,
    )
    _publish(source, store, settings, harvest.title)
    return SourceResult(
        source_id=source.id,
        status=Status.OK,
        new=len(changes.new),
        updated=len(changes.updated),
        seen=changes.seen,
        skipped=harvest.skipped,
    )


def _harvest(
    source: Source, first: Fetched, *, store: Store, fetcher: Fetcher, now: datetime
) -> _Harvest:
    """Extract and normalize the first page, then follow pagination while pages are all new.

    On the first run every page up to max_pages is read (backfill); later runs stop at a page
    that holds any known item, since everything after it is known too.
    """
    state = store.source(source.id)
    backfill = state is None or not state.initialized
    fetched = first
    items: list[Item] = []
    skipped = 0
    first_title: str | None = None
    warning: str | None = None
    for page_number in range(1, source.paginate.max_pages + 1):
        extracted = extract.items(source, fetched, fetch=fetcher.get)
        if page_number == 1:
            first_title, warning = extracted.title, extracted.warning
        page_items = [
            item
            for raw in extracted.items
            if (item := _normalize(source, raw, fetched.url, now)) is not None
        ]
        skipped += extracted.skipped + len(extracted.items) - len(page_items)
        if page_number == 1 and not page_items:
            raise ExtractError("no items found (do the selectors still match the page?)")
        items.extend(page_items)
        keys = [item.key for item in page_items]
        all_new = not store.known_keys(source.id, keys)
        next_url = extracted.next_url
        if not next_url or page_number == source.paginate.max_pages:
            break
        if not (backfill or all_new):
            break
        following = fetcher.get(next_url)
        if not isinstance(following, Fetched):
            break
        fetched = following
    kept = tuple(
        item for item in items if normalize.passes_filters(item, source.include, source.exclude)
    )
    return _Harvest(
        items=kept,
        skipped=skipped,
        title=first_title,
        warning=warning,
    )


def _normalize(source: Source, raw: RawItem, page_url: str, now: datetime) -> Item | None:
    return normalize.item(
        raw, source=source, page_url=page_url, now=now, require_link=source.type != "feed"
    )


def _with_fulltext(
    source: Source, items: tuple[Item, ...], store: Store, fetcher: Fetcher, settings: Settings
) -> tuple[Item, ...]:
    from feedtool.fulltext import enrich

    keys = [item.key for item in items]
    new_keys = set(keys) - store.known_keys(source.id, keys)
    return enrich(
        items,
        new_keys=new_keys,
        fetcher=fetcher,
        content_selector=source.select.content if source.select else None,
        delay=settings.host_delay,
    )


def _published(source: Source, settings: Settings) -> bool:
    return all(
        (settings.output_dir / f"{source.id}{suffix}").exists() for suffix in publish.SUFFIXES
    )


def _publish(source: Source, store: Store, settings: Settings, title: str | None) -> bool:
    feed = publish.FeedInfo(
        id=source.id,
        title=source.title or title or urlsplit(source.url).netloc,
        site_url=source.url,
    )
    items = store.items(source.id, settings.max_items)
    return publish.write_feeds(feed, items, settings.output_dir, settings.base_url)


def run_all(
    config: Config,
    *,
    only: Sequence[str] = (),
    force: bool = False,
    clock: Clock = utc_now,
    fetcher: Fetcher | None = None,
) -> list[SourceResult]:
    """One pass over the sources that are due (all of `only`, or all with force)."""
    settings = config.settings
    sources = [s for s in config.sources if not only or s.id in only]
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(
        timeout=settings.timeout, max_bytes=settings.max_bytes, retries=settings.retries
    )
    results = []
    try:
        with Store.open(settings.state_dir) as store:
            for source in sources:
                if not (force or only) and not is_due(source, store.source(source.id), clock()):
                    continue
                result = run_source(
                    source, store=store, fetcher=fetcher, settings=settings, clock=clock
                )
                log_result(result)
                results.append(result)
    finally:
        if own_fetcher:
            fetcher.close()
    return results


def log_result(result: SourceResult) -> None:
    """One line per source run, as the daemon and `run -v` show it."""
    level = logging.WARNING if result.status is Status.FAILED else logging.INFO
    logger.log(
        level,
        "%s: %s, %d new, %d updated, %.2fs%s",
        result.source_id,
        result.status,
        result.new,
        result.updated,
        result.duration,
        f": {result.error}" if result.error else "",
    )
