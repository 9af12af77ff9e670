"""Output for scripts: `status --json`, `run --json`, the next check, --version."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedtool import __version__
from feedtool.cli import main
from tests.conftest import Site, html_source, listing, news_items, write_config


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def utc(text: object) -> datetime:
    assert isinstance(text, str)
    assert text.endswith("Z")
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def config_path(site: Site, tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        html_source("news", site.page("/news/", listing(news_items(4))), 'interval = "1h"')
        + html_source("gone", "http://127.0.0.1:9/gone/"),
    )


def test_run_json_is_one_object_per_source_per_line(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = datetime.now(UTC)
    assert main(["-c", str(config_path), "run", "--json"]) == 1
    lines = json_lines(capsys.readouterr().out)
    by_id = {line["id"]: line for line in lines}
    assert set(by_id) == {"news", "gone"}
    for line in lines:
        assert set(line) == {"id", "status", "new", "updated", "error", "duration", "next_check"}
    assert by_id["news"]["status"] == "ok"
    assert by_id["news"]["new"] == 4
    assert by_id["news"]["error"] is None
    assert by_id["gone"]["status"] == "failed"
    assert "connection refused" in str(by_id["gone"]["error"])
    due = utc(by_id["news"]["next_check"]) - started
    assert timedelta(minutes=59) < due <= timedelta(hours=1, seconds=5)


def test_status_json_and_the_next_check_column(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config_path), "status", "--json"]) == 0  # before any run
    before = json_lines(capsys.readouterr().out)
    assert [(s["id"], s["state"], s["last_check"]) for s in before] == [
        ("news", "new", None),
        ("gone", "new", None),
    ]
    main(["-c", str(config_path), "run"])
    capsys.readouterr()
    assert main(["-c", str(config_path), "status", "--json"]) == 0
    after = {s["id"]: s for s in json_lines(capsys.readouterr().out)}
    news, gone = after["news"], after["gone"]
    for key in ("id", "state", "last_check", "next_check", "items", "last_error"):
        assert key in news
    assert (news["state"], news["items"], news["last_error"]) == ("ok", 4, None)
    assert utc(news["next_check"]) - utc(news["last_check"]) == timedelta(hours=1)
    assert gone["state"] == "failing"
    assert "connection refused" in str(gone["last_error"])

    assert main(["-c", str(config_path), "status"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert "NEXT CHECK (UTC)" in header
    news_row = next(row for row in rows if row.startswith("news "))
    expected = utc(news["next_check"]).strftime("%Y-%m-%d %H:%M")
    assert expected in news_row


def test_a_verbose_run_with_nothing_due_says_when_the_next_is(
    config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `serve` and `daemon` raise the "feedtool" logger to INFO in-process: not here
    monkeypatch.setattr(logging.getLogger("feedtool"), "level", logging.NOTSET)
    main(["-c", str(config_path), "run"])
    capsys.readouterr()
    assert main(["-c", str(config_path), "-v", "run"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "nothing due" in line]
    assert len(said) == 1
    assert " INFO nothing due; next: " in said[0]
    assert main(["-c", str(config_path), "run"]) == 0  # without -v: silent, as cron wants
    assert capsys.readouterr().err == ""


def test_no_colour_when_not_on_a_terminal_or_with_no_color(
    config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    main(["-c", str(config_path), "run", "--json"])
    main(["-c", str(config_path), "status"])
    captured = capsys.readouterr()
    assert "\x1b[" not in captured.out + captured.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"feedtool {__version__}"


def test_the_status_table_prints_its_outbox_line_plainly(site: Site, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, html_source("news", site.page("/news/", listing(news_items(2))))
    )
    assert main(["--config", str(config), "run"]) == 0
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        assert main(["--config", str(config), "status"]) == 0
    assert "\nnotifications: 0 delivered, 0 pending\n" in shown.getvalue()
    assert "\\x0a" not in shown.getvalue()
