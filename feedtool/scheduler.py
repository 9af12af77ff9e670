"""When each source is due.

Due times derive from the state database (last check, consecutive failures, the server's
not-before), so `run` from cron and the daemon agree, and a restart does not reset anyone's
schedule. All of them are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feedtool.model import Source
from feedtool.store import SourceState

MAX_BACKOFF = 6 * 3600  # a failing source is still retried at least this often
JITTER = 0.05  # the daemon spreads each source's checks over up to 5 % of its interval


def due_at(source: Source, state: SourceState | None) -> datetime | None:
    """When the source is next due; None when it has never been checked (due now).

    Never before the server's `not_before` (Retry-After, Cache-Control max-age; the pipeline
    caps it at a day). A failing source backs off exponentially: interval, 2x, 4x ... up to
    MAX_BACKOFF (or its own interval, when that is longer).
    """
    if state is None or state.last_check is None:
        return state.not_before if state is not None else None
    delay = source.interval
    if state.failures > 1:
        delay = min(source.interval * 2 ** (state.failures - 1), max(source.interval, MAX_BACKOFF))
    due = state.last_check + timedelta(seconds=delay)
    if state.not_before is not None and state.not_before > due:
        return state.not_before
    return due


def is_due(source: Source, state: SourceState | None, now: datetime) -> bool:
    """Whether `run` (without --force) and the daemon should check the source now."""
    due = due_at(source, state)
    return due is None or due <= now


def jitter(source: Source, state: SourceState | None) -> timedelta:
    """The daemon's delay past `due_at`: up to JITTER of the interval, so that sources added
    together (or all due at a restart) drift apart instead of hitting the network in step.

    Pseudo-random from the source and its last check rather than from `random`: the daemon
    plans afresh from the database after checks and needs the same value on every pass for
    one due time, without remembering anything per source. (`hash` of a str differs from one
    process to the next, which is fine: it is stable for the daemon's life.) A source never
    checked has none: it is due at once.
    """
    if state is None or state.last_check is None:
        return timedelta(0)
    fraction = (hash((source.id, state.last_check)) & 0xFFFFFFFF) / 2**32
    return timedelta(seconds=source.interval * JITTER * fraction)
