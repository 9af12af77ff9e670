"""Faults around a run: kill -9 at many points, a full disk, a database another process locks.

Real `feedtool run` processes against a local site and webhook; no test-only code path in
feedtool: kill points come from a fixed-seed schedule of delays, a full disk from
RLIMIT_FSIZE (with SIGXFSZ ignored, so a write fails with EFBIG as on a full disk).
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feedtool.cli import main
from tests.conftest import Site, Webhook, html_source, listing, write_config
from tests.feedcheck import parse_clean

KILL_POINTS = 14
SEED = 20261127


def items(count: int) -> list[tuple[str, str, str]]:
    """`count` items, newest first; item i keeps its title and link whatever `count` is."""
    return [
        (f"{1 + i % 28:02d}.{1 + i // 28 % 12:02d}.2024", f"Item {i:03d}", f"/news/{i}/")
        for i in reversed(range(count))
    ]


def feedtool(config: Path, *args: str, limit: int | None = None) -> subprocess.Popen[str]:
    def preexec() -> None:
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.Popen(
        [sys.executable, "-m", "feedtool", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=preexec,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "feedtool.sqlite3"


def query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(database(tmp_path))) as db:
        return db.execute(sql).fetchall()


def test_kill_9_at_many_points_loses_and_duplicates_nothing(
    site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    webhook.delay = 0.03  # deliveries take a little time, so some kills land among them
    notify = f'[[notify]]\nurl = "{webhook.target()}"\nmax_per_run = 1000\n'
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/", "notify_initial = true") + notify
    )
    # How long one whole run takes here (interpreter start included): the kill window.
    site.page("/news/", listing(items(2)))
    started = time.monotonic()
    assert finish(feedtool(config, "run", "--force"))[0] == 0
    window = time.monotonic() - started

    schedule = random.Random(SEED)
    runs: list[tuple[int, int]] = []  # (exit code, posts received when it had ended)
    for point in range(KILL_POINTS):
        site.page("/news/", listing(items(4 + 2 * point)))  # two new items each time
        process = feedtool(config, "run", "--force")
        time.sleep(schedule.uniform(0.3, 1.1) * window)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        time.sleep(0.2)  # a post cut off by the kill is recorded by now
        runs.append((process.returncode, len(webhook.posts)))
    for _ in range(2):  # then runs that are let finish deliver what is pending
        code, err = finish(feedtool(config, "run", "--force"))
        assert code == 0, err
        runs.append((code, len(webhook.posts)))

    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    expected = {f"Item {i:03d}" for i in range(4 + 2 * (KILL_POINTS - 1))}
    stored = [title for (title,) in query(tmp_path, "SELECT title FROM items")]
    assert sorted(stored) == sorted(expected)  # none lost, none twice
    # Delivery is at least once: an alert is sent again only when the run sending it was
    # killed before it could record it as sent, so every delivery of an alert but its last is
    # the last post of a killed run.
    killed_last_posts = {ended - 1 for code, ended in runs if code == -signal.SIGKILL and ended}
    deliveries: dict[str, list[int]] = {}
    for number, post in enumerate(webhook.posts):
        if post.status < 300:
            deliveries.setdefault(str(post.body["title"]).rpartition(": ")[2], []).append(number)
    assert set(deliveries) == expected  # every alert delivered...
    for title, numbers in deliveries.items():  # ...and again only after a kill cut it off
        assert set(numbers[:-1]) <= killed_last_posts, (title, numbers, runs)
    killed = sum(code == -signal.SIGKILL for code, _ in runs)
    again = sum(len(numbers) - 1 for numbers in deliveries.values())
    print(f"\n{KILL_POINTS} kill points ({killed} killed mid-run), {len(deliveries)} alerts, "
          f"{again} sent again, window {window:.2f}s")  # fmt: skip


def big_items(count: int, start: int = 0) -> str:
    """A listing whose titles are all "<": Atom and RSS write each as "&lt;", so the feeds
    are about four times the size of the database holding the same items."""
    rows = "".join(
        f'<div class="news-item"><div class="news-date">{1 + i % 28:02d}.12.2024</div>'
        f'<a class="news-title" href="/news/{i}/">{"&lt;" * 900} {i}</a>'
        f'<div class="news-preview">{i}</div></div>'
        for i in reversed(range(start, start + count))
    )
    return f"<html><body>{rows}</body></html>"


def sizes(tmp_path: Path) -> tuple[int, int]:
    feeds = min(
        (tmp_path / "public" / f"news{s}").stat().st_size for s in (".atom.xml", ".rss.xml")
    )
    return database(tmp_path).stat().st_size, feeds


def test_a_full_disk_while_writing_the_feeds_keeps_the_old_ones_and_the_items(
    site: Site, tmp_path: Path
) -> None:
    site.page("/news/", big_items(40))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "run"]) == 0
    db_size, feed_size = sizes(tmp_path)
    assert feed_size > 1.5 * db_size, (db_size, feed_size)  # room for a limit in between
    before = (tmp_path / "public" / "news.atom.xml").read_bytes()

    site.page("/news/", big_items(41))
    code, err = finish(feedtool(config, "run", "--force", limit=(db_size + feed_size) // 2))
    assert code == 1
    assert err.count("\n") == 1, err
    assert "cannot write feeds" in err
    assert "File too large" in err
    assert (tmp_path / "public" / "news.atom.xml").read_bytes() == before  # old feed intact
    assert not list((tmp_path / "public").glob(".*.tmp"))
    assert query(tmp_path, "SELECT COUNT(*) FROM items") == [(41,)]  # the new item kept

    assert finish(feedtool(config, "run", "--force"))[0] == 0  # room again: published
    assert len(parse_clean((tmp_path / "public" / "news.atom.xml").read_bytes()).entries) == 41


def test_a_full_disk_during_the_commit_stores_nothing_half(site: Site, tmp_path: Path) -> None:
    site.page("/news/", big_items(2))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "run"]) == 0
    db_size = database(tmp_path).stat().st_size

    site.page("/news/", big_items(200))  # far more than the limit leaves room for
    code, err = finish(feedtool(config, "run", "--force", limit=db_size + 64 * 1024))
    assert code == 1
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    assert query(tmp_path, "SELECT COUNT(*) FROM items") == [(2,)]  # all or nothing

    assert finish(feedtool(config, "run", "--force"))[0] == 0
    assert query(tmp_path, "SELECT COUNT(*) FROM items") == [(200,)]


def test_a_database_locked_by_another_process_is_one_line_and_loses_nothing(
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import feedtool.store

    monkeypatch.setattr(feedtool.store, "BUSY_TIMEOUT", 1.0)  # the real wait is 30 s
    site.page("/news/", listing(items(2)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "run"]) == 0
    site.page("/news/", listing(items(5)))
    capsys.readouterr()

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
         "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
         str(database(tmp_path))],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        assert main(["--config", str(config), "run", "--force"]) == 1
    finally:
        holder.kill()
        holder.communicate()
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "database is locked" in err

    assert main(["--config", str(config), "run", "--force"]) == 0
    assert query(tmp_path, "SELECT COUNT(*) FROM items") == [(5,)]
