"""Due times: interval, backoff, the server's not-before, the daemon's jitter."""

from __future__ import annotations

import threading
import types
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from time import monotonic, sleep

import pytest
import schedule

from feedtool.daemon import Daemon
from feedtool.model import Health, Source, Validators
from feedtool.scheduler import JITTER, MAX_BACKOFF, due_at, is_due, jitter
from feedtool.store import SourceState
from tests.conftest import html_source, write_config

T0 = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)  # 30 s before Europe's clocks go forward
SOURCE = Source(id="news", url="https://example.org/news/", interval=600)


def state(
    last_check: datetime | None = T0, *, failures: int = 0, not_before: datetime | None = None
) -> SourceState:
    return SourceState(
        id=SOURCE.id,
        url=SOURCE.url,
        title=None,
        site_url=None,
        validators=Validators(),
        last_check=last_check,
        last_success=None,
        last_error=None,
        warning=None,
        last_items_at=None,
        failures=failures,
        new_last_run=0,
        initialized=True,
        health=Health(),
        unpublished=False,
        item_count=0,
        not_before=not_before,
    )


def test_a_source_never_checked_is_due_now() -> None:
    assert due_at(SOURCE, None) is None
    assert is_due(SOURCE, None, T0)
    assert due_at(SOURCE, state(None)) is None


def test_due_one_interval_after_the_last_check_in_utc() -> None:
    due = due_at(SOURCE, state())
    assert due == T0 + timedelta(seconds=600)
    assert due is not None
    assert due.utcoffset() == timedelta(0)
    assert not is_due(SOURCE, state(), T0 + timedelta(seconds=599))
    assert is_due(SOURCE, state(), T0 + timedelta(seconds=600))


def test_failures_back_off_up_to_the_cap() -> None:
    assert due_at(SOURCE, state(failures=1)) == T0 + timedelta(seconds=600)
    assert due_at(SOURCE, state(failures=3)) == T0 + timedelta(seconds=2400)
    assert due_at(SOURCE, state(failures=30)) == T0 + timedelta(seconds=MAX_BACKOFF)


def test_not_before_defers_the_check_but_never_advances_it() -> None:
    later = T0 + timedelta(hours=2)
    assert due_at(SOURCE, state(not_before=later)) == later
    assert not is_due(SOURCE, state(not_before=later), later - timedelta(seconds=1))
    assert is_due(SOURCE, state(not_before=later), later)

    sooner = T0 + timedelta(seconds=60)  # a max-age shorter than the interval changes nothing
    assert due_at(SOURCE, state(not_before=sooner)) == T0 + timedelta(seconds=600)
    backoff = T0 + timedelta(seconds=2400)
    assert due_at(SOURCE, state(failures=3, not_before=sooner)) == backoff

    assert due_at(SOURCE, state(None, not_before=later)) == later  # asked before any check


def test_jitter_is_small_stable_and_differs_from_check_to_check() -> None:
    assert jitter(SOURCE, None) == timedelta(0)  # a new source starts at once
    spread = {jitter(SOURCE, state(T0 + timedelta(seconds=n))) for n in range(200)}
    assert all(timedelta(0) <= j < timedelta(seconds=600 * JITTER) for j in spread)
    assert len(spread) > 190
    assert jitter(SOURCE, state()) == jitter(SOURCE, state())  # the same on every pass
    other = Source(id="other", url=SOURCE.url, interval=600)
    assert jitter(other, state()) != jitter(SOURCE, state())


def test_the_timer_survives_the_local_clock_going_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`schedule` keeps naive local times: at the end of summer time its 30 s heartbeat would
    wait an hour and the container's healthcheck would fail."""
    offset = [timedelta(0)]

    class LocalClock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + offset[0]

    fake = types.SimpleNamespace(
        datetime=LocalClock, timedelta=timedelta, time=time, date=date, tzinfo=tzinfo
    )
    monkeypatch.setattr(schedule, "datetime", fake)
    daemon = Daemon(write_config(tmp_path, html_source("news", "http://127.0.0.1:9/")))
    monkeypatch.setattr(daemon, "HEARTBEAT_EVERY", 0.2)
    beats: list[float] = []
    monkeypatch.setattr(daemon, "_heartbeat", lambda: beats.append(monotonic()))
    monkeypatch.setattr(daemon, "_deliver", lambda store: None)
    timer = threading.Thread(target=daemon._timer)
    timer.start()
    try:
        sleep(0.5)
        offset[0] = timedelta(hours=-1)
        before = len(beats)
        sleep(0.7)
        after = len(beats)
    finally:
        daemon.stop.set()
        daemon._deliver_now.set()
        timer.join(5)
    assert before >= 1
    assert after - before >= 2, beats
