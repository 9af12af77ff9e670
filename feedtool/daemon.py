"""`feedtool daemon`: checks each source when it is due, through the pool `run` uses.

The main thread plans: it sleeps until the earliest due time (no polling) and hands due sources
to a `runner.Runner`. The heartbeat and the notification outbox have a thread of their own,
so a hung source never stops them.
"""

from __future__ import annotations

import functools
import logging
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from pathlib import Path

import schedule

from feedtool import config
from feedtool.errors import FeedtoolError, Interrupted, StateError
from feedtool.lock import AlreadyRunning, exclusive
from feedtool.model import Config, Source, SourceResult, utc_now
from feedtool.pipeline import log_result
from feedtool.runner import Runner, deliver
from feedtool.scheduler import due_at, jitter
from feedtool.store import Store

logger = logging.getLogger(__name__)

HEARTBEAT = "daemon.heartbeat"
Finished = tuple[Source, Future[SourceResult]]  # a check the planner has yet to look at


class Daemon:
    """`feedtool daemon`: each source on its own interval, notifications on their own timer.

    Three kinds of threads:

    - the main thread plans: it reads every source's state in one query, submits the due
      ones that are not already being checked to a `runner.Runner` (the pool `run` uses),
      then sleeps on `wake` until the next due time. Signals and every finished check set
      `wake`, so it neither polls nor misses anything;
    - the runner's workers check sources; a server that never answers holds one worker until
      the fetch deadline, nothing else;
    - the timer thread touches the heartbeat and delivers the notification outbox, on fixed
      periods (`schedule`) and whenever a check may have queued something, with its own
      database connection: a hung source cannot stall either.

    It holds the run lock for its whole life, so a `feedtool run` from cron beside it steps
    aside instead of doubling the work. SIGTERM/SIGINT stop it within seconds (fetches in
    progress are abandoned, nothing of them stored) and exit 0; SIGHUP reloads the config,
    keeping the old one if the new one is bad.
    """

    NOTIFY_EVERY = 60
    HEARTBEAT_EVERY = 30
    # The longest the planner sleeps even with nothing due: waits run on the monotonic clock,
    # due times on the wall clock, which NTP or a resumed VM may step.
    MAX_SLEEP = 600.0
    # After a planning pass the planner rests this many times as long as the pass took, so
    # that a burst of finished checks (the first cycle of a thousand sources) is planned in a
    # few passes, not one each: planning stays under a tenth of the time whatever the size.
    REST = 9
    TIMER_GRACE = 5.0  # seconds a stopping daemon waits for a delivery in progress

    def __init__(self, config_path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.config_path = config_path
        self.clock = clock
        self.config: Config = config.load(config_path)
        self.stop = threading.Event()  # also aborts the fetches in progress
        self.wake = threading.Event()  # the planner's: a signal, or a finished check
        self.reload_requested = False
        self._deliver_now = threading.Event()  # the timer's: a check queued notifications
        self._in_flight: dict[str, Future[SourceResult]] = {}
        self._finished: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._held: dict[str, datetime] = {}  # sources whose check failed for every source

    def run(self) -> int:
        state_dir = self.config.settings.state_dir
        try:
            with exclusive(state_dir):
                self._install_signals()
                self._heartbeat()  # after the handlers: a heartbeat means SIGTERM is safe
                timer = threading.Thread(target=self._timer, name="feedtool-timer", daemon=True)
                timer.start()
                try:
                    self._plan_forever()
                finally:
                    self.stop.set()
                    self._deliver_now.set()
                    timer.join(self.TIMER_GRACE)
        except AlreadyRunning as e:
            raise StateError(f"another feedtool run or daemon holds {e}") from None
        logger.info("daemon: stopped")
        return 0

    def _install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            self.stop.set()
            self.wake.set()

        def reload(signum: int, frame: object) -> None:
            self.reload_requested = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # --- the planner (main thread) --------------------------------------------------------------

    def _plan_forever(self) -> None:
        runner = self._runner()
        logger.info("daemon: watching %d sources", len(self.config.sources))
        try:
            while True:
                self.wake.clear()  # before looking: a check finishing from now on wakes us
                if self.stop.is_set():
                    break
                if self.reload_requested:
                    runner = self._reload(runner)
                self._collect()
                started = time.monotonic()
                try:
                    wait = self._plan(runner)
                except (FeedtoolError, sqlite3.Error) as e:  # the state database: try later
                    logger.error("daemon: cannot plan, trying again in a minute: %s", e)
                    wait = float(self.NOTIFY_EVERY)
                rest = self.REST * (time.monotonic() - started)
                self.wake.wait(min(wait, self.MAX_SLEEP) if wait is not None else self.MAX_SLEEP)
                self.stop.wait(rest)
        finally:
            self.stop.set()  # however we leave: cut the checks in progress short
            runner.close()
            self._collect()

    def _runner(self) -> Runner:
        # No process pool: the daemon stays one small process (about 55 MB for 1,000 sources).
        # A pool's workers, about 50 MB each, would serve its first cycle only: later cycles
        # find a few changed pages at a time.
        return Runner(self.config, clock=self.clock, stop=self.stop, offload_after=None)

    def _plan(self, runner: Runner) -> float | None:
        """Submit every due source not being checked; seconds until the next one is due."""
        states = {state.id: state for state in runner.context.store.sources(counts=False)}
        now = self.clock()
        soonest: datetime | None = None
        for source in self.config.sources:
            if source.id in self._in_flight:
                continue  # planned again when its check is over
            state = states.get(source.id)
            due = due_at(source, state)
            due = now if due is None else due + jitter(source, state)
            held = self._held.get(source.id)
            if held is not None and held > due:
                due = held
            if due <= now:
                self._submit(runner, source)
            elif soonest is None or due < soonest:
                soonest = due
        return None if soonest is None else (soonest - now).total_seconds()

    def _submit(self, runner: Runner, source: Source) -> None:
        self._held.pop(source.id, None)
        future = runner.submit(source)
        self._in_flight[source.id] = future
        future.add_done_callback(functools.partial(self._on_done, source))

    def _on_done(self, source: Source, future: Future[SourceResult]) -> None:
        """In the worker thread (or the planner's, on cancel): hand the result to the planner."""
        self._finished.put((source, future))
        self.wake.set()

    def _collect(self) -> None:
        """Log the finished checks, and let the timer deliver what they queued."""
        while True:
            try:
                source, future = self._finished.get_nowait()
            except queue.Empty:
                return
            del self._in_flight[source.id]
            if future.cancelled():  # queued behind others at a reload or stop: planned again
                continue
            self._report(source, future)

    def _report(self, source: Source, future: Future[SourceResult]) -> None:

        try:
            result = future.result()
        except Interrupted:
            logger.info("daemon: %s: stopped in the middle of its check", source.id)
            return
        except Exception as e:  # StateError, PublishError: concern every source
            # Nothing was recorded, so the source is still due: without a hold it would be
            # checked again at once, failing in a loop. Retry it on its interval instead.
            self._held[source.id] = self.clock() + timedelta(seconds=source.interval)
            if isinstance(e, FeedtoolError):
                logger.error("daemon: %s: %s", source.id, e)
            else:
                logger.error("daemon: %s: check failed", source.id, exc_info=e)
            return
        log_result(result)
        self._deliver_now.set()  # new items or a health alert (a 304 may recover), perhaps

    def _reload(self, runner: Runner) -> Runner:
        """The new config with a new runner once the checks in progress are over; or, if the
        new config is bad, the old one as it was."""
        self.reload_requested = False
        try:
            new = config.load(self.config_path)
        except Exception as e:  # whatever is wrong with the new file, the old config stands
            logger.error("daemon: config not reloaded, keeping the old one: %s", e)
            return runner
        if new.settings.state_dir != self.config.settings.state_dir:
            logger.error("daemon: state_dir cannot change on reload; restart the daemon")
            return runner
        runner.close()  # waits for the checks in progress (bounded by the fetch deadline)
        self._collect()
        self.config = new
        ids = {source.id for source in new.sources}
        self._held = {id: at for id, at in self._held.items() if id in ids}
        runner = self._runner()
        logger.info("daemon: config reloaded, %d sources", len(new.sources))
        return runner

    # --- the timer thread -----------------------------------------------------------------------

    def _timer(self) -> None:
        """Heartbeat and delivery on fixed periods, plus delivery when `_deliver_now` is set.

        `schedule` keeps its times in naive local time: when the local clock goes back (the
        end of summer time) its jobs would wait an extra hour. A wait longer than any period
        gives that away, and running every job at once puts them back on the new clock.
        """
        try:
            store = Store.open(self.config.settings.state_dir)
        except StateError as e:
            logger.error("daemon: notifications not delivered: %s", e)
            store = None
        scheduler = schedule.Scheduler()
        scheduler.every(self.HEARTBEAT_EVERY).seconds.do(self._guarded, self._heartbeat)
        if store is not None:
            scheduler.every(self.NOTIFY_EVERY).seconds.do(self._guarded, self._deliver, store)
        longest = max(self.HEARTBEAT_EVERY, self.NOTIFY_EVERY)
        try:
            while not self.stop.is_set():
                idle = scheduler.idle_seconds or 0.0
                if idle > longest:
                    scheduler.run_all()
                    continue
                if self._deliver_now.wait(max(0.0, idle)) and not self.stop.is_set():
                    self._deliver_now.clear()  # before delivering: a later check asks again
                    if store is not None:
                        self._guarded(self._deliver, store)
                scheduler.run_pending()
        finally:
            if store is not None:
                store.close()

    def _guarded(self, job: Callable[..., object], *args: object) -> None:
        """A failing job must not escape the timer thread: heartbeats would end with it."""
        if self.stop.is_set():
            return
        try:
            job(*args)
        except FeedtoolError as e:
            logger.error("daemon: %s", e)
        except Exception:
            logger.exception("daemon: job failed")

    def _deliver(self, store: Store) -> None:
        deliver(self.config, store, self.clock)

    def _heartbeat(self) -> None:
        path = self.config.settings.state_dir / HEARTBEAT
        try:
            path.touch()
        except OSError as e:
            raise StateError(f"cannot touch {path}: {e.strerror or e}") from e
