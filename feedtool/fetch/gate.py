"""The per-host limit: at most so many requests in flight to one host, their starts spaced."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from feedtool.errors import Interrupted
from feedtool.fetch.deadline import STOP_POLL


class HostGate:
    """At most `limit` requests in flight to one host, their starts `spacing` seconds apart."""

    def __init__(self, limit: int, spacing: float, stop: threading.Event) -> None:
        self._limit = max(1, limit)
        self._spacing = spacing
        self._stop = stop
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots; raises Interrupted once `stop` is set."""
        with self._lock:
            slots = self._slots.setdefault(host, threading.BoundedSemaphore(self._limit))
        while not slots.acquire(timeout=STOP_POLL):
            if self._stop.is_set():
                raise Interrupted("stopped")
        try:
            # The start time is booked once the slot is held, so starts stay in booking order.
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self._spacing
            if self._stop.wait(start - now):
                raise Interrupted("stopped")
            yield
        finally:
            slots.release()
