"""Automatic detection on saved real listing pages nobody on this project wrote.

The pages are read in place from ../shared/real-listings beside the repository (never copied
into it); without that folder these tests are skipped. Items are matched by link, as feedtool
compares links. The floors are the Beautiful Soup detector's means (0.89 precision, 0.83
recall, 15 of 19 pages perfect): detection may get better, never worse.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import pytest

from feedtool.extract.detect import detect
from tests.layouts import (
    REAL_LISTINGS,
    Score,
    collapse,
    load_real_listing,
    real_listing_folders,
    score_real_listing,
)

pytestmark = pytest.mark.skipif(not REAL_LISTINGS.is_dir(), reason=f"no {REAL_LISTINGS}")

MIN_MEAN_PRECISION = 0.89
MIN_MEAN_RECALL = 0.83
MIN_PERFECT = 15

FOLDERS = real_listing_folders() if REAL_LISTINGS.is_dir() else []


def _score(folder: Path) -> Score:
    page, spec = load_real_listing(folder)
    return score_real_listing(spec, detect(page.root, spec["url"]).items)


def test_means_are_at_least_the_baseline() -> None:
    scores = {folder.name: _score(folder) for folder in FOLDERS}
    assert len(scores) >= 19
    report = {name: (round(s.precision, 2), round(s.recall, 2)) for name, s in scores.items()}
    assert fmean(s.precision for s in scores.values()) >= MIN_MEAN_PRECISION, report
    assert fmean(s.recall for s in scores.values()) >= MIN_MEAN_RECALL, report
    perfect = sum(s.precision == s.recall == 1.0 for s in scores.values())
    assert perfect >= MIN_PERFECT, report


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_pinned_selectors_extract_the_detected_items(folder: Path) -> None:
    """The suggested selectors, remembered and re-used on a fresh parse, give the same items."""
    page, spec = load_real_listing(folder)
    detection = detect(page.root, spec["url"])
    if detection.selectors is None:
        return
    again, _ = load_real_listing(folder)

    extracted = again.extract(detection.selectors).items

    assert [(i.link, collapse(i.title)) for i in extracted] == [
        (i.link, i.title) for i in detection.items
    ]
