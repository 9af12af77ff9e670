"""Each source's standing, as the status page, `status --json` and `run --json` report it.

Read from the state database as it is (Store.open_existing): a reader never creates or
migrates state under a daemon that may be running another version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedtool.errors import StateError
from feedtool.model import Config, SourceResult, StoredItem, utc_now
from feedtool.scheduler import due_at
from feedtool.store import SourceState, Store


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceReport:
    """One source: its config and what the state database says of it."""

    id: str
    title: str
    url: str
    interval: int  # seconds
    state: str  # new (never checked), ok, failing, broken, degraded
    last_check: datetime | None
    last_success: datetime | None
    next_check: datetime  # UTC; a source never checked is due now
    last_items_at: datetime | None  # when a run last yielded items
    items: int
    new_last_run: int
    last_error: str | None
    warning: str | None
    newest: StoredItem | None  # the newest stored entry, when asked for


def reports(config: Config, *, newest: bool = False) -> tuple[list[SourceReport], str | None]:
    """Every configured source, in config order, and a problem with the state (None if
    none). Without a readable database every source is "new": the page still lists them."""
    try:
        store = Store.open_existing(config.settings.state_dir)
    except StateError as e:
        return [_report(config, i, None, None) for i in range(len(config.sources))], str(e)
    if store is None:
        return [_report(config, i, None, None) for i in range(len(config.sources))], None
    with store:
        states = {state.id: state for state in store.sources()}
        found = []
        for i, source in enumerate(config.sources):
            state = states.get(source.id)
            top = store.items(source.id, 1) if newest and state is not None else []
            found.append(_report(config, i, state, top[0] if top else None))
    return found, None


def _report(
    config: Config, index: int, state: SourceState | None, newest: StoredItem | None
) -> SourceReport:
    from feedtool.status import state_of

    source = config.sources[index]
    return SourceReport(
        id=source.id,
        title=source.title or (state.title if state else None) or source.id,
        url=source.url,
        interval=source.interval,
        state=state_of(state) if state is not None and state.last_check else "new",
        last_check=state.last_check if state else None,
        last_success=state.last_success if state else None,
        next_check=due_at(source, state) or utc_now(),
        last_items_at=state.last_items_at if state else None,
        items=state.item_count if state else 0,
        new_last_run=state.new_last_run if state else 0,
        last_error=state.last_error if state else None,
        warning=state.warning if state else None,
        newest=newest,
    )


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second: what scripts parse most easily."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def status_json(report: SourceReport) -> dict[str, Any]:
    """One line of `status --json`."""
    return {
        "id": report.id,
        "title": report.title,
        "state": report.state,
        "last_check": iso(report.last_check),
        "last_success": iso(report.last_success),
        "next_check": iso(report.next_check),
        "items": report.items,
        "new": report.new_last_run,
        "last_error": report.last_error,
        "warning": report.warning,
    }


def run_json(results: Sequence[SourceResult], config: Config) -> list[dict[str, Any]]:
    """One object per source checked by a run, with when it is due next (read after the run)."""
    due = {report.id: report.next_check for report in reports(config)[0]}
    return [
        {
            "id": result.source_id,
            "status": str(result.status),
            "new": result.new,
            "updated": result.updated,
            "error": result.error,
            "duration": round(result.duration, 3),
            "next_check": iso(due.get(result.source_id)),
        }
        for result in results
    ]


def next_due(config: Config) -> tuple[str, datetime] | None:
    """The source due soonest and when: for `run` to say why it did nothing."""
    found = reports(config)[0]
    if not found:
        return None
    soonest = min(found, key=lambda report: report.next_check)
    return soonest.id, soonest.next_check
