"""The hand-written listing layouts and what counts as detecting one of their items right.

Shared by tests/test_detect.py and benchmarks/eval_detect.py, so both judge alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedtool.model import RawItem
from feedtool.normalize import parse_date

LAYOUTS = Path(__file__).parent / "data" / "layouts"
LAYOUT_NAMES = sorted(p.name for p in LAYOUTS.iterdir() if p.is_dir())
# relative dates ("2 hours ago") in the layouts are read against one fixed clock
CLOCK = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def same_date(found: str | None, expected: str | None) -> bool:
    """The same text, or text that reads as the same moment give or take the day.

    `<time datetime="2024-12-11T09:00:00Z">11 December 2024</time>` may be reported by
    either form: both publish the same day.
    """
    if expected is None or found == expected:
        return True
    found_at, expected_at = parse_date(found, CLOCK), parse_date(expected, CLOCK)
    return (
        found_at is not None
        and expected_at is not None
        and abs(found_at - expected_at) < timedelta(days=1)
    )


def is_correct(found: RawItem, expected: dict[str, str | None]) -> bool:
    """Same link, same title (whitespace aside) and the same date when one is expected."""
    return (
        found.link == expected["link"]
        and collapse(found.title) == collapse(expected["title"])
        and same_date(found.date, expected.get("date"))
    )
