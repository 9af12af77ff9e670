"""When each source is due, and the daemon loop that checks them.

Due times derive from the state database (last check, consecutive failures), so `run` from
cron and the daemon agree, and a restart does not reset anyone's schedule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feedtool.model import Source
from feedtool.store import SourceState

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
    due = due_at(source, state)
    return due is None or due <= now
