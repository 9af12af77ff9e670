"""Source health: when a source counts as broken or degraded, and which alerts that sends.

Pure: the previous state and this run's outcome in, the new state and alerts out. One alert
when a source breaks, a reminder every `remind_every` while it stays broken, one when it
recovers — never one per run.

Field health watches what a scraped page's items carry. A selector that fills no item is a
warning (a typo, or a field the page never had). A field that was filled on most items and is
now empty on all of them is the quieter death of a scraped feed — the site dropped its
summaries or moved its dates — so the source counts as *degraded*: one alert naming the field,
one when it is back, and the items keep being published meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from feedtool.model import Health, RawItem, Selectors, Source


class Alert(StrEnum):
    BROKEN = "broken"
    REMINDER = "reminder"
    RECOVERED = "recovered"
    DEGRADED = "degraded"  # a field that items used to carry disappeared
    RESTORED = "restored"  # ... and is back
    HEALED = "healed"  # the selectors stopped matching; detected ones are used instead


# The optional fields whose absence the items show (an item without a title or link is
# skipped and counted instead, and a page without any usable item fails the run).
FIELDS = ("date", "summary", "content")
WAS_FILLED = 0.5  # share of items a field must have been filled on to be missed
MIN_ITEMS = 3  # fewer items prove too little: two summary-less notices are no redesign


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


# --- field health --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Fields:
    """Per source: the share of the first page's items each field was filled on in the last
    run that had items, and the fields that disappeared (the source is degraded)."""

    rates: Mapping[str, float] = field(default_factory=dict)
    degraded: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    """What field health makes of one run: the new state, and what changed about it."""

    fields: Fields
    lost: tuple[str, ...] = ()  # fields that disappeared in this run: the degraded alert
    back: tuple[str, ...] = ()  # degraded fields filled again: the restored alert


def _filled(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def fill_rates(items: Sequence[RawItem]) -> dict[str, float]:
    """The share of `items` each field in FIELDS is filled on; {} without items."""
    if not items:
        return {}
    return {f: sum(_filled(getattr(i, f)) for i in items) / len(items) for f in FIELDS}


def field_warnings(
    selectors: Selectors | None, items: Sequence[RawItem], unmatched: Collection[str] = ()
) -> list[str]:
    """One warning per field selector that filled no item of `items` (the raw items of one
    page, as `Page.extract` gives them): 'selector summary = "p.teaser" matched no item'.

    For `run` (logged, and stored as the source's warning for `status`) and `preview`. None
    without selectors or items: a page without items is a failure of its own. `unmatched`
    names fields whose emptiness a fallback hides (Extracted.unmatched: the title).
    """
    if selectors is None or not items:
        return []
    return [
        f"selector {name} = {json.dumps(getattr(selectors, name), ensure_ascii=False)}"
        " matched no item"
        for name in ("title", *FIELDS)
        if getattr(selectors, name)
        and (
            name in unmatched
            or (name in FIELDS and not any(_filled(getattr(item, name)) for item in items))
        )
    ]


def watched(selectors: Selectors | None) -> frozenset[str]:
    """The fields a source has selectors for: only those can disappear. A field whose
    selector was removed from the config on purpose must not count as lost."""
    if selectors is None:
        return frozenset()
    return frozenset(name for name in FIELDS if getattr(selectors, name))


def assess_fields(
    before: Fields, items: Sequence[RawItem], watching: Collection[str]
) -> FieldChange:
    """Field health after a run whose first page gave `items` (raw, before filters).

    A watched field filled on at least WAS_FILLED of the items last time and on none of at
    least MIN_ITEMS items now is lost; a lost field filled on any item again is back. A field
    no longer watched leaves the degraded set quietly.
    """
    rates = fill_rates(items)
    if not rates:
        return FieldChange(fields=before)  # nothing to judge by: keep what was known
    lost = tuple(
        name
        for name in FIELDS
        if name in watching
        and name not in before.degraded
        and before.rates.get(name, 0.0) >= WAS_FILLED
        and rates[name] == 0.0
        and len(items) >= MIN_ITEMS
    )
    back = tuple(name for name in FIELDS if name in before.degraded and rates[name] > 0.0)
    degraded = (before.degraded - set(back) | set(lost)) & set(watching)
    return FieldChange(
        fields=Fields(rates=rates, degraded=frozenset(degraded)), lost=lost, back=back
    )


def degraded_notes(fields: Fields) -> list[str]:
    """How `status` shows a degraded source: "summary disappeared"."""
    return [f"{name} disappeared" for name in FIELDS if name in fields.degraded]


# --- healing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Healed:
    """Selectors detection found after the configured ones (`old`) stopped matching.

    They stand in for `old` only while the config still has `old`: once the user pins the new
    ones (`feedtool heal`) or edits the selectors, the config speaks again.
    """

    old: Selectors
    new: Selectors


def healed_in_use(source: Source, healed: Healed | None) -> Healed | None:
    """The healed selectors if they stand in for the source's configured ones now."""
    return healed if healed is not None and healed.old == source.select else None


def healed_message(old: Selectors, new: Selectors) -> str:
    """The one notification of a switch: names the old and the new item selector."""
    return (
        f"the selectors stopped matching; now using detected ones:"
        f" item = {json.dumps(new.item, ensure_ascii=False)}"
        f" (was {json.dumps(old.item, ensure_ascii=False)})"
    )
