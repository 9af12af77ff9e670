"""What the server knows: the config, reloaded when its file changes, and the state.

`feedtool serve` runs for months beside a config that people edit (`feedtool add`,
`import-opml`): a changed file is loaded again on the next request that needs it, and a
broken one is logged and the last good config kept, so the feeds never go away.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from feedtool import config as configuration
from feedtool.errors import ConfigError, StateError
from feedtool.model import Config, utc_now
from feedtool.scheduler import due_at
from feedtool.store import SourceState, Store

logger = logging.getLogger(__name__)

STATE_TTL = 5.0  # seconds the states read for Cache-Control are reused


class Site:
    """The config at `path` (loaded now: a bad one fails at start) and source states."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._config = configuration.load(path, secrets=False)
        self._stamp = self._file_stamp()
        self._lock = threading.Lock()
        self._states: dict[str, SourceState] = {}
        self._states_read = float("-inf")

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    @property
    def config(self) -> Config:
        """The config as the file says now; the last good one while the file is broken."""
        stamp = self._file_stamp()
        if stamp is not None and stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._config = configuration.load(self.path, secrets=False)
                        logger.info("serve: config reloaded, %d sources", len(self._config.sources))
                    except ConfigError as e:
                        logger.error("serve: config not reloaded, keeping the old one: %s", e)
        return self._config

    def max_age(self, source_id: str) -> int | None:
        """Seconds a feed stays fresh: until the source's next check, at most its interval.

        A reader (or a cache) that waits that long misses nothing, and one that polls sooner
        is told it need not. None for a file that is no source's feed.
        """
        cfg = self.config
        try:
            source = cfg.source(source_id)
        except KeyError:
            return None
        due = due_at(source, self._state(cfg, source_id))
        if due is None:
            return 0
        return int(max(0.0, min(source.interval, (due - utc_now()).total_seconds())))

    def _state(self, cfg: Config, source_id: str) -> SourceState | None:
        """States read at most every STATE_TTL seconds, with one query, read-only."""
        with self._lock:
            if time.monotonic() - self._states_read > STATE_TTL:
                self._states_read = time.monotonic()
                try:
                    store = Store.open_existing(cfg.settings.state_dir)
                    if store is None:
                        self._states = {}
                    else:
                        with store:
                            self._states = {s.id: s for s in store.sources(counts=False)}
                except StateError as e:
                    logger.warning("serve: %s", e)
                    self._states = {}
            return self._states.get(source_id)
