"""SQLite state: sources, items and the notification outbox.

WAL mode, foreign keys on, schema versioned with PRAGMA user_version. Every change a run makes
to one source happens in one transaction, so a crash leaves either all of it or none.

Worker threads may each open their own Store (own connection) on the same database: readers
never wait, writers take SQLite's write lock up front (BEGIN IMMEDIATE) and queue for it for up
to 30 s, and migrations run under that lock. A source keeps at most `keep_items` items; the
keys of older ones live on as tombstones (see Store._prune) so that an item pruned from state is
still not new when it shows up again.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from feedtool.errors import StateError
from feedtool.health import Fields, Healed
from feedtool.model import (
    Changes,
    Health,
    Item,
    Pending,
    Queued,
    Selectors,
    SiteMeta,
    Source,
    StoredItem,
    Validators,
)

DB_NAME = "feedtool.sqlite3"
BUSY_TIMEOUT = 30.0  # seconds a writer waits for the write lock

# Each entry migrates from version i to i + 1; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sources (
        id            TEXT PRIMARY KEY,
        url           TEXT NOT NULL,
        title         TEXT,
        etag          TEXT,
        last_modified TEXT,
        last_check    TEXT,
        last_success  TEXT,
        last_error    TEXT,
        warning       TEXT,
        last_items_at TEXT,       -- when a run last yielded items
        failures      INTEGER NOT NULL DEFAULT 0,  -- consecutive failed runs
        new_last_run  INTEGER NOT NULL DEFAULT 0,
        initialized   INTEGER NOT NULL DEFAULT 0,  -- has had a successful run (no-flood rule)
        broken_since  TEXT,
        alerted_at    TEXT        -- last broken alert or reminder
    );
    CREATE TABLE items (
        source_id     TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        key           TEXT NOT NULL,
        link          TEXT,
        title         TEXT NOT NULL,
        summary       TEXT,
        content       TEXT,
        published     TEXT NOT NULL,
        date_inferred INTEGER NOT NULL,
        updated       TEXT NOT NULL,
        first_seen    TEXT NOT NULL,
        position      INTEGER NOT NULL,  -- place on the page when first seen: orders equal dates
        content_hash  TEXT NOT NULL,
        PRIMARY KEY (source_id, key)
    );
    CREATE INDEX items_newest ON items (source_id, published DESC, first_seen DESC);
    CREATE TABLE notifications (
        id           INTEGER PRIMARY KEY,
        target       TEXT NOT NULL,  -- a digest of the notify URL: the URL itself holds secrets
        source_id    TEXT NOT NULL,
        kind         TEXT NOT NULL,  -- item, update, broken, reminder, recovered
        subject      TEXT NOT NULL,  -- item key, or the event's time for health alerts
        payload      TEXT NOT NULL,  -- JSON: what the message needs, frozen at queue time
        created      TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        last_error   TEXT,
        delivered    TEXT,
        dropped      TEXT,
        UNIQUE (target, source_id, kind, subject)
    );
    CREATE INDEX notifications_pending ON notifications (next_attempt)
        WHERE delivered IS NULL AND dropped IS NULL;
    """,
    # Stored changes not yet in the feed files: a failed write (disk full, kill -9) must be
    # retried even when the next fetch is a 304.
    "ALTER TABLE sources ADD COLUMN unpublished INTEGER NOT NULL DEFAULT 1;",
    "ALTER TABLE sources ADD COLUMN digest TEXT;",
    "ALTER TABLE sources ADD COLUMN site_url TEXT;  -- a feed source's own website",
    # The earliest next check the server asked for (Retry-After, Cache-Control max-age).
    "ALTER TABLE sources ADD COLUMN not_before TEXT;",
    # JSON of the selectors automatic detection found: the next run need not detect again.
    "ALTER TABLE sources ADD COLUMN learned TEXT;",
    # Keys of items pruned beyond keep_items, so one that shows up again is not new.
    """
    CREATE TABLE pruned (
        source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        key       TEXT NOT NULL,
        last_seen TEXT NOT NULL,  -- when pruned, or last shown on the page since
        PRIMARY KEY (source_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX pruned_oldest ON pruned (source_id, last_seen);
    """,
    # The whole order of items() and pruning, ties included: walked, never sorted.
    """
    DROP INDEX items_newest;
    CREATE INDEX items_order ON items (source_id, published DESC, first_seen DESC, position, key);
    """,
    # The pagination config (harvest.pagination_key) the source last read all its pages with:
    # a changed one (`next` added, max_pages raised) reads them all once more.
    "ALTER TABLE sources ADD COLUMN paginated TEXT;",
    # Field health and healing (see health.py), each JSON: the fill rate of each field and
    # the fields that disappeared; selectors detection proposes for a source whose own stopped
    # matching; the detected selectors an `heal = "auto"` source uses instead of its own.
    """
    ALTER TABLE sources ADD COLUMN fields TEXT;
    ALTER TABLE sources ADD COLUMN proposal TEXT;
    ALTER TABLE sources ADD COLUMN healed TEXT;
    """,
    # What the page or feed said of its site (model.SiteMeta), republished in every feed's
    # head: kept so that a run answered 304 publishes it too.
    """
    ALTER TABLE sources ADD COLUMN language TEXT;
    ALTER TABLE sources ADD COLUMN icon TEXT;
    ALTER TABLE sources ADD COLUMN logo TEXT;
    ALTER TABLE sources ADD COLUMN site_name TEXT;
    """,
)

# Tombstones kept per source, as a multiple of its keep_items (see Store._prune).
TOMBSTONES_PER_ITEM = 10


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def utc_value(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _opt_value(text: str | None) -> datetime | None:
    """A time a source's state may lack; one damaged by hand reads as lacking, so that
    neither `run` nor `status` stops at it (the next check writes a good one)."""
    try:
        return utc_value(text) if text else None
    except ValueError:
        return None


class Keep(enum.Enum):
    """The type of KEEP."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""`Store.apply(learned=KEEP)`: leave the stored value as it is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceState:
    id: str
    url: str
    title: str | None
    site_url: str | None
    validators: Validators
    last_check: datetime | None
    last_success: datetime | None
    last_error: str | None
    warning: str | None
    last_items_at: datetime | None
    failures: int
    new_last_run: int
    initialized: bool
    health: Health
    unpublished: bool
    item_count: int
    not_before: datetime | None = None  # no check before this, the server asked
    learned: Selectors | None = None  # what automatic detection found on an earlier run
    paginated: str | None = None  # the pagination config all pages were last read with
    fields: Fields = field(
        default_factory=Fields
    )  # field fill rates of the last run with items, degraded fields
    proposal: Selectors | None = None  # what detection found after the selectors broke
    healed: Healed | None = None  # detected selectors used instead of the configured ones
    meta: SiteMeta = field(default_factory=SiteMeta)  # what the last page or feed read said


class Store:
    """The state database. Open with Store.open(state_dir); close when done."""

    def __init__(self, path: Path, *, migrate: bool = True, read_only: bool = False) -> None:
        self.path = path
        try:
            if read_only:
                self.db = _read_only(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # worker threads open a Store each, or share one making one call at a time
                self.db = sqlite3.connect(
                    path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
                )
        except (sqlite3.Error, OSError) as e:
            raise StateError(f"state database {path}: {e}") from e
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys = ON")
            if migrate:
                self._wal()
                self.db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
            elif (version := self._version()) > len(MIGRATIONS):
                raise _from_newer(path, version)
            elif version < len(MIGRATIONS):
                raise StateError(
                    f"state database {path} has schema {version}, this feedtool"
                    f" {len(MIGRATIONS)}: `feedtool run` brings it up to date"
                )
        except (sqlite3.Error, StateError) as e:
            self.db.close()
            if isinstance(e, StateError):
                raise
            raise StateError(f"state database {path}: {e}") from e

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """The state database of state_dir, created (and migrated) as needed."""
        return cls(state_dir / DB_NAME)

    @classmethod
    def open_existing(cls, state_dir: Path) -> Store | None:
        """The state database if there is one, as it is: read-only commands (status, opml)
        must neither create it nor migrate it under a daemon still running older code."""
        path = state_dir / DB_NAME
        if not path.exists():
            return None
        writable = os.access(path, os.W_OK) and os.access(state_dir, os.W_OK)
        return cls(path, migrate=False, read_only=not writable)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wal(self) -> None:
        """Switch to WAL (it sticks to the file). While a new database is still in rollback
        mode, another Store opening it at the same moment makes SQLite refuse the switch with
        "database is locked" at once, without the busy timeout: wait here instead."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self) -> None:
        """Bring the schema up to date, one migration per transaction.

        The version is read under the write lock, so two processes opening a new database
        at once do not both run the same migration.
        """
        if self._version() == len(MIGRATIONS):
            return  # the common case, without taking the write lock
        while True:
            with self.transaction():
                version = self._version()
                if version > len(MIGRATIONS):
                    raise _from_newer(self.path, version)
                if version == len(MIGRATIONS):
                    return
                for statement in _statements(MIGRATIONS[version]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    def _version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so concurrent writers wait, not fail.

        SQLite errors inside become StateError with SQLite's own words ("database or disk is
        full"); SQLite may have rolled back already, so ROLLBACK only what is still open.
        """
        try:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as e:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise StateError(f"state database {self.path}: {e}") from e
            raise

    # --- sources -------------------------------------------------------------------------------

    def source(self, source_id: str, *, counts: bool = True) -> SourceState | None:
        """The source's state; `counts=False` as for `sources`."""
        query = _SOURCE_QUERY if counts else _UNCOUNTED_QUERY
        row = self.db.execute(query + " WHERE s.id = ?", (source_id,)).fetchone()
        return _source_state(row) if row else None

    def sources(self, *, counts: bool = True) -> list[SourceState]:
        """Every source's state; `counts=False` leaves item_count at 0 and skips counting
        the stored items, which a run (or a planner) that does not show them should not pay."""
        query = _SOURCE_QUERY if counts else _UNCOUNTED_QUERY
        return [_source_state(row) for row in self.db.execute(query + " ORDER BY s.id")]

    def _ensure_source(self, source: Source) -> None:
        self.db.execute(
            "INSERT INTO sources (id, url) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET url = excluded.url",
            (source.id, source.url),
        )

    def record_not_modified(
        self,
        source: Source,
        now: datetime,
        health: Health,
        queued: Sequence[Queued] = (),
        validators: Validators | None = None,
        *,
        not_before: datetime | None = None,
    ) -> None:
        """A successful check that found the page unchanged (a 304, or the same bytes).

        `not_before`: the earliest next check the server asked for; None clears it.
        """
        with self.transaction():
            self._ensure_source(source)
            self.db.execute(
                "UPDATE sources SET last_check = ?, last_success = ?, last_error = NULL,"
                " failures = 0, new_last_run = 0, not_before = ? WHERE id = ?",
                (utc_text(now), utc_text(now), _opt_text(not_before), source.id),
            )
            if validators is not None:
                self._set_validators(source.id, validators)
            self._set_health(source.id, health)
            self._queue(source.id, queued, now)

    def record_failure(
        self,
        source: Source,
        error: str,
        now: datetime,
        health: Health | None = None,
        queued: Sequence[Queued] = (),
        *,
        not_before: datetime | None = None,
        proposal: Selectors | Keep | None = KEEP,
    ) -> None:
        """Count a failed run, with the health change and alerts it causes.

        `not_before`: the earliest next check the server asked for (a 429 or 503 with
        Retry-After); None clears it. `proposal`: selectors that would heal the source, to
        show until a run succeeds; None forgets them; KEEP (a failure that read no page) leaves
        them.
        """
        with self.transaction():
            self._ensure_source(source)
            self.db.execute(
                "UPDATE sources SET last_check = ?, last_error = ?, failures = failures + 1,"
                " new_last_run = 0, not_before = ? WHERE id = ?",
                (utc_text(now), error, _opt_text(not_before), source.id),
            )
            if health is not None:
                self._set_health(source.id, health)
            if not isinstance(proposal, Keep):
                self.db.execute(
                    "UPDATE sources SET proposal = ? WHERE id = ?",
                    (_selectors_text(proposal), source.id),
                )
            self._queue(source.id, queued, now)

    def _set_validators(self, source_id: str, validators: Validators) -> None:
        self.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, digest = ? WHERE id = ?",
            (validators.etag, validators.last_modified, validators.digest, source_id),
        )

    def set_learned(self, source_id: str, selectors: Selectors | None) -> None:
        """Remember (or, with None, forget) the selectors detected for a stored source, in a
        transaction of its own; within a run, pass `learned=` to apply instead."""
        with self.transaction():
            self._set_learned(source_id, selectors)

    def _set_learned(self, source_id: str, selectors: Selectors | None) -> None:
        text = _selectors_text(selectors)
        self.db.execute("UPDATE sources SET learned = ? WHERE id = ?", (text, source_id))

    def mark_published(self, source_id: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE sources SET unpublished = 0 WHERE id = ?", (source_id,))

    def _set_health(self, source_id: str, health: Health) -> None:
        self.db.execute(
            "UPDATE sources SET broken_since = ?, alerted_at = ? WHERE id = ?",
            (_opt_text(health.broken_since), _opt_text(health.alerted_at), source_id),
        )

    # --- items ---------------------------------------------------------------------------------

    def record_pagination(self, source_id: str, paginated: str) -> None:
        """Remember the pagination config the source has now read all its pages with.

        Its own transaction after the run's: a crash in between only repeats the backfill,
        which finds the items known.
        """
        with self.transaction():
            self.db.execute("UPDATE sources SET paginated = ? WHERE id = ?", (paginated, source_id))

    def known_keys(self, source_id: str, keys: Sequence[str]) -> set[str]:
        """Which of these item keys the source already has, pruned ones included."""
        return set(self._hashes(source_id, keys))

    def apply(
        self,
        source: Source,
        items: Sequence[Item],
        *,
        now: datetime,
        validators: Validators,
        title: str | None,
        site_url: str | None = None,
        meta: SiteMeta | None = None,
        warning: str | None = None,
        health: Health | None = None,
        notifications: Callable[[Changes], Sequence[Queued]] | None = None,
        publish: Callable[[Changes], bool] | None = None,
        not_before: datetime | None = None,
        learned: Selectors | Keep | None = KEEP,
        fields: Fields | Keep = KEEP,
        healed: Healed | Keep | None = KEEP,
    ) -> Changes:
        """Store one successful run of a source in one transaction.

        New items are inserted; known items whose content changed are updated in place (their
        first-seen time never changes); `notifications(changes)` returns the outbox rows to queue
        in the same transaction, so an item is never stored without its alerts.

        Then the source is pruned to its newest `source.keep_items` items (see _prune); a pruned
        key that shows up again counts as seen: neither new nor updated.

        `publish(changes)`: whether the feeds must be written again; if so the source counts as
        unpublished until `mark_published` (None: always). `meta`: what the page or feed said
        of its site (None: nothing), replacing what it said before. `not_before`: the earliest
        next check the server asked for; None clears it.
        `learned`: the selectors automatic detection found, to remember; None forgets them (the
        source has selectors of its own now, or is a feed); KEEP, the default, leaves them.
        `fields`: the source's field health after this run; `healed`: the detected selectors
        it uses instead of its own, None when it uses its own (both KEEP: leave them). A
        successful run forgets any proposal to heal the source.
        """
        with self.transaction():
            self._ensure_source(source)
            state = self.db.execute(
                "SELECT initialized FROM sources WHERE id = ?", (source.id,)
            ).fetchone()
            first_run = not state["initialized"]
            existing = self._hashes(source.id, [item.key for item in items])
            new: list[Item] = []
            updated: list[Item] = []
            positions: list[int] = []
            resighted: list[str] = []
            seen = 0
            for position, item in enumerate(_unique(items)):
                if item.key not in existing:
                    new.append(item)
                    positions.append(position)
                    continue
                old_hash = existing[item.key]
                if old_hash is None:
                    resighted.append(item.key)
                    seen += 1
                elif old_hash != item.content_hash:
                    self._update(source.id, item, now)
                    updated.append(item)
                else:
                    seen += 1
            self._insert(source.id, new, positions, now)
            self.db.executemany(
                "UPDATE pruned SET last_seen = ? WHERE source_id = ? AND key = ?",
                [(utc_text(now), source.id, key) for key in resighted],
            )
            self._prune(source.id, source.keep_items, now)
            changes = Changes(
                new=tuple(new), updated=tuple(updated), seen=seen, first_run=first_run
            )
            meta = meta or SiteMeta()
            self.db.execute(
                "UPDATE sources SET title = ?, site_url = ?, language = ?, icon = ?, logo = ?,"
                " site_name = ?, last_check = ?,"
                " last_success = ?, last_error = NULL, warning = ?, failures = 0,"
                " new_last_run = ?, initialized = 1,"
                " unpublished = CASE WHEN ? THEN 1 ELSE unpublished END, not_before = ?,"
                " last_items_at = CASE WHEN ? THEN ? ELSE last_items_at END WHERE id = ?",
                (
                    title,
                    site_url,
                    meta.language,
                    meta.icon,
                    meta.logo,
                    meta.site_name,
                    utc_text(now),
                    utc_text(now),
                    warning,
                    len(new),
                    publish is None or publish(changes),
                    _opt_text(not_before),
                    bool(items),
                    utc_text(now),
                    source.id,
                ),
            )
            self._set_validators(source.id, validators)
            if not isinstance(learned, Keep):
                self._set_learned(source.id, learned)
            if not isinstance(fields, Keep):
                self.db.execute(
                    "UPDATE sources SET fields = ? WHERE id = ?", (_fields_text(fields), source.id)
                )
            if not isinstance(healed, Keep):
                text = (
                    None
                    if healed is None
                    else json.dumps(
                        {
                            "old": dataclasses.asdict(healed.old),
                            "new": dataclasses.asdict(healed.new),
                        },
                        sort_keys=True,
                    )
                )
                self.db.execute("UPDATE sources SET healed = ? WHERE id = ?", (text, source.id))
            self.db.execute("UPDATE sources SET proposal = NULL WHERE id = ?", (source.id,))
            if health is not None:
                self._set_health(source.id, health)
            if notifications is not None:
                self._queue(source.id, notifications(changes), now)
            return changes

    def _hashes(self, source_id: str, keys: Sequence[str]) -> dict[str, str | None]:
        """The content hash of each stored key, None for a pruned one: one query per page
        (chunks of 400 keys keep within SQLite's old limit of 999 parameters)."""
        found: dict[str, str | None] = {}
        for start in range(0, len(keys), 400):
            chunk = list(keys[start : start + 400])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, content_hash FROM items WHERE source_id = ? AND key IN ({marks})"
                " UNION ALL"
                f" SELECT key, NULL FROM pruned WHERE source_id = ? AND key IN ({marks})",
                (source_id, *chunk, source_id, *chunk),
            )
            found.update((row[0], row[1]) for row in rows)
        return found

    def _prune(self, source_id: str, keep: int, now: datetime) -> None:
        """Delete the items beyond the newest `keep`, leaving a tombstone for each key.

        How long a tombstone lasts: a source keeps its newest TOMBSTONES_PER_ITEM * keep
        tombstones, newest by when the key was pruned or last shown on the page since (apply
        refreshes that); older ones are dropped. So an item still on the page (a pinned post
        with an old date) is never forgotten, and one that left it is forgotten only once the
        source has pruned ten times keep_items other items since: years for a source with a
        few items a day, days only for a firehose. Memory stays bounded by keep_items.

        The cost does not grow with the database: both lookups walk one source's index.
        Pending notifications of a pruned item stay deliverable: the outbox keeps its own
        payload and has no foreign key to items.
        """
        doomed = [
            (source_id, row[0])
            for row in self.db.execute(
                "SELECT key FROM items WHERE source_id = ?"
                f" ORDER BY {_ITEM_ORDER} LIMIT -1 OFFSET ?",
                (source_id, keep),
            )
        ]
        if not doomed:
            return
        self.db.executemany(
            "INSERT INTO pruned (source_id, key, last_seen) VALUES (?, ?, ?)"
            " ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen",
            [(*row, utc_text(now)) for row in doomed],
        )
        self.db.executemany("DELETE FROM items WHERE source_id = ? AND key = ?", doomed)
        self.db.execute(
            "DELETE FROM pruned WHERE source_id = ? AND key IN (SELECT key FROM pruned"
            " WHERE source_id = ? ORDER BY last_seen DESC, key DESC LIMIT -1 OFFSET ?)",
            (source_id, source_id, TOMBSTONES_PER_ITEM * keep),
        )

    def _insert(
        self, source_id: str, items: Sequence[Item], positions: Sequence[int], now: datetime
    ) -> None:
        first_seen = utc_text(now)
        self.db.executemany(
            "INSERT INTO items (source_id, key, link, title, summary, content, published,"
            " date_inferred, updated, first_seen, position, content_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    source_id,
                    item.key,
                    item.link,
                    item.title,
                    item.summary,
                    item.content,
                    utc_text(item.published),
                    item.date_inferred,
                    utc_text(item.published),
                    first_seen,
                    position,
                    item.content_hash,
                )
                for item, position in zip(items, positions, strict=True)
            ],
        )

    def _update(self, source_id: str, item: Item, now: datetime) -> None:
        """Refresh a changed item; an inferred date keeps the time it was first seen."""
        self.db.execute(
            "UPDATE items SET link = ?, title = ?, summary = ?,"
            " content = COALESCE(?, content), updated = ?, content_hash = ?,"
            " published = CASE WHEN ? THEN published ELSE ? END,"
            " date_inferred = CASE WHEN ? THEN date_inferred ELSE 0 END"
            " WHERE source_id = ? AND key = ?",
            (
                item.link,
                item.title,
                item.summary,
                item.content,
                utc_text(now),
                item.content_hash,
                item.date_inferred,
                utc_text(item.published),
                item.date_inferred,
                source_id,
                item.key,
            ),
        )

    def items(self, source_id: str, limit: int) -> list[StoredItem]:
        """The newest items of a source, as published."""
        rows = self.db.execute(
            f"SELECT * FROM items WHERE source_id = ? ORDER BY {_ITEM_ORDER} LIMIT ?",
            (source_id, limit),
        )
        return [
            StoredItem(
                source_id=row["source_id"],
                key=row["key"],
                title=row["title"],
                link=row["link"],
                published=utc_value(row["published"]),
                date_inferred=bool(row["date_inferred"]),
                updated=utc_value(row["updated"]),
                first_seen=utc_value(row["first_seen"]),
                summary=row["summary"],
                content=row["content"],
            )
            for row in rows
        ]

    # --- outbox --------------------------------------------------------------------------------

    def _queue(self, source_id: str, queued: Sequence[Queued], now: datetime) -> None:
        """Queue notifications; the UNIQUE constraint makes queuing the same one twice a no-op."""
        self.db.executemany(
            "INSERT OR IGNORE INTO notifications"
            " (target, source_id, kind, subject, payload, created, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    q.target,
                    source_id,
                    q.kind,
                    q.subject,
                    json.dumps(q.payload, ensure_ascii=False, sort_keys=True),
                    utc_text(now),
                    utc_text(now),
                )
                for q in queued
            ],
        )


def _statements(script: str) -> Iterator[str]:
    """The statements of a SQL script (executescript would commit the open transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


def _unique(items: Sequence[Item]) -> Iterator[Item]:
    """A page may show one item twice (a featured copy): the first sighting counts."""
    keys: set[str] = set()
    for item in items:
        if item.key not in keys:
            keys.add(item.key)
            yield item


def _opt_text(value: datetime | None) -> str | None:
    return utc_text(value) if value else None


# Newest first; the items_order index holds exactly this order.
_ITEM_ORDER = "published DESC, first_seen DESC, position ASC, key ASC"


_SOURCE_QUERY = (
    "SELECT s.*, (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id) AS item_count"
    " FROM sources s"
)
_UNCOUNTED_QUERY = "SELECT s.*, 0 AS item_count FROM sources s"


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that writes nothing, for a state database its reader may not write (owned
    by the daemon's user): "mode=ro" reads through the -wal and -shm files a running writer
    keeps; when there are none and none can be made, only "immutable=1" opens the file, and
    then nobody is writing it (its last writer checkpointed everything when it closed)."""
    try:
        return _opened(path, "mode=ro")
    except sqlite3.OperationalError:
        return _opened(path, "mode=ro&immutable=1")


def _opened(path: Path, options: str) -> sqlite3.Connection:
    """A connection to the database at `path` with URI `options`, known to read."""
    db = sqlite3.connect(
        f"{path.absolute().as_uri()}?{options}",
        uri=True,
        timeout=BUSY_TIMEOUT,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        db.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error:
        db.close()
        raise
    return db


def _from_newer(path: Path, version: int) -> StateError:
    return StateError(f"state database {path} is from a newer feedtool (schema {version})")


def _source_state(row: sqlite3.Row) -> SourceState:
    return SourceState(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        site_url=row["site_url"],
        validators=Validators(
            etag=row["etag"], last_modified=row["last_modified"], digest=row["digest"]
        ),
        last_check=_opt_value(row["last_check"]),
        last_success=_opt_value(row["last_success"]),
        last_error=row["last_error"],
        warning=row["warning"],
        last_items_at=_opt_value(row["last_items_at"]),
        failures=row["failures"],
        new_last_run=row["new_last_run"],
        initialized=bool(row["initialized"]),
        health=Health(
            broken_since=_opt_value(row["broken_since"]),
            alerted_at=_opt_value(row["alerted_at"]),
        ),
        unpublished=bool(row["unpublished"]),
        item_count=row["item_count"],
        not_before=_opt_value(row["not_before"]),
        learned=_selectors(row["learned"]),
        paginated=row["paginated"],
        fields=_fields(row["fields"]),
        proposal=_selectors(row["proposal"]),
        healed=_healed(row["healed"]),
        meta=SiteMeta(
            language=row["language"],
            icon=row["icon"],
            logo=row["logo"],
            site_name=row["site_name"],
        ),
    )


def _fields(text: str | None) -> Fields:
    if not text:
        return Fields()
    data = json.loads(text)
    return Fields(rates=data.get("rates", {}), degraded=frozenset(data.get("degraded", ())))


def _fields_text(fields: Fields) -> str:
    return json.dumps(
        {"rates": dict(fields.rates), "degraded": sorted(fields.degraded)}, sort_keys=True
    )


def _selectors_text(selectors: Selectors | None) -> str | None:
    if selectors is None:
        return None
    return json.dumps(dataclasses.asdict(selectors), sort_keys=True)


def _healed(text: str | None) -> Healed | None:
    """Healed selectors from their JSON; None if they no longer fit the model."""
    if not text:
        return None
    data = json.loads(text)
    old, new = _selectors(json.dumps(data.get("old"))), _selectors(json.dumps(data.get("new")))
    return Healed(old=old, new=new) if old and new else None


def _selectors(text: str | None) -> Selectors | None:
    """Learned selectors from their JSON; None if they no longer fit the model (a field
    renamed or removed since they were stored): detection then simply runs again."""
    if not text:
        return None
    try:
        return Selectors(**json.loads(text))
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxSummary:
    pending: int
    dropped: int
    delivered: int
    last_error: str | None = None


class Outbox:
    """The notification outbox of a Store: what is due, and marking what happened to it.

    Every mark is its own committed transaction, made right after the attempt, so a crash
    repeats at most the one delivery that was in flight.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def due(self, now: datetime) -> list[Pending]:
        """Notifications whose next attempt has come, grouped by target."""
        rows = self.db.execute(
            "SELECT * FROM notifications WHERE delivered IS NULL AND dropped IS NULL"
            " AND next_attempt <= ? ORDER BY target, id",
            (utc_text(now),),
        )
        return [
            Pending(
                id=row["id"],
                target=row["target"],
                source_id=row["source_id"],
                kind=row["kind"],
                payload=json.loads(row["payload"]),
                created=utc_value(row["created"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def delivered(self, ids: Sequence[int], now: datetime) -> None:
        self._mark("delivered = ?", [utc_text(now)], ids)

    def failed(self, retries: Sequence[tuple[int, datetime]], error: str) -> None:
        """Count a failed attempt for each (id, when to try again), in one transaction."""
        with self.store.transaction():
            self.db.executemany(
                "UPDATE notifications SET attempts = attempts + 1, last_error = ?,"
                " next_attempt = ? WHERE id = ?",
                [
                    (error, utc_text(retry_at), notification_id)
                    for notification_id, retry_at in retries
                ],
            )

    def dropped(self, ids: Sequence[int], reason: str, now: datetime) -> None:
        self._mark("dropped = ?, last_error = ?", [utc_text(now), reason], ids)

    def _mark(self, assignments: str, values: list[Any], ids: Sequence[int]) -> None:
        with self.store.transaction():
            self.db.executemany(
                f"UPDATE notifications SET {assignments} WHERE id = ?",
                [(*values, notification_id) for notification_id in ids],
            )

    def summary(self) -> OutboxSummary:
        """Counts for `status`, and the latest delivery error."""
        row = self.db.execute(
            "SELECT"
            " COUNT(*) FILTER (WHERE delivered IS NULL AND dropped IS NULL) AS pending,"
            " COUNT(*) FILTER (WHERE dropped IS NOT NULL) AS dropped,"
            " COUNT(*) FILTER (WHERE delivered IS NOT NULL) AS delivered"
            " FROM notifications"
        ).fetchone()
        error = self.db.execute(
            "SELECT last_error FROM notifications"
            " WHERE delivered IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return OutboxSummary(
            pending=row["pending"],
            dropped=row["dropped"],
            delivered=row["delivered"],
            last_error=error[0] if error else None,
        )
