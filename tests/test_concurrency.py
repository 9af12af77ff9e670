"""Sources checked at the same time: bounded by the slowest, identical output, quiet for cron."""

from __future__ import annotations

import os
import pickle
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser

from feedtool import config
from feedtool.cli import main
from feedtool.extract.syntax import SelectorError
from feedtool.pipeline import Offload
from feedtool.runner import Runner
from feedtool.store import Store
from tests.conftest import Site, html_source, listing, news_items, write_config

FEEDTOOL = [sys.executable, "-m", "feedtool"]


def _sources(site: Site, count: int, **page: object) -> str:
    return "".join(
        html_source(f"s{n}", site.page(f"/s{n}/news/", listing(news_items(5, start=n)), **page))
        for n in range(count)
    )


def test_slow_sources_are_waited_for_at_the_same_time(site: Site, tmp_path: Path) -> None:
    path = write_config(
        tmp_path, _sources(site, 8, delay=0.8), settings="workers = 8\nhost_connections = 8"
    )
    started = time.monotonic()
    assert main(["-c", str(path), "run"]) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"8 sources of 0.8 s each took {elapsed:.1f}s: not concurrent"
    for n in range(8):
        feed = feedparser.parse((tmp_path / "public" / f"s{n}.atom.xml").read_bytes())
        assert not feed.bozo
        assert len(feed.entries) == 5


def test_one_worker_checks_one_source_at_a_time(site: Site, tmp_path: Path) -> None:
    path = write_config(tmp_path, _sources(site, 3, delay=0.4), settings="workers = 1")
    started = time.monotonic()
    assert main(["-c", str(path), "run"]) == 0
    assert time.monotonic() - started >= 1.2


def test_the_process_pool_publishes_what_inline_work_publishes(site: Site, tmp_path: Path) -> None:
    body = _sources(site, 6)
    outputs = []
    for name, offload_after in (("inline", None), ("pool", 0)):
        folder = tmp_path / name
        folder.mkdir()
        cfg = config.load(write_config(folder, body))
        with Runner(cfg, offload_after=offload_after) as runner:
            results = runner.run(cfg.sources, due_only=False)
            assert runner.offload.started == (offload_after is not None)
        assert [r.source_id for r in results] == [f"s{n}" for n in range(6)]
        assert all(r.new == 5 for r in results)
        outputs.append({p.name: p.read_bytes() for p in sorted((folder / "public").iterdir())})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 18


def test_a_cron_run_prints_nothing_when_all_is_well(site: Site, tmp_path: Path) -> None:
    path = write_config(tmp_path, _sources(site, 6))
    run = subprocess.run(
        [*FEEDTOOL, "-c", str(path), "run"], capture_output=True, text=True, timeout=60
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_a_run_on_a_terminal_shows_progress(site: Site, tmp_path: Path) -> None:
    path = write_config(tmp_path, _sources(site, 6, delay=0.3), settings="workers = 2")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*FEEDTOOL, "-c", str(path), "run"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the run is over
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    text = shown.decode(errors="replace")
    assert "checking s" in text
    assert "/6" in text


def test_a_page_whose_bytes_change_but_not_its_items_leaves_the_feeds_alone(
    site: Site, tmp_path: Path
) -> None:
    page = listing(news_items(5))
    path = write_config(tmp_path, html_source("news", site.page("/news/", page)))
    assert main(["-c", str(path), "run"]) == 0
    for n in range(3):  # an ad or a timestamp changes: new bytes, the same items
        site.page("/news/", page + f"<!-- served at {n} -->")
        assert main(["-c", str(path), "run", "--force"]) == 0
        with Store.open(tmp_path / "state") as store:
            state = store.source("news")
            assert state is not None
            assert not state.unpublished  # nothing to write again, on this run or the next


def test_a_selector_error_crosses_from_a_pool_process_intact() -> None:
    error = SelectorError("div[", "invalid CSS selector", "Expected ']'")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.problem) == (str(error), error.problem)


def test_pool_workers_leave_ctrl_c_to_the_run_and_a_broken_pool_is_given_up() -> None:
    offload = Offload(after=0, size=1)
    try:
        offload.count()
        assert offload.started
        assert offload.call(signal.getsignal, signal.SIGINT) == signal.SIG_IGN
        assert offload.call(os._exit, 1) is None  # the worker died: the caller works inline
        assert not offload.started
        offload.count()  # and no new pool is started for the rest of the run
        assert offload.call(len, "abc") is None
    finally:
        offload.close()
