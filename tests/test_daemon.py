"""`feedtool daemon` and the run lock, as users run them: subprocesses against a local site."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from filelock import FileLock

from feedtool.store import Store
from tests.conftest import Site, Webhook, html_source, listing, news_items, write_config

# `feedtool daemon` with a shorter heartbeat period than its 30 s (argv[1]), so that tests can
# watch the heartbeat file move within seconds
SHORT_HEARTBEAT = (
    "import sys; from feedtool import daemon, cli;"
    " daemon.Daemon.HEARTBEAT_EVERY = float(sys.argv[1]); sys.exit(cli.main(sys.argv[2:]))"
)


class Daemon:
    """A `feedtool daemon` subprocess logging to a file; killed at teardown if still alive."""

    def __init__(self, config: Path, heartbeat_every: float | None = None) -> None:
        self.config = config
        self.log_path = config.parent / "daemon.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        args = command(config, "daemon")
        if heartbeat_every is not None:
            args[1:3] = ["-c", SHORT_HEARTBEAT, str(heartbeat_every)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._log)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the heartbeat exists: the signal handlers are installed by then."""
        heartbeat = self.config.parent / "state" / "daemon.heartbeat"
        assert wait_until(heartbeat.exists, timeout), self.log()

    def stop(self, timeout: float = 5.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def cpu_seconds(self) -> float:
        """User and system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        [line] = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        return int(line.split()[1]) / 1024

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log.close()


class Silent:
    """A server on 127.0.0.1 that accepts connections and never answers a byte: a hung host.

    It records when each connection came and closes them all at teardown."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/news/"
        self.accepted: list[float] = []  # time.monotonic() of each connection
        self._connections: list[socket.socket] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            self._connections.append(connection)
            self.accepted.append(time.monotonic())

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        for connection in self._connections:
            connection.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


@pytest.fixture
def daemons() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, heartbeat_every: float | None = None) -> Daemon:
        daemon = Daemon(config, heartbeat_every)
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
    daemons: Callable[..., Daemon], site: Site, tmp_path: Path
) -> None:
    site.page("/fast/", listing(news_items(3)))
    site.page("/slow/", listing(news_items(3)))
    config = write_config(
        tmp_path,
        html_source("fast", site.url + "/fast/", 'interval = "2s"')
        + html_source("slow", site.url + "/slow/", 'interval = "5s"'),
    )  # write_config sets retries = 0: one request per check
    daemon = daemons(config)
    daemon.wait_ready()
    assert wait_until(lambda: bool(site.hits("/fast/")), 5), daemon.log()
    time.sleep(6.5)  # fast: at 0, 2, 4, 6 s; slow: at 0, 5 s (due times are whole seconds)
    fast, slow = len(site.hits("/fast/")), len(site.hits("/slow/"))

    assert (tmp_path / "state" / "daemon.heartbeat").exists()
    assert daemon.proc.poll() is None, daemon.log()
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 5

    assert fast in (3, 4), (fast, slow, daemon.log())
    assert slow == 2, (fast, slow, daemon.log())
    assert (tmp_path / "public" / "fast.atom.xml").exists()
    log = daemon.log()
    assert "fast: ok" in log
    assert "Traceback" not in log


def test_sighup_with_a_broken_config_keeps_the_daemon_running(
    daemons: Callable[..., Daemon], config: Path
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
    daemons: Callable[..., Daemon], config: Path, site: Site
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


def test_a_hung_host_delays_neither_other_sources_nor_the_heartbeat(
    daemons: Callable[..., Daemon], site: Site, silent: Silent, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(3)))
    config = write_config(
        tmp_path,
        html_source("stuck", silent.url, 'interval = "1s"')
        + html_source("news", site.url + "/news/", 'interval = "1s"'),
        settings="timeout = 2",
    )
    heartbeat = tmp_path / "state" / "daemon.heartbeat"
    daemon = daemons(config, heartbeat_every=0.2)
    daemon.wait_ready()
    assert wait_until(lambda: bool(silent.accepted), 5), daemon.log()

    hung_until = silent.accepted[0] + 1.8  # the read timeout ends the hang at 2 s
    checks_before = len(site.hits("/news/"))
    beats = set()
    while time.monotonic() < hung_until:
        beats.add(heartbeat.stat().st_mtime_ns)
        time.sleep(0.05)
    checks_during = len(site.hits("/news/")) - checks_before

    assert len(beats) >= 4, daemon.log()  # ~9 heartbeats in 1.8 s
    assert checks_during >= 1, daemon.log()  # interval 1 s: one or two checks while it hangs
    assert wait_until(lambda: "stuck: failed" in daemon.log(), 5), daemon.log()
    assert daemon.stop() == 0
    log = daemon.log()
    assert "timed out" in log
    assert "news: ok" in log
    assert "Traceback" not in log


def test_sigterm_while_a_fetch_hangs_exits_at_once(
    daemons: Callable[..., Daemon], silent: Silent, tmp_path: Path
) -> None:
    config = write_config(tmp_path, html_source("stuck", silent.url), settings="timeout = 20")
    daemon = daemons(config)
    daemon.wait_ready()
    assert wait_until(lambda: bool(silent.accepted), 5), daemon.log()
    time.sleep(0.3)  # well into the hang

    started = time.monotonic()
    assert daemon.stop(timeout=10) == 0
    assert time.monotonic() - started < 3, daemon.log()
    log = daemon.log()
    assert "stuck: stopped in the middle of its check" in log
    assert "Traceback" not in log
    with Store.open(tmp_path / "state") as store:
        state = store.source("stuck")
    assert state is None or state.last_check is None  # nothing of the abandoned fetch stored


def test_two_hundred_sources_then_idle(
    daemons: Callable[..., Daemon], site: Site, tmp_path: Path
) -> None:
    count = 200
    sources = ""
    for n in range(count):
        site.page(f"/s{n}/", listing(news_items(3)))
        sources += html_source(f"s{n}", f"{site.url}/s{n}/", 'interval = "1h"')
    config = write_config(tmp_path, sources)
    daemon = daemons(config)
    daemon.wait_ready()
    started = time.monotonic()

    def checked() -> int:
        return daemon.log().count(": ok, 3 new")

    assert wait_until(lambda: checked() == count, 20), checked()
    first_cycle = time.monotonic() - started
    time.sleep(0.5)
    cpu = daemon.cpu_seconds()
    time.sleep(3)
    idle_cpu = daemon.cpu_seconds() - cpu
    rss = daemon.rss_mb()

    assert first_cycle < 10, first_cycle
    assert idle_cpu <= 0.03, idle_cpu  # asleep: no tick, nothing due for an hour
    assert rss < 100, rss
    assert len(site.requests) == count  # each source once
    assert daemon.stop() == 0
    print(f"first cycle {first_cycle:.2f}s, idle CPU {idle_cpu:.3f}s in 3 s, RSS {rss:.0f} MB")


def test_sighup_waits_for_a_hung_check_then_watches_the_new_sources(
    daemons: Callable[..., Daemon], site: Site, silent: Silent, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(3)))
    stuck = html_source("stuck", silent.url, 'interval = "1h"')
    config = write_config(tmp_path, stuck, settings="timeout = 2")
    daemon = daemons(config)
    daemon.wait_ready()
    assert wait_until(lambda: bool(silent.accepted), 5), daemon.log()
    write_config(tmp_path, stuck + html_source("news", site.url + "/news/"), settings="timeout = 2")

    daemon.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "config reloaded, 2 sources" in daemon.log(), 5), daemon.log()
    assert wait_until(lambda: bool(site.hits("/news/")), 5), daemon.log()

    log = daemon.log()
    assert log.index("stuck: failed") < log.index("config reloaded")  # its check was let end
    assert len(silent.accepted) == 1  # and not started again: due in an hour
    assert daemon.stop() == 0


def test_notifications_go_out_right_after_the_check(
    daemons: Callable[..., Daemon], site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(2)))
    config = write_config(
        tmp_path,
        html_source("news", site.url + "/news/", "notify_initial = true")
        + f'\n[[notify]]\nurl = "{webhook.target()}"\n',
    )
    daemon = daemons(config)
    daemon.wait_ready()

    assert webhook.wait_for(2, timeout=5), daemon.log()  # not on the 60 s timer
    assert daemon.stop() == 0
    assert len(webhook.messages()) == 2
