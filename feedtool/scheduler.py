"""When each source is due, and the daemon loop that checks them.

Due times derive from the state database (last check, consecutive failures), so `run` from
cron and the daemon agree, and a restart does not reset anyone's schedule.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import schedule

from feedtool import config
from feedtool.errors import FeedtoolError, Interrupted, StateError
from feedtool.fetch import HttpFetcher
from feedtool.lock import AlreadyRunning, exclusive
from feedtool.model import Config, Source, utc_now
from feedtool.store import SourceState, Store

logger = logging.getLogger(__name__)

HEARTBEAT = "daemon.heartbeat"

MAX_BACKOFF = 6 * 3600  # a failing source is still retried at least this often


def due_at(source: Source, state: SourceState | None) -> datetime | None:
    """When the source is next due; None when it has never been checked (due now).

    A failing source backs off exponentially: interval, 2x, 4x ... up to MAX_BACKOFF (or its
    own interval, when that is longer).
    """
    if state is None or state.last_check is None:
        return None
    delay = source.interval
    if state.failures > 1:
        delay = min(source.interval * 2 ** (state.failures - 1), max(source.interval, MAX_BACKOFF))
    return state.last_check + timedelta(seconds=delay)


def is_due(source: Source, state: SourceState | None, now: datetime) -> bool:
    """Whether `run` (without --force) and the daemon should check the source now."""
    due = due_at(source, state)
    return due is None or due <= now


class Daemon:
    """`feedtool daemon`: each source on its own interval, notifications on their own timer.

    It holds the run lock for its whole life, so a `feedtool run` from cron beside it steps
    aside instead of doubling the work. SIGTERM/SIGINT stop it within seconds (a fetch in
    progress is abandoned, nothing of it stored) and exit 0; SIGHUP reloads the config,
    keeping the old one if the new one is bad.
    """

    TICK = 0.2  # seconds between looks at the schedule: bounds how long a stop takes
    NOTIFY_EVERY = 60
    HEARTBEAT_EVERY = 30

    def __init__(self, config_path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.config_path = config_path
        self.clock = clock
        self.stop = threading.Event()  # also aborts a fetch in progress
        self.reload_requested = False
        self.config: Config = config.load(config_path)
        self.scheduler = schedule.Scheduler()

    def run(self) -> int:
        settings = self.config.settings
        try:
            with exclusive(settings.state_dir):
                self._install_signals()
                self._plan()
                logger.info("daemon: watching %d sources", len(self.config.sources))
                while not self.stop.is_set():
                    if self.reload_requested:
                        self._reload()
                    self.scheduler.run_pending()
                    self.stop.wait(self.TICK)
        except AlreadyRunning as e:
            raise StateError(f"another feedtool run or daemon holds {e}") from None
        logger.info("daemon: stopped")
        return 0

    def _install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            self.stop.set()

        def reload(signum: int, frame: object) -> None:
            self.reload_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _plan(self) -> None:
        """(Re)build the schedule: sources due now run on the first tick, others when due."""
        self.scheduler.clear()
        settings = self.config.settings
        with Store.open(settings.state_dir) as store:
            states = {state.id: state for state in store.sources()}
        now = self.clock()
        for source in self.config.sources:
            jitter = source.interval // 20  # 5 %: none for intervals under 20 s
            job = self.scheduler.every(source.interval).to(source.interval + jitter).seconds
            job.do(self._guarded, self._check, source.id)
            due = due_at(source, states.get(source.id))
            wait = 0.0 if due is None else max(0.0, (due - now).total_seconds())
            if wait:  # spread what is due later; what is due now runs on the first tick
                wait += random.uniform(0, jitter)
            job.next_run = datetime.now() + timedelta(seconds=wait)
            first = (now + timedelta(seconds=wait)).strftime("%Y-%m-%d %H:%M:%S UTC")
            logger.info("daemon: %s every %ss, next check %s", source.id, source.interval, first)
        self.scheduler.every(self.NOTIFY_EVERY).seconds.do(self._guarded, self._deliver)
        self.scheduler.every(self.HEARTBEAT_EVERY).seconds.do(self._guarded, self._heartbeat)
        self._heartbeat()

    def _reload(self) -> None:
        self.reload_requested = False
        try:
            new = config.load(self.config_path)
        except Exception as e:  # whatever is wrong with the new file, the old config stands
            logger.error("daemon: config not reloaded, keeping the old one: %s", e)
            return
        if new.settings.state_dir != self.config.settings.state_dir:
            logger.error("daemon: state_dir cannot change on reload; restart the daemon")
            return
        self.config = new
        self._plan()
        logger.info("daemon: config reloaded, %d sources", len(new.sources))

    def _guarded(self, job: Callable[..., object], *args: object) -> None:
        """A failing job must not escape run_pending: schedule would re-run it every tick."""
        if self.stop.is_set():
            return
        try:
            job(*args)
        except Interrupted:
            logger.info("daemon: stopping in the middle of a check")
        except FeedtoolError as e:
            logger.error("daemon: %s", e)
        except Exception:
            logger.exception("daemon: job failed")

    def _check(self, source_id: str) -> None:
        from feedtool.pipeline import Context, deliver, log_result, run_source

        source = self.config.source(source_id)
        settings = self.config.settings
        with (
            HttpFetcher.for_settings(settings, stop=self.stop) as fetcher,
            Store.open(settings.state_dir) as store,
        ):
            state = store.source(source_id)
            if not is_due(source, state, self.clock()):
                return  # backing off after failures
            context = Context(
                store=store,
                fetcher=fetcher,
                settings=settings,
                targets=self.config.notify,
                clock=self.clock,
            )
            log_result(run_source(source, context, state))
            deliver(self.config, store, self.clock)

    def _deliver(self) -> None:
        from feedtool.pipeline import deliver

        with Store.open(self.config.settings.state_dir) as store:
            deliver(self.config, store, self.clock)

    def _heartbeat(self) -> None:
        path = self.config.settings.state_dir / HEARTBEAT
        try:
            path.touch()
        except OSError as e:
            raise StateError(f"cannot touch {path}: {e.strerror or e}") from e
