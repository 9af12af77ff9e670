"""Source health: when a source counts as broken, and which alerts that state change sends.

Pure: the previous state and this run's outcome in, the new state and alerts out. One alert
when a source breaks, a reminder every `remind_every` while it stays broken, one when it
recovers — never one per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from feedtool.model import Health, Source


class Alert(StrEnum):
    BROKEN = "broken"
    REMINDER = "reminder"
    RECOVERED = "recovered"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What this run did, as health sees it."""

    failed: bool
    failures: int = 0  # consecutive failed runs, this one included
    went_empty: bool = False  # a page that used to give items gave none


def assess(
    source: Source, before: Health, outcome: Outcome, *, now: datetime, remind_every: int
) -> tuple[Health, Alert | None]:
    """The source's health after this run, and the alert the change calls for, if any."""
    broken = before.broken_since is not None
    if not outcome.failed:
        return Health(), (Alert.RECOVERED if broken else None)
    if not broken:
        # An emptied page is the silent death of a scraped feed: alert at once.
        if outcome.went_empty or outcome.failures >= source.broken_after:
            return Health(broken_since=now, alerted_at=now), Alert.BROKEN
        return before, None
    last = before.alerted_at or before.broken_since
    assert last is not None
    if now - last >= timedelta(seconds=remind_every):
        return Health(broken_since=before.broken_since, alerted_at=now), Alert.REMINDER
    return before, None
