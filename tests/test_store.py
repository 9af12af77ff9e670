"""The SQLite state: item identity across runs, updates, schema versions and transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedtool import normalize
from feedtool.errors import StateError
from feedtool.model import Changes, Health, Item, Queued, RawItem, Selectors, Source, Validators
from feedtool.store import DB_NAME, KEEP, MIGRATIONS, Keep, Outbox, Store

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


def apply(store: Store, items: list[Item], now: datetime = T0, source: Source = SOURCE) -> Changes:
    return store.apply(source, items, now=now, validators=Validators(), title="News")


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
    with pytest.raises(StateError, match="newer feedtool"):  # as status and opml read it
        Store.open_existing(tmp_path)


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


# --- bounded state: keep_items and tombstones --------------------------------------------------

KEEP_3 = Source(id="news", url=PAGE, keep_items=3)


def dated(n: int) -> Item:
    """Item n, published on day n of December 2024: a higher n is newer."""
    return item(f"Item {n}", f"/news/{n}/", f"{n:02d}.12.2024")


def titles(store: Store) -> list[str]:
    return [s.title for s in store.items("news", 100)]


def alert_each_new_item(changes: Changes) -> list[Queued]:
    return [
        Queued(target="t", kind="item", subject=i.key, payload={"title": i.title})
        for i in changes.new
    ]


def test_a_source_keeps_its_newest_items_and_a_pruned_one_coming_back_is_not_new(
    store: Store,
) -> None:
    def run(items: list[Item], now: datetime) -> Changes:
        return store.apply(
            KEEP_3,
            items,
            now=now,
            validators=Validators(),
            title="News",
            notifications=alert_each_new_item,
        )

    run([dated(1), dated(2), dated(3)], T0)
    run([dated(2), dated(3), dated(4), dated(5)], T0 + HOUR)
    assert titles(store) == ["Item 5", "Item 4", "Item 3"]
    queued = store.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]

    back = run([dated(n) for n in range(1, 6)], T0 + 2 * HOUR)

    assert (back.new, back.updated, back.seen) == ((), (), 5)
    assert titles(store) == ["Item 5", "Item 4", "Item 3"]
    assert store.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == queued == 5
    assert store.known_keys("news", [dated(1).key, dated(2).key]) == {dated(1).key, dated(2).key}
    state = store.source("news")
    assert state is not None
    assert state.item_count == 3


def test_pruning_follows_the_feed_order_date_then_first_seen_then_place_on_page(
    store: Store,
) -> None:
    same_day = [item(f"Item {n}", f"/news/{n}/") for n in "abcd"]
    apply(store, same_day, T0, KEEP_3)
    assert titles(store) == ["Item a", "Item b", "Item c"]  # d, last on the page, went

    apply(store, [item("Item e", "/news/e/")], T0 + HOUR, KEEP_3)  # same date, seen later
    assert titles(store) == ["Item e", "Item a", "Item b"]


def test_a_pending_notification_of_a_pruned_item_is_still_delivered(store: Store) -> None:
    keep_1 = Source(id="news", url=PAGE, keep_items=1)
    store.apply(
        keep_1,
        [dated(1)],
        now=T0,
        validators=Validators(),
        title="News",
        notifications=alert_each_new_item,
    )
    apply(store, [dated(2)], T0 + HOUR, keep_1)
    assert titles(store) == ["Item 2"]

    due = Outbox(store).due(T0 + 2 * HOUR)

    assert [(p.kind, p.payload) for p in due] == [("item", {"title": "Item 1"})]


def test_tombstones_are_capped_and_a_key_still_on_the_page_is_never_forgotten(
    store: Store,
) -> None:
    keep_1 = Source(id="news", url=PAGE, keep_items=1)  # so 10 tombstones
    for n in range(1, 12):  # 11 items: 1 kept, 10 tombstones
        apply(store, [dated(n)], T0 + n * HOUR, keep_1)
    apply(store, [dated(12), dated(1)], T0 + 12 * HOUR, keep_1)  # 1 shows up again
    apply(store, [dated(13)], T0 + 13 * HOUR, keep_1)

    known = store.known_keys(keep_1.id, [dated(n).key for n in range(1, 14)])

    # 12 pruned, 10 tombstones kept: the two oldest by last sighting are forgotten, not 1
    assert {n for n in range(1, 14) if dated(n).key not in known} == {2, 3}
    assert [i.title for i in apply(store, [dated(2)], T0 + 14 * HOUR, keep_1).new] == ["Item 2"]


# --- the hot path at scale ---------------------------------------------------------------------


def test_a_runs_store_work_reads_by_index_only(store: Store) -> None:
    """No statement of a run's store work scans a table: its cost must not grow with the
    number of items other sources hold. Dedupe is one query per page."""
    apply(store, [dated(n) for n in range(1, 6)], T0, Source(id="other", url=PAGE))
    apply(store, [dated(n) for n in range(1, 21)], T0, KEEP_3)
    page = [dated(n) for n in range(2, 22)]  # 1 new, 2 kept, 17 pruned earlier
    statements: list[str] = []

    store.db.set_trace_callback(statements.append)
    store.source("news")
    store.known_keys("news", [i.key for i in page])
    changes = apply(store, page, T0 + HOUR, KEEP_3)
    store.items("news", 50)
    store.sources()  # status: every source with its item count
    store.db.set_trace_callback(None)

    assert (len(changes.new), changes.seen) == (1, 19)
    assert sum("content_hash FROM items" in sql for sql in statements) == 2
    plans = {
        sql: [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        for sql in statements
        if sql.split()[0].upper() not in ("BEGIN", "COMMIT", "PRAGMA")
    }
    assert any("DELETE FROM items" in sql for sql in plans)  # pruning was part of it
    slow = {
        sql: plan
        for sql, plan in plans.items()
        # status lists all sources (SCAN s): what matters is that it counts by index
        if any((d.startswith("SCAN") and not d.startswith("SCAN s ")) or "TEMP" in d for d in plan)
    }
    assert slow == {}


# --- server hints and learned selectors --------------------------------------------------------


def not_before(store: Store) -> datetime | None:
    state = store.source("news")
    assert state is not None
    return state.not_before


def test_not_before_is_stored_by_every_outcome_and_none_clears_it(store: Store) -> None:
    store.record_failure(SOURCE, "HTTP 429", T0, not_before=T0 + 2 * HOUR)
    assert not_before(store) == T0 + 2 * HOUR
    store.record_not_modified(SOURCE, T0 + 2 * HOUR, Health(), not_before=T0 + 3 * HOUR)
    assert not_before(store) == T0 + 3 * HOUR
    store.record_not_modified(SOURCE, T0 + 3 * HOUR, Health())
    assert not_before(store) is None
    store.apply(
        SOURCE, [], now=T0 + 4 * HOUR, validators=Validators(), title=None, not_before=T0 + 5 * HOUR
    )
    assert not_before(store) == T0 + 5 * HOUR
    apply(store, [], T0 + 5 * HOUR)
    assert not_before(store) is None
    store.record_failure(SOURCE, "timed out", T0 + 6 * HOUR)
    assert not_before(store) is None


def learned(store: Store) -> Selectors | None:
    state = store.source("news")
    assert state is not None
    return state.learned


def test_learned_selectors_are_set_kept_and_cleared(store: Store) -> None:
    found = Selectors(item=".news-item", title="h3", link="a@href", date_format="%d.%m.%Y")

    def run(value: Selectors | Keep | None) -> None:
        store.apply(SOURCE, [], now=T0, validators=Validators(), title=None, learned=value)

    run(found)
    assert learned(store) == found
    apply(store, [])  # the default is KEEP
    run(KEEP)
    assert learned(store) == found
    run(None)
    assert learned(store) is None

    store.set_learned("news", found)
    assert learned(store) == found
    store.set_learned("news", None)
    assert learned(store) is None


def test_learned_selectors_that_no_longer_fit_the_model_are_forgotten(store: Store) -> None:
    apply(store, [])
    store.db.execute("UPDATE sources SET learned = ?", ('{"item": ".x", "gone": "a"}',))
    assert learned(store) is None


# --- upgrades and concurrency ------------------------------------------------------------------

SHIPPED = 4  # the schema of the last release without pruning


def test_a_database_of_an_older_feedtool_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / DB_NAME)
    for script in MIGRATIONS[:SHIPPED]:
        old.executescript(script)
    old.executescript(f"""
        PRAGMA user_version = {SHIPPED};
        INSERT INTO sources (id, url, title, etag, initialized, unpublished)
            VALUES ('news', '{PAGE}', 'News', '"v1"', 1, 0);
        INSERT INTO notifications
            (target, source_id, kind, subject, payload, created, next_attempt)
            VALUES ('t', 'news', 'item', 'k1', '{{"title": "Item 1"}}', '{T0.isoformat()}',
                    '{T0.isoformat()}');
    """)
    for n in (1, 2, 3):
        i = dated(n)
        old.execute(
            "INSERT INTO items (source_id, key, link, title, published, date_inferred, updated,"
            " first_seen, position, content_hash) VALUES ('news', ?, ?, ?, ?, 0, ?, ?, 0, ?)",
            (i.key, i.link, i.title, i.published.isoformat(), i.published.isoformat(),
             T0.isoformat(), i.content_hash),
        )  # fmt: skip
    old.commit()
    old.close()

    with Store.open(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        state = store.source("news")
        assert state is not None
        assert (state.title, state.validators.etag, state.initialized) == ("News", '"v1"', True)
        assert (state.item_count, state.not_before, state.learned) == (3, None, None)
        assert titles(store) == ["Item 3", "Item 2", "Item 1"]
        assert [p.payload for p in Outbox(store).due(T0)] == [{"title": "Item 1"}]

        keep_2 = Source(id="news", url=PAGE, keep_items=2)
        changes = apply(store, [dated(n) for n in (1, 2, 3, 4)], T0 + HOUR, keep_2)

        assert [i.title for i in changes.new] == ["Item 4"]
        assert titles(store) == ["Item 4", "Item 3"]
        assert apply(store, [dated(1)], T0 + 2 * HOUR, keep_2).new == ()
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_stores_opened_by_eight_threads_at_once_all_write(tmp_path: Path) -> None:
    """Each worker thread opens its own Store on a new database: migrations do not race and
    concurrent writers wait for each other instead of failing."""
    workers = 8
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            with Store.open(tmp_path) as store:
                source = Source(id=f"s{n}", url=f"https://s{n}.example/", keep_items=5)
                for run in range(6):
                    page = [dated(d) for d in range(1, 3 + run)]
                    store.apply(
                        source,
                        page,
                        now=T0 + run * HOUR,
                        validators=Validators(),
                        title=f"S{n}",
                        notifications=alert_each_new_item,
                    )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with Store.open(tmp_path) as store:
        states = store.sources()
        assert [s.id for s in states] == [f"s{n}" for n in range(workers)]
        assert {(s.title, s.item_count) for s in states} == {(s.title, 5) for s in states}
        assert store.known_keys("s0", [dated(n).key for n in range(1, 8)]) == {
            dated(n).key for n in range(1, 8)
        }
        assert store.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 7 * workers
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_new_database_another_connection_holds_is_waited_for(tmp_path: Path) -> None:
    """SQLite refuses to switch a database to WAL at once while another connection has it
    locked, without its busy timeout; opening the Store waits instead."""
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, other.execute, ("ROLLBACK",))
    release.start()
    try:
        with Store.open(tmp_path) as store:
            assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        release.join()
        other.close()


def test_a_state_time_damaged_by_hand_reads_as_unknown(store: Store) -> None:
    store.record_not_modified(SOURCE, T0, Health())
    store.db.execute("UPDATE sources SET last_check = 'garbage', not_before = '2024-13-45'")
    [state] = store.sources()
    assert (state.last_check, state.not_before) == (None, None)
