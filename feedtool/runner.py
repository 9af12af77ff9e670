"""Many sources at once: the pool `run` and the daemon check sources through.

`workers` threads share one HttpFetcher (per-host limits, pooled connections, a deadline per
response) and one state database, used one call at a time, each call one transaction. Feeds a
run writes are synced to disk once at its end, then marked published and announced to the
WebSub hub.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any, cast

from feedtool import notify, websub
from feedtool.fetch import HttpFetcher
from feedtool.model import Config, Source, SourceResult, utc_now
from feedtool.pipeline import OFFLOAD_AFTER, Clock, Context, Offload, log_result, run_source
from feedtool.scheduler import is_due
from feedtool.store import Outbox, Store

logger = logging.getLogger(__name__)


class _Serialized:
    """A Store shared by worker threads: one call at a time, each call one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return locked


class Runner:
    """Checks sources concurrently; `submit` may be called from any thread.

    The state database and the fetcher's connections live as long as the runner: open it once
    per `run`, or once for the daemon's life.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = utc_now,
        stop: threading.Event | None = None,
        offload_after: int | None = OFFLOAD_AFTER,
    ) -> None:
        settings = config.settings
        self.config = config
        self.clock = clock
        self.store = Store.open(settings.state_dir)
        self.stop = stop or threading.Event()  # set: fetches in progress give up at once
        self.fetcher = HttpFetcher.for_settings(settings, stop=self.stop)
        self.offload = Offload(offload_after, size=settings.workers)
        self._threads = ThreadPoolExecutor(settings.workers, thread_name_prefix="feedtool")
        self.context = Context(
            store=cast(Store, _Serialized(self.store)),
            fetcher=self.fetcher,
            settings=settings,
            targets=config.notify,
            clock=clock,
            offload=self.offload,
            hub=websub.Hub(settings.hub, self.fetcher.post_form) if settings.hub else None,
        )

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for checks in progress (a stop event set beforehand cuts them short)."""
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.offload.close()
        self.fetcher.close()
        self.store.close()

    def submit(self, source: Source) -> Future[SourceResult]:
        """Check one source in a worker thread; its failure is a FAILED result.

        The future raises only what concerns every source: StateError, PublishError, or
        Interrupted when the stop event was set.
        """
        return self._threads.submit(self._check, source)

    def _check(self, source: Source) -> SourceResult:
        return run_source(source, self.context, self.context.store.source(source.id, counts=False))

    def run(
        self,
        sources: Sequence[Source],
        *,
        due_only: bool = True,
        on_start: Callable[[Sequence[Source]], None] | None = None,
        on_result: Callable[[SourceResult], None] | None = None,
    ) -> list[SourceResult]:
        """Check `sources` (only the due ones with `due_only`); results in the given order.

        `on_start` hears which sources will be checked, `on_result` each result as it comes
        (from this thread). The first error that concerns every source cancels the rest and
        is raised.
        """
        states = {state.id: state for state in self.store.sources(counts=False)}  # one query
        if due_only:
            now = self.clock()
            sources = [s for s in sources if is_due(s, states.get(s.id), now)]
        if on_start is not None:
            on_start(sources)
        context = replace(self.context, unsynced=[], announce=[])
        futures = {
            self._threads.submit(run_source, source, context, states.get(source.id)): i
            for i, source in enumerate(sources)
        }
        results: dict[int, SourceResult] = {}
        try:
            for future in as_completed(futures):
                result = future.result()
                log_result(result)
                if on_result is not None:
                    on_result(result)
                results[futures[future]] = result
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):  # Ctrl-C: no waiting for slow servers
                self.stop.set()
            for future in futures:
                future.cancel()
            raise
        finally:
            _settle(context)
        return [results[i] for i in sorted(results)]


def _settle(context: Context) -> None:
    """Flush the feeds written without fsync, record them as published, then tell the hub
    which of them changed.

    Until then their sources stay "unpublished" in state, so a crash before the flush means
    the next run writes them again, even if the server answers 304.
    """
    if not context.unsynced:
        return
    os.sync()
    for source_id in context.unsynced:
        context.store.mark_published(source_id)
    if context.hub is not None and context.announce:
        context.hub.ping(context.announce)


def run_all(
    config: Config,
    *,
    only: Sequence[str] = (),
    force: bool = False,
    clock: Clock = utc_now,
    on_start: Callable[[Sequence[Source]], None] | None = None,
    on_result: Callable[[SourceResult], None] | None = None,
) -> list[SourceResult]:
    """One pass over the sources that are due (all of `only`, or all with force), then
    delivery of the notification outbox."""
    chosen = [source for source in config.sources if not only or source.id in only]
    with Runner(config, clock=clock) as runner:
        results = runner.run(
            chosen, due_only=not (force or only), on_start=on_start, on_result=on_result
        )
        deliver(config, runner.store, clock)
    return results


def deliver(config: Config, store: Store, clock: Clock = utc_now) -> notify.Delivery:
    """Send what the notification outbox holds for the configured targets; log the counts."""
    delivery = notify.deliver(
        Outbox(store), config.notify, now=clock(), max_age=config.settings.notify_max_age
    )
    if delivery.sent or delivery.failed or delivery.dropped:
        logger.info(
            "notifications: %d sent, %d failed, %d dropped",
            delivery.sent,
            delivery.failed,
            delivery.dropped,
        )
    return delivery
