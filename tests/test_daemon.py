"""`feedtool daemon` and the run lock, as users run them: subprocesses against a local site."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from filelock import FileLock

from tests.conftest import Site, html_source, listing, news_items, write_config


class Daemon:
    """A `feedtool daemon` subprocess logging to a file; killed at teardown if still alive."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log_path = config.parent / "daemon.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command(config, "daemon"),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the heartbeat exists: the signal handlers are installed by then."""
        heartbeat = self.config.parent / "state" / "daemon.heartbeat"
        assert wait_until(heartbeat.exists, timeout), self.log()

    def stop(self, timeout: float = 5.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log.close()


@pytest.fixture
def daemons() -> Iterator[Callable[[Path], Daemon]]:
    started: list[Daemon] = []

    def start(config: Path) -> Daemon:
        daemon = Daemon(config)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "feedtool", "--config", str(config), *args]


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def config(site: Site, tmp_path: Path) -> Path:
    site.page("/news/", listing(news_items(3)))
    return write_config(tmp_path, html_source("news", site.url + "/news/", 'interval = "1h"'))


def test_daemon_checks_each_source_on_its_own_interval(
    daemons: Callable[[Path], Daemon], site: Site, tmp_path: Path
) -> None:
    site.page("/fast/", listing(news_items(3)))
    site.page("/slow/", listing(news_items(3)))
    config = write_config(
        tmp_path,
        html_source("fast", site.url + "/fast/", 'interval = "1s"')
        + html_source("slow", site.url + "/slow/", 'interval = "3s"'),
    )  # write_config sets retries = 0: one request per check
    daemon = daemons(config)
    daemon.wait_ready()
    time.sleep(4.0)
    fast, slow = len(site.hits("/fast/")), len(site.hits("/slow/"))

    assert (tmp_path / "state" / "daemon.heartbeat").exists()
    assert daemon.proc.poll() is None, daemon.log()
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 5

    assert fast >= 3, (fast, slow)
    assert 1 <= slow <= 3, (fast, slow)
    assert fast > slow
    assert (tmp_path / "public" / "fast.atom.xml").exists()
    log = daemon.log()
    assert "fast: ok" in log
    assert "Traceback" not in log


def test_sighup_with_a_broken_config_keeps_the_daemon_running(
    daemons: Callable[[Path], Daemon], config: Path
) -> None:
    daemon = daemons(config)
    daemon.wait_ready()
    config.write_text("[settings\nthis is not TOML", encoding="utf-8")

    daemon.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "config not reloaded" in daemon.log(), 5), daemon.log()
    time.sleep(1.5)

    assert daemon.proc.poll() is None, daemon.log()
    [line] = [line for line in daemon.log().splitlines() if "config not reloaded" in line]
    assert "ERROR" in line
    assert daemon.stop() == 0


def test_a_run_beside_the_daemon_steps_aside(
    daemons: Callable[[Path], Daemon], config: Path, site: Site
) -> None:
    daemon = daemons(config)
    daemon.wait_ready()
    assert wait_until(lambda: len(site.hits("/news/")) == 1, 5)  # the daemon's first check

    started = time.monotonic()
    result = subprocess.run(
        command(config, "run", "--force"), capture_output=True, text=True, timeout=20
    )

    assert result.returncode == 0
    assert "another run" in result.stderr
    assert time.monotonic() - started < 5
    assert len(site.hits("/news/")) == 1  # interval 1h: only the daemon's own check
    assert daemon.stop() == 0


def test_a_run_while_the_lock_is_held_does_nothing(
    config: Path, site: Site, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    lock = FileLock(state / "feedtool.lock")
    with lock.acquire(timeout=0):
        started = time.monotonic()
        result = subprocess.run(
            command(config, "run", "--force"), capture_output=True, text=True, timeout=20
        )
        elapsed = time.monotonic() - started
        files = sorted(p.name for p in state.iterdir())

    assert result.returncode == 0
    assert "another run" in result.stderr
    assert result.stdout == ""
    assert elapsed < 5
    assert site.requests == []
    assert files == ["feedtool.lock"]
    assert not (tmp_path / "public").exists()
