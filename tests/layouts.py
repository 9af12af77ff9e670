"""The listing pages detection is judged on, and what counts as detecting their items right.

- The hand-written layouts (tests/data/layouts): an item is right with its link, title and date.
- Saved real listings (../shared/real-listings beside the repository, read in place, never
  copied): an item is right with its link, compared as feedtool compares links.

Shared by tests/test_detect.py, tests/test_detect_real.py and benchmarks/eval_detect.py, so all
judge alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feedtool import normalize
from feedtool.extract.html import Page
from feedtool.model import RawItem, Selectors, Source
from feedtool.normalize import canonical_link, link_identity, parse_date

LAYOUTS = Path(__file__).parent / "data" / "layouts"
LAYOUT_NAMES = sorted(p.name for p in LAYOUTS.iterdir() if p.is_dir())
REAL_LISTINGS = Path(__file__).resolve().parent.parent.parent / "shared" / "real-listings"
# relative dates ("2 hours ago") in the layouts are read against one fixed clock
CLOCK = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def same_date(found: str | None, expected: str | None, found_format: str | None = None) -> bool:
    """The same text, or text that reads as the same moment give or take the day.

    `<time datetime="2024-12-11T09:00:00Z">11 December 2024</time>` may be reported by
    either form: both publish the same day. `found_format` is the strptime format a pinned
    source reads the found text with (Selectors.date_format), as normalize would.
    """
    if expected is None or found == expected:
        return True
    found_at, expected_at = parse_date(found, CLOCK, found_format), parse_date(expected, CLOCK)
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


def load_layout(name: str) -> tuple[Page, dict[str, Any]]:
    """A layout's page, parsed as feedtool parses a fetched page, and its expected.json."""
    folder = LAYOUTS / name
    spec = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    page = Page.parse((folder / "page.html").read_bytes(), None, "text/html", spec["base_url"])
    return page, spec


def real_listing_folders(directory: Path = REAL_LISTINGS) -> list[Path]:
    return sorted(p for p in directory.iterdir() if (p / "expected.json").is_file())


def load_real_listing(folder: Path) -> tuple[Page, dict[str, Any]]:
    """A saved page, decoded with the charset it was served with, and its expected.json."""
    spec = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    _, _, charset = spec.get("content_type", "").partition("charset=")
    body = (folder / "page.html").read_bytes()
    return Page.parse(body, charset.strip() or None, "text/html", spec["url"]), spec


def link_key(link: str, base: str) -> str:
    """A link as feedtool compares them: no scheme, "www.", trailing slash or fragment."""
    return link_identity(canonical_link(link, base) or link)


@dataclass(frozen=True, slots=True)
class Score:
    expected: int
    found: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 1.0


def score_real_listing(spec: dict[str, Any], items: Sequence[RawItem]) -> Score:
    """Found items against a real page's expected ones, by link.

    Links listed as `optional` (a featured teaser of another kind, a link two rows share) are
    neither required nor counted against precision.
    """
    url = spec["url"]
    optional = {link_key(link, url) for link in spec.get("optional", ())}
    expected = {link_key(item["link"], url) for item in spec["items"]} - optional
    found = {link_key(item.link, url) for item in items if item.link} - optional
    return Score(len(expected), len(found), len(found & expected))


def wrong_dates(
    spec: dict[str, Any], items: Sequence[RawItem], select: Selectors | None = None
) -> tuple[int, list[str]]:
    """How many found items have an expected date, and those normalize dates otherwise.

    Dates are read as a run reads them: normalize.item with the source's selectors (their
    date_format) when pinned, with none for a source left to detection.
    """
    url = spec["url"]
    expected = {link_key(i["link"], url): i["date"] for i in spec["items"] if i.get("date")}
    source = Source(id="page", url=url, type="html" if select else "auto", select=select)
    checked, wrong = 0, []
    for raw in items:
        day = expected.get(link_key(raw.link, url)) if raw.link else None
        if day is None:
            continue
        checked += 1
        item = normalize.item(raw, source=source, page_url=url, now=CLOCK, require_link=True)
        got = item.published.date().isoformat() if item and not item.date_inferred else None
        if got != day:
            wrong.append(f"{raw.link}: {raw.date!r} read as {got}, expected {day}")
    return checked, wrong


def expected_selectors(spec: dict[str, Any]) -> Selectors:
    """The hand-written selectors of a real listing's expected.json, with its date_format."""
    return Selectors(**spec["select"], date_format=spec.get("date_format"))
