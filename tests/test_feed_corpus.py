"""Feed extraction on the feed corpus: the test feeds of feedparser, the W3C feed validator,
feed-rs, gofeed, RSParser and reader, read in place from ../shared/feed-corpus (never copied
into the repository); without that folder these tests are skipped.

The whole corpus (about 1,500 files) runs once per session on two processes, as
`python benchmarks/eval_feeds.py` does; see its docstring for what is measured.
"""

from __future__ import annotations

import pytest

from benchmarks.eval_feeds import CORPUS, TARGET_RECALL, Summary, evaluate_all, summarize

pytestmark = pytest.mark.skipif(
    not (CORPUS / "manifest.json").is_file(), reason=f"no feed corpus at {CORPUS}"
)


@pytest.fixture(scope="module")
def summary() -> Summary:
    return summarize(evaluate_all(CORPUS, jobs=2))


def test_every_file_was_read(summary: Summary) -> None:
    assert summary.files > 1000


def test_entry_recall_against_feedparser(summary: Summary) -> None:
    lossy = [f"{r.file}: {r.lost} of {r.expected}" for r in summary.lossy[:20]]
    assert summary.recall >= TARGET_RECALL, lossy


def test_no_file_crashes(summary: Summary) -> None:
    assert not summary.crashes, [f"{r.file}: {r.crash}" for r in summary.crashes]


def test_every_output_is_valid_and_stable(summary: Summary) -> None:
    assert not summary.invalid, [f"{r.file}: {r.invalid}" for r in summary.invalid]


def test_no_duplicate_entry_ids(summary: Summary) -> None:
    assert not summary.duplicates, [r.file for r in summary.duplicates]
