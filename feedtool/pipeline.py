"""One source's check: fetch -> extract -> normalize -> store -> publish, alerts queued.

The only module besides cli and runner that knows all the stages. A source's failure is
recorded for that source and never stops the others. `runner` checks many sources at once
through `run_source`; when many pages change in one run, parsing, extraction and feed
serialisation move to a process pool (`Offload`) so that both cores work.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from feedtool import health, notify, websub
from feedtool.errors import (
    EmptyPageError,
    FeedtoolError,
    FetchError,
    PublishError,
    SourceError,
    StateError,
)
from feedtool.model import (
    MAX_HOLD,
    SUFFIXES,
    Changes,
    Extracted,
    Fetched,
    Fetcher,
    Health,
    Item,
    NotifyTarget,
    NotModified,
    Queued,
    Selectors,
    Settings,
    SiteMeta,
    Source,
    SourceResult,
    Status,
    Validators,
    utc_now,
)
from feedtool.store import KEEP, Keep, SourceState, Store
from feedtool.terminal import PrintableFormatter

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

logger = logging.getLogger(__name__)

T = TypeVar("T")

Clock = Callable[[], datetime]
Fetch = Callable[[str], Fetched | NotModified]  # as extraction calls it

# Changed pages in one run before the process pool starts: below it, starting processes
# costs more than it saves.
OFFLOAD_AFTER = 24


class Offload:
    """Where CPU-bound work (parsing, extraction, feed serialisation) runs.

    Inline at first; once a run has seen `after` changed pages, in a pool of one process per
    core it may use, at most `size` (forkserver: the run's threads make fork unsafe).
    `after=None` never starts a pool. A pool that breaks (a worker killed) is given up for the
    rest of the run: the work is done inline, never lost.
    """

    def __init__(self, after: int | None = OFFLOAD_AFTER, size: int = 8) -> None:
        self.after = after
        self.size = max(1, min(size, len(os.sched_getaffinity(0))))
        self._seen = 0
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        # Work done here runs one thread at a time: threads taking turns at the GIL in the
        # middle of it cost more than they gain (300 changed pages, 8 threads: 5.8 s at
        # once, 4.3 s in turn).
        self._inline = threading.Lock()

    @property
    def started(self) -> bool:
        return self._pool is not None

    def count(self) -> None:
        """One more changed page: the pool starts once there are enough of them."""
        with self._lock:
            self._seen += 1
            if self._pool is None and self.after is not None and self._seen > self.after:
                import multiprocessing  # not at import: a run where nothing changed never needs it
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["feedtool.extract.html", "feedtool.publish"])
                self._pool = ProcessPoolExecutor(
                    self.size,
                    mp_context=context,
                    initializer=_pool_worker,
                    initargs=(logging.getLogger().getEffectiveLevel(),),
                )

    def call(self, function: Callable[..., T], *args: Any) -> T | None:
        """`function(*args)` in the pool; None when there is no pool (or it broke)."""
        pool = self._pool
        if pool is None:
            return None
        from concurrent.futures.process import BrokenProcessPool

        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    logger.warning("the process pool broke; the run goes on without it")
                    self._pool, self.after = None, None
            return None

    def inline(self, function: Callable[..., T], *args: Any, fetch: Fetch | None = None) -> T:
        """`function(*args)` in this process, one thread at a time; with `fetch`, the
        function's own fetches (`fetch` wrapped as its last argument) wait for no one."""
        with self._inline:
            if fetch is None:
                return function(*args)

            def fetch_outside(url: str) -> Fetched | NotModified:
                self._inline.release()
                try:
                    return fetch(url)
                finally:
                    self._inline.acquire()

            return function(*args, fetch_outside)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _pool_worker(level: int) -> None:
    """A pool process: Ctrl-C is the run's to handle, and it logs like the run does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What every source's run shares."""

    store: Store
    fetcher: Fetcher
    settings: Settings
    targets: Sequence[NotifyTarget] = ()
    clock: Clock = utc_now
    offload: Offload = field(default_factory=lambda: Offload(None))
    # None: each source's feeds are flushed to disk (fsync) as written. A list: written
    # without fsync and their source ids collected, for one sync of the disk after the run
    # (a feed file per source costs ~3 fsyncs otherwise, the bulk of a cold run's time).
    unsynced: list[str] | None = None
    hub: websub.Hub | None = None  # told of every feed file that changed
    # With `unsynced`: the public URLs of the files that changed, for the hub once synced
    # (a subscriber the hub sends there must find them); None: told at once, as written.
    announce: list[str] | None = None


def run_source(source: Source, context: Context, state: SourceState | None) -> SourceResult:
    """Check one source, store and publish what it gives; never raises for its own failure.

    `state` is the source's stored state as the caller read it to decide it was due.
    """
    started = time.monotonic()
    now = context.clock()
    try:
        result = _SourceRun(source, context, state, now).check()
    except SourceError as e:
        result = _failed(source, context, state, now, e)
    except FeedtoolError:
        raise  # state, output or a stop request concern every source: let the caller stop
    except sqlite3.Error as e:
        raise StateError(f"state database {context.store.path}: {e}") from e
    except Exception as e:  # a bug must not take the other sources down with it
        logger.exception("%s: internal error", source.id)
        error = SourceError(f"internal error: {type(e).__name__}: {e}")
        result = _failed(source, context, state, now, error)
    return replace(result, duration=time.monotonic() - started)


def _failed(
    source: Source, context: Context, state: SourceState | None, now: datetime, error: SourceError
) -> SourceResult:
    message = str(error)
    outcome = health.Outcome(
        failed=True,
        failures=(state.failures if state else 0) + 1,
        went_empty=isinstance(error, EmptyPageError)
        and state is not None
        and state.last_items_at is not None,
    )
    before = state.health if state else Health()
    after, alert = health.assess(
        source, before, outcome, now=now, remind_every=context.settings.remind_every
    )
    proposal = error.proposal if isinstance(error, _Healable) else None
    alerts = notify.plan_alert(
        source,
        _title(source, state),
        alert,
        message,
        now,
        context.targets,
        details=_proposal_details(source.id, proposal) if proposal else None,
    )
    wait = error.retry_after if isinstance(error, FetchError) else None
    context.store.record_failure(
        source,
        message,
        now,
        after,
        alerts,
        not_before=_hold(now, wait),
        # a page was read: what it proposes replaces an older proposal, or clears it
        proposal=proposal if isinstance(error, EmptyPageError) else KEEP,
    )
    return SourceResult(source_id=source.id, status=Status.FAILED, error=message)


class _Healable(EmptyPageError):
    """The selectors match nothing, but detection found the page's items (known ones among
    them) with `proposal`: a redesign that `feedtool heal` (or `heal = "auto"`) can follow."""

    def __init__(self, message: str, proposal: Selectors) -> None:
        super().__init__(message)
        self.proposal = proposal


def _proposal_details(source_id: str, proposal: Selectors) -> str:
    from feedtool.preview import select_block

    return (
        "The page's items, known ones among them, match these selectors;"
        f" `feedtool heal {source_id}` pins them in the config:\n\n{select_block(proposal)}"
    )


def _hold(now: datetime, seconds: float | None) -> datetime | None:
    """The earliest next check a server asked for (Retry-After, max-age), at most a day away."""
    return now + timedelta(seconds=min(seconds, MAX_HOLD)) if seconds else None


def _config_digest(source: Source, settings: Settings) -> str:
    """The config a source's extraction and feeds depend on."""
    published: tuple[object, ...] = (settings.base_url, settings.max_items)
    if settings.hub:  # only when set: a config without one keeps the digests it had
        published += (settings.hub,)
    return hashlib.sha256(repr((source, published)).encode()).hexdigest()[:16]


def _page_digest(fetched: Fetched, config_digest: str) -> str:
    """ "<config>:<page>": the same page read with a changed config (new selectors) is news."""
    return f"{config_digest}:{hashlib.sha256(fetched.body).hexdigest()}"


class _NeedsFetch(Exception):
    """Extraction in the process pool met a page that points elsewhere (an advertised feed)."""


def _refuse_fetch(url: str, validators: Validators | None = None) -> Fetched | NotModified:
    raise _NeedsFetch(url)


def _harvest_offloaded(
    source: Source, fetched: Fetched, now: datetime, learned: Selectors | None
) -> tuple[Extracted, list[Item]] | None:
    """Extraction in a pool process; None when it must fetch, which only the run can do."""
    try:
        return _extract_page(source, fetched, now, learned, _refuse_fetch)
    except _NeedsFetch:
        return None


def _extract_page(
    source: Source, fetched: Fetched, now: datetime, learned: Selectors | None, fetch: Fetch
) -> tuple[Extracted, list[Item]]:
    from feedtool import extract  # parsers and dates: only for pages that changed

    return extract.normalized_items(source, fetched, now=now, fetch=fetch, learned=learned)


def _title(source: Source, state: SourceState | None, found: str | None = None) -> str:
    return source.title or found or (state.title if state else None) or urlsplit(source.url).netloc


class _SourceRun:
    """One successful-or-raising check of one source."""

    _quiet: frozenset[str] = frozenset()  # keys of new items not to notify (a backfill's)
    _paginated: str | None = None  # the pagination config to remember once stored

    def __init__(
        self, source: Source, context: Context, state: SourceState | None, now: datetime
    ) -> None:
        self.configured = source  # as the config has it; `source` may use healed selectors
        # detected selectors stand in for the configured ones while the config still has those
        self.healed = health.healed_in_use(source, state.healed if state else None)
        if self.healed is not None:
            source = replace(source, select=self.healed.new)
        self.source = source
        self.context = context
        self.store = context.store
        self.state = state
        self.now = now
        # field health and healing: alerts beside the broken/recovered one, as (kind, detail)
        self.alerts: list[tuple[health.Alert, str, str | None]] = []
        # a successful check ends a broken spell: the health it leaves and the alert it sends
        self.health, self.alert = health.assess(
            source,
            state.health if state else Health(),
            health.Outcome(failed=False),
            now=now,
            remind_every=context.settings.remind_every,
        )

    def check(self) -> SourceResult:
        validators = self.state.validators if self.state else None
        config_digest = _config_digest(self.source, self.context.settings)
        config_changed = validators is not None and not (validators.digest or "").startswith(
            config_digest
        )
        if config_changed:
            validators = None  # a 304 would hide what the changed config now extracts
        first = self.context.fetcher.get(self.source.url, validators)
        if isinstance(first, NotModified):
            return self._not_modified(fresh_for=first.fresh_for)
        digest = _page_digest(first, config_digest)
        first = replace(first, validators=replace(first.validators, digest=digest))
        if validators is not None and validators.digest == first.validators.digest:
            # the same bytes: as good as a 304, but keep the server's new validators, if any
            return self._not_modified(first.validators, fresh_for=first.fresh_for)
        try:
            items, skipped, extracted = self._harvest(first)
        except EmptyPageError as e:
            first = self._heal(first, e)  # or raises
            items, skipped, extracted = self._harvest(first)
        if self.source.fulltext:
            items = self._with_fulltext(items)
        feed_title = _title(self.source, self.state, extracted.title)
        fields, warning = self._field_health(extracted)
        state = self.state

        def feeds_change(changes: Changes) -> bool:
            return bool(
                changes.new
                or changes.updated
                or config_changed
                or state is None
                or (state.title, state.site_url, state.meta)
                != (extracted.title, extracted.site_url, extracted.meta)
            )

        kept = first.validators
        if extracted.advertised is not None:
            # The items are the advertised feed's: an unchanged page (a 304, the same bytes)
            # says nothing of it, so the next run reads the page, and the feed, again.
            kept = Validators(digest=f"{config_digest}:")
        changes = self.store.apply(
            self.source,
            items,
            now=self.now,
            validators=kept,
            title=extracted.title,
            site_url=extracted.site_url,
            meta=extracted.meta,
            warning=warning,
            health=self.health,
            notifications=lambda changes: self._plan(feed_title, changes),
            publish=feeds_change,
            not_before=_hold(self.now, first.fresh_for),
            learned=self._learned(extracted),
            fields=fields,
            healed=self.healed,
        )
        if self._paginated is not None:
            self.store.record_pagination(self.source.id, self._paginated)
        if feeds_change(changes) or (state and state.unpublished) or self._files_missing():
            self._publish(feed_title, extracted.site_url, extracted.meta)
        return SourceResult(
            source_id=self.source.id,
            status=Status.OK,
            new=len(changes.new),
            updated=len(changes.updated),
            skipped=skipped,
        )

    def _plan(self, feed_title: str, changes: Changes) -> list[Queued]:
        targets = self.context.targets
        if self._quiet:  # a backfill's older pages: stored and published, never notified
            changes = replace(
                changes, new=tuple(i for i in changes.new if i.key not in self._quiet)
            )
        alerts = notify.plan_alert(self.source, feed_title, self.alert, None, self.now, targets)
        for kind, detail, details in self.alerts:
            alerts += notify.plan_alert(
                self.source, feed_title, kind, detail, self.now, targets, details=details
            )
        return alerts + notify.plan_items(self.source, feed_title, changes, targets)

    def _heal(self, first: Fetched, error: EmptyPageError) -> Fetched:
        """After the selectors matched nothing: the page as read with the selectors detection
        finds on it, when `heal = "auto"`; else raise `error`, with that proposal if any.

        Detection's listing must hold items the store knows (by identity, as the configured
        selectors found them): the same news in a new layout, not some other list of links.
        The switch is kept in state (`healed`), never written to the config by itself:
        `feedtool heal` pins it.
        """
        proposal = self._propose(first)
        if proposal is None:
            raise error
        if self.configured.heal != "auto":
            raise _Healable(str(error), proposal) from error
        old, configured = self.source.select, self.configured.select
        if old is None or configured is None:  # _propose makes this unreachable
            raise error
        self.source = replace(self.source, select=proposal)
        self.healed = health.Healed(old=configured, new=proposal)
        message = health.healed_message(old, proposal)
        logger.warning("%s: %s", self.source.id, message)
        self.alerts.append(
            (health.Alert.HEALED, message, _proposal_details(self.source.id, proposal))
        )
        # the digest of the selectors now in use: the next run, same page, is not modified
        digest = _page_digest(first, _config_digest(self.source, self.context.settings))
        return replace(first, validators=replace(first.validators, digest=digest))

    def _propose(self, first: Fetched) -> Selectors | None:
        """Selectors detection finds on a page the configured ones match nothing on, if its
        items include known ones; None for a source without selectors or known items."""
        from feedtool import extract
        from feedtool.extract.html import Page

        state = self.state
        if self.source.select is None or state is None or state.last_items_at is None:
            return None
        try:
            page = Page.parse(first.body, first.charset, first.content_type, first.url)
            proposal = extract.detect_items(page).selectors
            if proposal is None or proposal == self.source.select:
                return None
            _, items = extract.normalized_items(
                replace(self.source, select=proposal),
                first,
                now=self.now,
                fetch=self.context.fetcher.get,
            )
        except SourceError as e:
            logger.info("%s: no selectors to heal with: %s", self.source.id, e)
            return None
        if not self.store.known_keys(self.source.id, [item.key for item in items]):
            return None
        return proposal

    def _field_health(self, extracted: Extracted) -> tuple[health.Fields, str | None]:
        """Field health after this run, its alerts queued; and the source's warning: the
        page's own, fields whose selector matched no item, fields that disappeared."""
        before = self.state.fields if self.state else health.Fields()
        if extracted.from_feed:
            return health.Fields(), extracted.warning
        raw = extracted.items
        selectors = self.source.select or extracted.selectors
        change = health.assess_fields(before, raw, health.watched(selectors))
        warnings = health.field_warnings(self.source.select, raw, extracted.unmatched)
        for warning in warnings:
            logger.warning("%s: %s", self.source.id, warning)
        if change.lost:
            was = ", ".join(f"{name} disappeared" for name in change.lost)
            self.alerts.append((health.Alert.DEGRADED, was, None))
        if change.back:
            self.alerts.append(
                (health.Alert.RESTORED, ", ".join(f"{n} is back" for n in change.back), None)
            )
        notes = [extracted.warning, *warnings, *health.degraded_notes(change.fields)]
        return change.fields, "; ".join(n for n in notes if n) or None

    def _not_modified(
        self, validators: Validators | None = None, *, fresh_for: float | None
    ) -> SourceResult:
        feed_title = _title(self.source, self.state)
        alerts = notify.plan_alert(
            self.source, feed_title, self.alert, None, self.now, self.context.targets
        )
        self.store.record_not_modified(
            self.source,
            self.now,
            self.health,
            alerts,
            validators=validators,
            not_before=_hold(self.now, fresh_for),
        )
        if self._files_missing() or (self.state is not None and self.state.unpublished):
            # a 304 must not leave stored changes unpublished
            state = self.state
            self._publish(
                feed_title, state.site_url if state else None, state.meta if state else SiteMeta()
            )
        return SourceResult(source_id=self.source.id, status=Status.NOT_MODIFIED)

    def _learned(self, extracted: Extracted) -> Selectors | Keep | None:
        """What to remember of detection: its selectors, or nothing once they do not apply."""
        before = self.state.learned if self.state else None
        after = None if self.source.select or extracted.from_feed else extracted.selectors
        return KEEP if after == before else after

    def _files_missing(self) -> bool:
        stem = os.path.join(self.context.settings.output_dir, self.source.id)  # once a source
        return not all(os.path.exists(stem + suffix) for suffix in SUFFIXES)

    def _harvest(self, first: Fetched) -> tuple[tuple[Item, ...], int, Extracted]:
        """The items of the source's pages, by the path preview and check share (harvest).

        A first run reads every page up to max_pages; later runs stop at a page holding any
        known item, since everything after it is known too. A changed pagination config
        (`next` added, max_pages raised) reads them all once more, a backfill: its items
        beyond the first page are old news and notify nobody. Returns the filtered items,
        the number skipped, and what the first page said of itself.
        """
        from feedtool import harvest

        source, state = self.source, self.state
        paginated = harvest.pagination_key(source.paginate)
        first_run = state is None or not state.initialized
        changed = state is None or state.paginated != paginated
        backfill = source.paginate.max_pages > 1 and (first_run or changed)

        def known(keys: Sequence[str]) -> set[str]:
            return self.store.known_keys(source.id, keys)

        result = harvest.harvest(
            source,
            first,
            extract_page=self._page,
            fetch=self.context.fetcher.get,
            known=None if backfill else known,
        )
        if backfill and not first_run:
            self._quiet = frozenset(i.key for page in result.pages[1:] for i in page.items)
        if changed:
            self._paginated = paginated
        return result.items, result.skipped, result.first

    def _page(self, fetched: Fetched) -> tuple[Extracted, list[Item]]:
        """One page or feed document: what was extracted and its usable items."""
        learned = self.state.learned if self.state else None
        offload = self.context.offload
        offload.count()
        harvested = offload.call(_harvest_offloaded, self.source, fetched, self.now, learned)
        if harvested is None:
            harvested = offload.inline(
                _extract_page,
                self.source,
                fetched,
                self.now,
                learned,
                fetch=self.context.fetcher.get,
            )
        return harvested

    def _with_fulltext(self, items: tuple[Item, ...]) -> tuple[Item, ...]:
        from feedtool.fulltext import enrich

        keys = [item.key for item in items]
        select = self.source.select
        return enrich(
            items,
            new_keys=set(keys) - self.store.known_keys(self.source.id, keys),
            fetcher=self.context.fetcher,
            content_selector=select.content if select else None,
            delay=self.context.settings.host_delay,
        )

    def _publish(self, feed_title: str, site_url: str | None, meta: SiteMeta) -> None:
        from feedtool import publish  # feedgen: only for feeds that changed
        from feedtool.urls import feed_url  # lxml, likewise

        settings = self.context.settings
        feed = publish.FeedInfo(
            id=self.source.id,
            title=feed_title,
            site_url=site_url or self.source.url,  # a feed's own website, else the watched page
            language=meta.language,
            icon=meta.icon,
            logo=meta.logo,
            site_name=meta.site_name,
            hub=settings.hub,
        )
        items = self.store.items(self.source.id, settings.max_items)
        unsynced = self.context.unsynced
        arguments = (feed, items, settings.output_dir, settings.base_url, unsynced is None)
        try:
            changed = self.context.offload.call(publish.write_feeds, *arguments)
            if changed is None:
                changed = self.context.offload.inline(publish.write_feeds, *arguments)
        except OSError as e:
            reason = e.strerror or str(e)
            raise PublishError(f"cannot write feeds in {settings.output_dir}: {reason}") from e
        topics = [feed_url(settings.base_url, self.source.id, suffix) for suffix in changed]
        if unsynced is None:
            self.store.mark_published(self.source.id)
            if self.context.hub is not None and topics:  # written durably: tell the hub now
                self.context.hub.ping(topics)
        else:
            unsynced.append(self.source.id)
            if self.context.announce is not None:
                self.context.announce.extend(topics)


def log_result(result: SourceResult) -> None:
    """One line per source run, as the daemon and `run -v` show it."""
    level = logging.WARNING if result.status is Status.FAILED else logging.INFO
    logger.log(
        level,
        "%s: %s, %d new, %d updated, %d skipped, %.2fs%s",
        result.source_id,
        result.status,
        result.new,
        result.updated,
        result.skipped,
        result.duration,
        f": {result.error}" if result.error else "",
    )
