"""What goes wrong around the sources: unwritable output, a corrupt state file, servers that
trickle, odd command lines. One line, the right exit code, nothing stored lost."""

from __future__ import annotations

import contextlib
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedtool.cli import main
from feedtool.store import Store
from tests.conftest import Site, html_source, listing, news_items, raw_server, write_config
from tests.feedcheck import parse_clean


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "run", "--force", *args])


def test_items_stored_while_output_was_unwritable_are_published_after_a_304(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(4)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    (tmp_path / "public").write_text("a file where the output folder should be")

    assert run(config) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot write feeds" in err

    (tmp_path / "public").unlink()
    assert run(config) == 0
    assert site.hits("/news/")[-1].get("If-None-Match")  # the second fetch was a 304
    atom = (tmp_path / "public" / "news.atom.xml").read_bytes()
    assert len(parse_clean(atom).entries) == 4


@pytest.fixture
def ran_once(site: Site, tmp_path: Path) -> tuple[Path, Path]:
    """A source that has had one good run: its config and its state database."""
    site.page("/news/", listing(news_items(2)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert run(config) == 0
    return config, tmp_path / "state" / "feedtool.sqlite3"


def test_a_corrupt_state_database_is_one_line_and_exit_1(
    ran_once: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = ran_once
    for leftover in database.parent.glob("feedtool.sqlite3-*"):
        leftover.unlink()  # the WAL would otherwise still hold the real pages
    database.write_bytes(b"this is not a database" * 500)
    capsys.readouterr()

    assert run(config) == 1
    assert main(["--config", str(config), "status"]) == 1

    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err.splitlines()
        == [f"feedtool: error: state database {database}: file is not a database"] * 2
    )


def trickle_body(conn: socket.socket, done: threading.Event) -> None:
    """Answers 200 at once, then sends one byte every 0.1 s for ever (bounded: 60 s)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
    deadline = time.monotonic() + 60
    while not done.wait(0.1) and time.monotonic() < deadline:
        conn.sendall(b" ")


def test_a_trickling_server_cannot_hold_a_run_past_its_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with raw_server(trickle_body) as url:
        config = write_config(tmp_path, html_source("slow", url), settings="timeout = 0.5")
        started = time.monotonic()
        assert run(config) == 1
        elapsed = time.monotonic() - started
    assert elapsed < 5
    assert "response took longer than 1.5s" in capsys.readouterr().err


def test_sigterm_stops_the_daemon_in_the_middle_of_a_slow_fetch(tmp_path: Path) -> None:
    with raw_server(trickle_body) as url:
        config = write_config(tmp_path, html_source("slow", url), settings="timeout = 20")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "feedtool", "--config", str(config), "daemon"],
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.5)  # the check has started and is stuck reading
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=5) == 0
        finally:
            daemon.kill()
            daemon.wait()


def test_preview_of_something_that_is_not_a_web_url_is_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "file:///etc/passwd"]) == 2
    assert "expected http:// or https://" in capsys.readouterr().err


def test_serve_on_a_port_in_use_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, html_source("news", "http://127.0.0.1:9/"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        assert main(["--config", str(config), "serve", "--port", port]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"feedtool: error: cannot serve on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1


def test_options_work_after_the_command_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, html_source("news", "http://127.0.0.1:9/"))
    assert main(["status", "--config", str(config), "-v"]) == 0
    assert capsys.readouterr().out.startswith("SOURCE")


def test_status_and_opml_read_without_creating_state_or_needing_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDTOOL_TEST_UNSET_TOKEN", raising=False)
    config = write_config(
        tmp_path,
        html_source("news", "http://127.0.0.1:9/news/")
        + '[[notify]]\nurl = "ntfys://${FEEDTOOL_TEST_UNSET_TOKEN}@ntfy.sh/news"\n',
    )
    assert main(["--config", str(config), "status"]) == 0
    assert main(["--config", str(config), "opml"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:2] == ["news", "new"]
    assert "<outline" in out
    assert not (tmp_path / "state").exists()
    assert main(["--config", str(config), "run"]) == 2  # sending needs the secret


def test_processes_opening_a_new_state_database_together_migrate_it_once(
    tmp_path: Path,
) -> None:
    code = (
        "import sys, pathlib; from feedtool.store import Store; "
        "Store.open(pathlib.Path(sys.argv[1])).close()"
    )
    for attempt in range(5):
        state = tmp_path / f"state-{attempt}"
        openers = [
            subprocess.Popen([sys.executable, "-c", code, str(state)], stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        errors = [p.communicate(timeout=60)[1] for p in openers]
        assert [p.returncode for p in openers] == [0, 0, 0], errors


def test_a_state_dir_that_cannot_be_made_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, html_source("news", "http://127.0.0.1:9/"))
    (tmp_path / "state").write_text("a file where the state folder should be")
    assert run(config) == 1
    err = capsys.readouterr().err
    assert err == f"feedtool: error: state_dir {tmp_path / 'state'} is a file, not a folder\n"


def test_a_full_disk_is_reported_in_sqlites_words_and_nothing_half_stored(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from feedtool.errors import StateError
    from feedtool.model import Item, Source, Validators
    from feedtool.store import Store

    source = Source(id="news", url="http://example.org/")
    now = datetime(2026, 11, 27, tzinfo=UTC)
    items = [
        Item(key=f"k{i}", title="x" * 2000, link=None, published=now, date_inferred=False,
             content_hash=str(i))
        for i in range(200)
    ]  # fmt: skip
    with Store.open(tmp_path) as store:
        store.db.execute("PRAGMA max_page_count = 40")  # a disk that fills up
        with pytest.raises(StateError, match="database or disk is full"):
            store.apply(source, items, now=now, validators=Validators(), title=None)
        assert store.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
        assert not store.db.in_transaction


def test_status_reads_an_older_schema_without_upgrading_it(
    ran_once: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = ran_once
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA user_version = 3")
    capsys.readouterr()

    assert main(["--config", str(config), "status"]) == 1
    assert "`feedtool run` brings it up to date" in capsys.readouterr().err
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3


@contextlib.contextmanager
def _unwritable(*paths: Path) -> Iterator[None]:
    """The paths made immutable, which even root cannot write (chattr +i: root, ext4-like)."""
    if subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode:
        pytest.skip("needs chattr +i: root on a file system that has it")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_status_and_opml_read_a_state_they_cannot_write(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a user other than the daemon's reads it: with the daemon's database open (its
    -wal holding the newest run) and with the daemon stopped."""
    url = site.page("/news/", listing(news_items(3)))
    config = write_config(tmp_path, html_source("news", url))
    assert run(config) == 0
    state = tmp_path / "state"
    with Store.open(state) as writer:  # a daemon: its last run only in the -wal so far
        writer.db.execute("PRAGMA wal_autocheckpoint = 0")
        site.page("/news/", listing(news_items(5)))
        assert run(config, "--force") == 0
        with _unwritable(state):
            capsys.readouterr()
            assert main(["--config", str(config), "status"]) == 0
            assert main(["--config", str(config), "opml"]) == 0
            out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:2] == ["news", "ok"]
    assert " 5 " in out.splitlines()[1]  # the newest run's items, read through the -wal
    with _unwritable(state, state / "feedtool.sqlite3"):  # the daemon stopped: no -wal
        assert main(["--config", str(config), "status"]) == 0
        assert " 5 " in capsys.readouterr().out.splitlines()[1]


@pytest.mark.parametrize("host", ["", " ", "http://127.0.0.1", "[::1]"])
def test_serve_refuses_a_host_that_is_no_name_or_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    """An empty host would listen on every interface: never by accident."""
    config = write_config(tmp_path, html_source("news", "http://127.0.0.1:9/"))
    for command in (["serve"], ["daemon", "--serve"]):
        assert main(["--config", str(config), *command, "--host", host]) == 2
        err = capsys.readouterr().err
        assert (
            err
            == f"feedtool: error: argument --host: invalid host {host!r} (a name or an address)\n"
        )
