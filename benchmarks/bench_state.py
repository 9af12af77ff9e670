"""The state database at scale: does a source's store work in a run grow with what others hold?

    python benchmarks/bench_state.py                     # 1,000 items vs 1,000,000
    python benchmarks/bench_state.py --items 200000      # a smaller big case
    python benchmarks/bench_state.py --repeat 200        # more samples per figure

For each size it builds a state database in a temporary folder holding that many items, spread
over sources of --per-source items each (1000, the default keep_items: every source is full, so
every new item also prunes one), written straight into the tables in one transaction. Then, on
a fresh Store as a run opens it, it times what a run does with the store for one source, each
step on its own, for --repeat sources picked at random:

    state      store.source(id): the state read that decides whether it is due
    known      store.known_keys(id, 20 keys): pagination's "anything known on this page?"
    apply      store.apply(...) of a page of 20 items, 1 of them new, with its notification
    items(50)  store.items(id, 50): what the feed files are written from

and prints the median (and 90th percentile) of each in milliseconds; then once, the status
listing of all sources with their item counts. The figures for the two sizes should match.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedtool.model import Changes, Health, Item, Queued, Source, Validators
from feedtool.store import Store, utc_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 20  # items on a listing page
SUMMARY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. " * 3


def source(n: int, keep: int) -> Source:
    return Source(id=f"source-{n:05d}", url=f"https://site{n}.example/news/", keep_items=keep)


def item(s: Source, i: int) -> Item:
    """Item i of a source: a higher i is newer (published i minutes after T0)."""
    title = f"News {i} of {s.id}: the council met and decided on the budget"
    return Item(
        key=f"site.example/{s.id}/news/{i}/",
        title=title,
        link=f"https://site.example/{s.id}/news/{i}/",
        published=T0 + timedelta(minutes=i),
        date_inferred=False,
        summary=SUMMARY,
        content_hash=hashlib.sha256(title.encode()).hexdigest()[:16],
    )


def build(state_dir: Path, total: int, per_source: int) -> list[Source]:
    """A state database of `total` items in full sources, as if each had run many times."""
    count = max(1, total // per_source)
    sources = [source(n, per_source) for n in range(count)]
    now = utc_text(T0 + timedelta(days=30))

    with Store.open(state_dir) as store:
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO sources (id, url, title, initialized, unpublished, last_check,"
                " last_success) VALUES (?, ?, ?, 1, 0, ?, ?)",
                [(s.id, s.url, s.id, now, now) for s in sources],
            )
            db.executemany(
                "INSERT INTO items (source_id, key, link, title, summary, published,"
                " date_inferred, updated, first_seen, position, content_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?)",
                item_rows(sources, per_source),
            )
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sources


def item_rows(sources: list[Source], per_source: int) -> Iterator[tuple[str | None, ...]]:
    for s in sources:
        for i in range(per_source):
            it = item(s, i)
            published = utc_text(it.published)
            # updated and first seen when published, at the top of the page: one item a run
            yield (s.id, it.key, it.link, it.title, it.summary, published, published, published,
                   it.content_hash)  # fmt: skip


def alerts(changes: Changes) -> list[Queued]:
    return [
        Queued(target="bench", kind="item", subject=i.key, payload={"title": i.title})
        for i in changes.new
    ]


def measure(state_dir: Path, sources: list[Source], per_source: int, repeat: int) -> None:
    timings: dict[str, list[float]] = {"state": [], "known": [], "apply": [], "items(50)": []}
    rng = random.Random(1)
    added = {s.id: 0 for s in sources}

    @contextmanager
    def timed(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        timings[name].append((time.perf_counter() - started) * 1000)

    with Store.open(state_dir) as store:  # a fresh connection, as a run opens it
        for run in range(repeat):
            s = rng.choice(sources)
            added[s.id] += 1
            newest = per_source - 1 + added[s.id]  # one new item on top of the page
            page = [item(s, i) for i in range(newest, newest - PAGE, -1)]
            with timed("state"):
                store.source(s.id)
            with timed("known"):
                store.known_keys(s.id, [i.key for i in page])
            with timed("apply"):
                store.apply(
                    s,
                    page,
                    now=T0 + timedelta(days=31, minutes=run),
                    validators=Validators(etag=f'"{run}"'),
                    title=s.id,
                    health=Health(),
                    notifications=alerts,
                )
            with timed("items(50)"):
                store.items(s.id, 50)
        started = time.perf_counter()
        states = store.sources()
        listing = (time.perf_counter() - started) * 1000
        assert all(state.item_count == per_source for state in states), "pruning failed"

    total = len(sources) * per_source
    figures = ", ".join(
        f"{name} {statistics.median(values):.2f} ms"
        f" (p90 {statistics.quantiles(values, n=10)[-1]:.2f})"
        for name, values in timings.items()
    )
    print(f"{total} items: {figures}", flush=True)
    print(f"{total} items: status listing of {len(states)} sources {listing:.1f} ms", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=1_000_000, help="items of the big case")
    parser.add_argument("--per-source", type=int, default=1000, help="items (keep_items) each")
    parser.add_argument("--repeat", type=int, default=100, help="sources timed per size")
    args = parser.parse_args(argv)
    for total in (args.per_source, args.items):
        with tempfile.TemporaryDirectory(prefix="bench-state-") as folder:
            started = time.perf_counter()
            sources = build(Path(folder), total, args.per_source)
            size = (Path(folder) / "feedtool.sqlite3").stat().st_size / 2**20
            print(
                f"{len(sources) * args.per_source} items: built in"
                f" {time.perf_counter() - started:.1f} s, {size:.0f} MiB",
                flush=True,
            )
            measure(Path(folder), sources, args.per_source, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
