"""The SQLite state: item identity across runs, updates, schema versions and transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedtool import normalize
from feedtool.errors import StateError
from feedtool.model import Changes, Health, Item, Queued, RawItem, Source, Validators
from feedtool.store import DB_NAME, MIGRATIONS, Store

PAGE = "https://example.org/news/"
SOURCE = Source(id="news", url=PAGE)
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def item(
    title: str | None,
    link: str | None,
    date: str | None = "23.12.2024",
    *,
    now: datetime = T0,
    summary: str | None = None,
) -> Item:
    """An Item exactly as the pipeline builds it from what the page showed."""
    raw = RawItem(title=title, link=link, date=date, summary=summary)
    result = normalize.item(raw, source=SOURCE, page_url=PAGE, now=now, require_link=True)
    assert result is not None
    return result


def apply(store: Store, items: list[Item], now: datetime = T0) -> Changes:
    return store.apply(SOURCE, items, now=now, validators=Validators(), title="News")


def rows(store: Store) -> list[sqlite3.Row]:
    return store.db.execute("SELECT * FROM items ORDER BY key").fetchall()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        yield opened


# --- identity ----------------------------------------------------------------------------------


def test_same_article_with_noisy_title_and_link_is_one_stored_item(store: Store) -> None:
    first = apply(store, [item("Council meets in Minsk", "/news/council-meets/")])

    sightings = [
        item("  Council   meets\n in Minsk ", "/news/council-meets/?utm_source=telegram"),
        item("Council meets in Minsk", "https://www.example.org/news/council-meets"),
        item("Council meets in Minsk", "http://example.org/news/council-meets/#comments"),
        item("Council\u00a0meets in Minsk", "http://www.example.org/news/council-meets?fbclid=1"),
    ]
    later = [apply(store, [sighting], T0 + (n + 1) * HOUR) for n, sighting in enumerate(sightings)]

    assert len(first.new) == 1
    assert [len(changes.new) for changes in later] == [0, 0, 0, 0]
    assert len({s.key for s in sightings}) == 1
    stored = store.items("news", 10)
    assert len(stored) == 1
    assert stored[0].title == "Council meets in Minsk"
    assert stored[0].first_seen == T0


def test_changed_title_updates_the_row_in_place(store: Store) -> None:
    apply(store, [item("Council meets", "/news/1/"), item("Other news", "/news/2/")])
    before = {s.key: s for s in store.items("news", 10)}

    later = T0 + 5 * HOUR
    changes = apply(
        store, [item("Council meets: corrected", "/news/1/"), item("Other news", "/news/2/")], later
    )

    assert [c.title for c in changes.updated] == ["Council meets: corrected"]
    assert (changes.new, changes.seen) == ((), 1)
    after = {s.key: s for s in store.items("news", 10)}
    assert len(after) == 2
    key = item("x", "/news/1/").key
    assert after[key].title == "Council meets: corrected"
    assert after[key].updated == later
    assert after[key].updated > before[key].updated
    assert after[key].first_seen == before[key].first_seen == T0
    assert after[key].published == before[key].published
    untouched = item("x", "/news/2/").key
    assert after[untouched] == before[untouched]


def test_item_that_drops_off_the_page_and_returns_is_not_new(store: Store) -> None:
    a, b, c = (item(f"Item {n}", f"/news/{n}/") for n in "abc")
    apply(store, [a, b, c])
    gone = apply(store, [a, c], T0 + HOUR)
    back = apply(store, [a, b, c], T0 + 2 * HOUR)

    assert (gone.new, gone.updated, gone.seen) == ((), (), 2)
    assert (back.new, back.updated, back.seen) == ((), (), 3)
    assert len(rows(store)) == 3


def test_same_key_twice_in_one_batch_is_stored_once(store: Store) -> None:
    featured = item("Top story", "/news/top/?utm_medium=featured")
    listed = item("Top story", "https://example.org/news/top/")
    assert featured.key == listed.key

    changes = apply(store, [featured, listed, item("Next", "/news/next/")])

    assert len(changes.new) == 2
    assert len(rows(store)) == 2


def test_apply_reports_new_updated_seen_and_first_run(store: Store) -> None:
    one, two = item("One", "/news/1/"), item("Two", "/news/2/")
    first = apply(store, [one, two])
    assert first.first_run is True
    assert [i.title for i in first.new] == ["One", "Two"]
    assert (first.updated, first.seen) == ((), 0)

    second = apply(store, [item("Three", "/news/3/"), item("One (updated)", "/news/1/"), two])
    assert second.first_run is False
    assert [i.title for i in second.new] == ["Three"]
    assert [i.title for i in second.updated] == ["One (updated)"]
    assert second.seen == 1

    third = apply(store, [])
    assert (third.new, third.updated, third.seen, third.first_run) == ((), (), 0, False)
    state = store.source("news")
    assert state is not None
    assert (state.item_count, state.new_last_run, state.initialized) == (3, 0, True)


def test_first_run_stays_true_until_a_run_succeeds(store: Store) -> None:
    store.record_failure(SOURCE, "HTTP 503", T0)
    assert apply(store, [item("One", "/news/1/")]).first_run is True
    assert apply(store, [item("One", "/news/1/")]).first_run is False


def test_inferred_date_keeps_the_first_seen_time_when_the_item_changes(store: Store) -> None:
    apply(store, [item("Undated", "/news/u/", None, now=T0)])
    later = T0 + 3 * HOUR
    apply(store, [item("Undated, edited", "/news/u/", None, now=later)], later)

    (stored,) = store.items("news", 10)
    assert (stored.title, stored.published, stored.date_inferred) == ("Undated, edited", T0, True)


# --- schema and database -----------------------------------------------------------------------


def test_schema_version_is_current_and_reopening_keeps_the_data(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        apply(store, [item("Kept", "/news/kept/")])

    with Store.open(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [s.title for s in store.items("news", 10)] == ["Kept"]
        assert apply(store, [item("Kept", "/news/kept/")]).first_run is False


def test_database_from_a_newer_feedtool_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    with Store.open(tmp_path):
        pass
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 3}")
    db.close()

    with pytest.raises(StateError, match="newer feedtool"):
        Store.open(tmp_path)


def test_wal_mode_is_on(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_failure_inside_a_transaction_rolls_everything_back(store: Store) -> None:
    apply(store, [item("Before", "/news/before/")])

    def fail_halfway() -> None:
        with store.transaction() as db:
            db.execute("INSERT INTO sources (id, url) VALUES ('other', 'https://other.example/')")
            db.execute("DELETE FROM items")
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        fail_halfway()

    assert [s.id for s in store.sources()] == ["news"]
    assert [s.title for s in store.items("news", 10)] == ["Before"]


def test_failure_while_applying_a_run_stores_none_of_it(store: Store) -> None:
    apply(store, [item("Before", "/news/before/")])

    def broken_notifications(changes: Changes) -> Sequence[Queued]:
        raise RuntimeError("template error")

    with pytest.raises(RuntimeError, match="template error"):
        store.apply(
            SOURCE,
            [item("New one", "/news/new/"), item("Before, edited", "/news/before/")],
            now=T0 + HOUR,
            validators=Validators(etag='"v2"'),
            title="News",
            notifications=broken_notifications,
        )

    assert [s.title for s in store.items("news", 10)] == ["Before"]
    state = store.source("news")
    assert state is not None
    assert (state.validators.etag, state.last_check) == (None, T0)
    # and the retried run still sees the new item as new
    assert [i.title for i in apply(store, [item("New one", "/news/new/")], T0 + 2 * HOUR).new] == [
        "New one"
    ]


def failures(store: Store) -> tuple[int, str | None]:
    state = store.source("news")
    assert state is not None
    return state.failures, state.last_error


def test_record_failure_counts_failures_in_a_row_and_success_resets(store: Store) -> None:
    counts = []
    for n in range(3):
        store.record_failure(SOURCE, f"HTTP 503 (try {n})", T0 + n * HOUR)
        counts.append(failures(store))
    assert counts == [(1, "HTTP 503 (try 0)"), (2, "HTTP 503 (try 1)"), (3, "HTTP 503 (try 2)")]

    apply(store, [item("Back", "/news/back/")], T0 + 4 * HOUR)
    assert failures(store) == (0, None)
    state = store.source("news")
    assert state is not None
    assert state.last_success == T0 + 4 * HOUR

    store.record_failure(SOURCE, "timed out", T0 + 5 * HOUR)
    assert failures(store) == (1, "timed out")
    store.record_not_modified(SOURCE, T0 + 6 * HOUR, Health())  # a 304 is a success too
    assert failures(store) == (0, None)
