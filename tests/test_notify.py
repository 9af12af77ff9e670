"""Alerts: new items, failing endpoints, crashes, concurrent runs, source health, secrets.

Every notification goes through Apprise to a real local webhook (`json://127.0.0.1:<port>`).
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedtool import config as config_module
from feedtool.cli import main
from feedtool.runner import run_all
from tests.conftest import Site, Webhook, html_source, listing, news_items, write_config
from tests.feedcheck import parse_clean

# Apprise's e-mail plugin imports the deprecated stdlib imghdr: not ours to fix.

TOKEN = "tok-Zq8xV3pL9wK2mN7r"


def fresh(count: int, start: int = 0) -> list[tuple[str, str, str]]:
    """`count` items newer than news_items(), with titles and links of their own."""
    return [
        (f"{31 - i:02d}.12.2024", f"Fresh story {i}", f"/news/news_odkb/fresh-{i}/")
        for i in range(start, start + count)
    ]


def notify_block(url: str, extra: str = "") -> str:
    return f'\n[[notify]]\nurl = "{url}"\n{extra}\n'


def run(config: Path, *options: str) -> int:
    return main(["--config", str(config), *options, "run", "--force"])


def status(config: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "status"]) == 0
    return out.getvalue()


def status_row(config: Path, source_id: str) -> str:
    return next(line for line in status(config).splitlines() if line.startswith(source_id + " "))


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "feedtool", "--config", str(config), *args]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def run_at(config: Path, clock: Clock) -> None:
    run_all(config_module.load(config), force=True, clock=clock)


@pytest.fixture
def news(site: Site, webhook: Webhook, tmp_path: Path) -> Path:
    """One source of 5 items, one notify target on the webhook."""
    site.page("/news/", listing(news_items(5)))
    return write_config(
        tmp_path,
        html_source("news", site.url + "/news/", 'title = "Test news"') + notify_block(webhook.url),
    )


# --- new items -----------------------------------------------------------------------------


def test_only_a_new_item_is_notified_and_only_once(
    news: Path, site: Site, webhook: Webhook
) -> None:
    assert run(news) == 0
    assert webhook.posts == []  # a first run records what is there: no flood

    site.page("/news/", listing(fresh(1) + news_items(5)))
    assert run(news) == 0
    [body] = webhook.delivered()
    assert "Fresh story 0" in body["title"]
    assert "Fresh story 0" in body["message"]
    assert f"{site.url}/news/news_odkb/fresh-0/" in body["message"]

    assert run(news) == 0
    assert len(webhook.posts) == 1


def test_a_failing_endpoint_queues_the_alert_and_a_later_run_delivers_it_once(
    news: Path, site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    assert run(news) == 0
    site.page("/news/", listing(fresh(1) + news_items(5)))
    webhook.status = 500

    assert run(news) == 0  # the run itself succeeded; the notification waits in the outbox

    assert webhook.posts  # it was tried
    assert webhook.delivered() == []
    entries = parse_clean((tmp_path / "public" / "news.atom.xml").read_bytes()).entries
    assert entries[0].title == "Fresh story 0"
    assert "1 pending" in status(news)

    webhook.status = 200
    assert run(news) == 0
    assert ["Fresh story 0" in m for m in webhook.messages()] == [True]

    assert run(news) == 0
    assert len(webhook.delivered()) == 1
    assert "1 delivered, 0 pending" in status(news)


def test_kill_9_during_delivery_repeats_at_most_the_message_in_flight(
    news: Path, site: Site, webhook: Webhook
) -> None:
    assert run(news) == 0
    site.page("/news/", listing(fresh(5) + news_items(5)))
    webhook.delay = 0.4
    proc = subprocess.Popen(
        command(news, "run", "--force"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert webhook.wait_for(2, timeout=15)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    time.sleep(0.5)  # let the handler that was answering the dead process finish
    in_flight = str(webhook.posts[-1].body["title"])
    assert len(webhook.posts) < 5  # the kill did interrupt the delivery
    webhook.delay = 0.0

    assert run(news) == 0

    titles = Counter(str(body["title"]) for body in webhook.delivered())
    assert sorted(titles) == sorted(f"Test news: Fresh story {i}" for i in range(5))
    assert {title for title, n in titles.items() if n > 1} <= {in_flight}
    assert max(titles.values()) <= 2


def test_two_runs_started_together_store_and_notify_each_item_once(
    news: Path, site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    assert run(news) == 0
    site.page("/news/", listing(fresh(3) + news_items(5)))

    procs = [
        subprocess.Popen(
            command(news, "run", "--force"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for proc in procs:
        proc.communicate(timeout=30)
        assert proc.returncode == 0

    entries = parse_clean((tmp_path / "public" / "news.atom.xml").read_bytes()).entries
    assert len(entries) == 8
    assert len({e.id for e in entries}) == 8
    assert len({e.link for e in entries}) == 8
    titles = Counter(str(body["title"]) for body in webhook.delivered())
    assert titles == Counter(f"Test news: Fresh story {i}" for i in range(3))


# --- source health -------------------------------------------------------------------------


def test_selectors_that_stop_matching_alert_once_and_recovery_alerts_once(
    news: Path, site: Site, webhook: Webhook
) -> None:
    page = listing(news_items(5))
    assert run(news) == 0
    site.page("/news/", "<html><body><p>We moved our news.</p></body></html>")

    assert run(news) == 1
    [broken] = webhook.delivered()
    assert "broken" in str(broken["message"])

    assert run(news) == 1
    assert len(webhook.delivered()) == 1

    site.page("/news/", page)
    assert run(news) == 0
    assert len(webhook.delivered()) == 2
    assert "works again" in str(webhook.delivered()[1]["message"])
    assert run(news) == 0
    assert len(webhook.delivered()) == 2


def test_a_404_source_breaks_after_broken_after_failures_and_is_reminded(
    site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, html_source("gone", site.url + "/missing/") + notify_block(webhook.url)
    )
    clock = Clock()

    for _ in range(2):
        run_at(config, clock)
        clock.advance(minutes=30)
    assert webhook.posts == []
    assert status_row(config, "gone").split()[1] == "failing"

    run_at(config, clock)
    [alert] = webhook.messages()
    assert "broken" in alert
    assert "404" in alert
    row = status_row(config, "gone")
    assert row.split()[1] == "broken"
    assert "HTTP 404" in row

    clock.advance(hours=23)
    run_at(config, clock)
    assert len(webhook.delivered()) == 1

    clock.advance(hours=2)  # past remind_every (1d) since the alert
    run_at(config, clock)
    assert len(webhook.delivered()) == 2
    assert "still broken" in webhook.messages()[1]
    run_at(config, clock)
    assert len(webhook.delivered()) == 2


# --- message shapes and routing ------------------------------------------------------------


@pytest.mark.parametrize("option", ["digest = true", "max_per_run = 2"])
def test_many_new_items_become_one_digest(
    option: str, site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(5)))
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/") + notify_block(webhook.url, option)
    )
    assert run(config) == 0
    site.page("/news/", listing(fresh(3) + news_items(5)))

    assert run(config) == 0

    [message] = webhook.messages()
    for i in range(3):
        assert f"Fresh story {i}" in message
        assert f"{site.url}/news/news_odkb/fresh-{i}/" in message


def test_templates_render_every_field(site: Site, webhook: Webhook, tmp_path: Path) -> None:
    site.page("/news/", listing(news_items(5)))
    templates = (
        'title_template = "[{source}] {title}"\n'
        'body_template = "{title} | {link} | {published} | {summary}"'
    )
    config = write_config(
        tmp_path,
        html_source("news", site.url + "/news/", 'title = "Test news"')
        + notify_block(webhook.url, templates),
    )
    assert run(config) == 0
    site.page("/news/", listing(fresh(1) + news_items(5)))

    assert run(config) == 0

    [body] = webhook.delivered()
    assert body["title"] == "[Test news] Fresh story 0"
    assert body["message"] == (
        f"Fresh story 0 | {site.url}/news/news_odkb/fresh-0/ | 2024-12-31 00:00 UTC"
        " | Summary of Fresh story 0 & more."
    )


def test_notify_initial_notifies_the_first_run(
    site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(3)))
    config = write_config(
        tmp_path,
        html_source("news", site.url + "/news/", "notify_initial = true")
        + notify_block(webhook.url),
    )
    assert run(config) == 0
    messages = webhook.messages()
    assert len(messages) == 3
    for i in range(3):
        assert sum(f"News item number {i}" in m for m in messages) == 1


@pytest.mark.parametrize(("option", "expected"), [("notify_updates = true", 1), ("", 0)])
def test_a_changed_title_is_notified_only_with_notify_updates(
    option: str, expected: int, site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(5)))
    config = write_config(
        tmp_path, html_source("news", site.url + "/news/", option) + notify_block(webhook.url)
    )
    assert run(config) == 0
    items = news_items(5)
    items[2] = (items[2][0], "A corrected headline", items[2][2])
    site.page("/news/", listing(items))

    assert run(config) == 0

    messages = webhook.messages()
    assert len(messages) == expected
    assert all("A corrected headline" in m for m in messages)
    assert run(config) == 0
    assert len(webhook.messages()) == expected


def test_a_target_hears_only_its_sources(site: Site, webhook: Webhook, tmp_path: Path) -> None:
    site.page("/a/", listing(news_items(3)))
    site.page("/b/", listing(news_items(3)))
    config = write_config(
        tmp_path,
        html_source("alpha", site.url + "/a/")
        + html_source("beta", site.url + "/b/")
        + notify_block(webhook.target("/to-alpha"), 'sources = ["alpha"]')
        + notify_block(webhook.target("/to-beta"), 'sources = ["beta"]'),
    )
    assert run(config) == 0
    site.page("/a/", listing([("30.12.2024", "Alpha news", "/a/alpha-news/"), *news_items(3)]))
    site.page("/b/", listing([("30.12.2024", "Beta news", "/b/beta-news/"), *news_items(3)]))

    assert run(config) == 0

    [to_alpha] = webhook.messages("/to-alpha")
    [to_beta] = webhook.messages("/to-beta")
    assert "Alpha news" in to_alpha
    assert "Beta" not in to_alpha
    assert "Beta news" in to_beta
    assert "Alpha" not in to_beta


# --- secrets and giving up -----------------------------------------------------------------


def test_a_secret_in_the_notify_url_never_leaks(
    site: Site,
    webhook: Webhook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FEEDTOOL_TEST_TOKEN", TOKEN)
    site.page("/news/", listing(news_items(5)))
    url = webhook.target("/hook", userinfo="user:${FEEDTOOL_TEST_TOKEN}@")
    config = write_config(tmp_path, html_source("news", site.url + "/news/") + notify_block(url))
    assert run(config) == 0
    site.page("/news/", listing(fresh(2) + news_items(5)))
    webhook.status = 500

    assert run(config) == 0
    assert run(config, "-v") == 0
    assert run(config, "-vv") == 0
    out = status(config)

    assert webhook.posts  # the secret was used: the endpoint got it
    assert webhook.posts[0].headers.get("Authorization")
    captured = capsys.readouterr()
    assert "notify" in captured.err  # the failures were reported ...
    assert TOKEN not in captured.err  # ... without the secret
    assert TOKEN not in captured.out
    assert TOKEN not in out
    with sqlite3.connect(tmp_path / "state" / "feedtool.sqlite3") as db:
        rows = db.execute("SELECT * FROM notifications").fetchall()
    db.close()
    assert rows
    assert TOKEN not in repr(rows)
    for path in (tmp_path / "state").iterdir():
        assert TOKEN.encode() not in path.read_bytes(), path


def test_an_undeliverable_notification_is_dropped_after_notify_max_age(
    news: Path, site: Site, webhook: Webhook
) -> None:
    clock = Clock()
    run_at(news, clock)
    site.page("/news/", listing(fresh(1) + news_items(5)))
    webhook.status = 500
    run_at(news, clock)
    tries = len(webhook.posts)
    assert tries >= 1

    clock.advance(days=6)
    run_at(news, clock)
    assert len(webhook.posts) > tries  # still retried within notify_max_age (7d)

    clock.advance(days=2)
    run_at(news, clock)
    tries = len(webhook.posts)
    webhook.status = 200
    clock.advance(days=1)
    run_at(news, clock)

    assert len(webhook.posts) == tries  # given up: never sent again
    assert webhook.delivered() == []
    assert "0 pending, 1 dropped" in status(news)


@pytest.mark.parametrize(
    "url",
    [
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321",
        "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b",
        "json://user:s3cretpass@hooks.example.org:8443/path/tok-Zq8x",
    ],
)
def test_logs_name_targets_without_any_part_of_their_url(url: str) -> None:
    from feedtool.notify import describe, redact

    secret_parts = [p for p in re.split(r"[/:@.]", url.split("://", 1)[1]) if len(p) >= 6]
    shown = describe(url) + " " + redact(url, f"failed sending to {url}")
    for part in secret_parts:
        assert part not in shown


def test_a_notify_url_apprise_accepted_once_does_not_load_apprise_again(tmp_path: Path) -> None:
    path = write_config(tmp_path, html_source("news", "http://127.0.0.1:9/news/"))
    path.write_text(path.read_text() + '\n[[notify]]\nurl = "json://127.0.0.1:9/hook"\n')
    probe = (
        "import sys; from pathlib import Path; from feedtool import config;"
        f"config.load(Path({str(path)!r})); print('apprise' in sys.modules)"
    )
    loads = [
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert loads == ["True", "False"]
    assert "json://" not in (tmp_path / "state" / "notify-urls.accepted").read_text()
