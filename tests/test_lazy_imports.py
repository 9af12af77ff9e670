"""A routine run (nothing changed) and the quick commands never load the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from feedtool.cli import main
from tests.conftest import Site, html_source, listing, news_items, write_config

HEAVY = (
    "lxml",
    "feedparser",
    "feedgen",
    "dateparser",
    "bs4",
    "nh3",
    "requests",
    "apprise",
    "trafilatura",
    "rich",
)


def _loaded_by(path: Path, *argv: str) -> list[str]:
    probe = (
        "import sys; from feedtool.cli import main;"
        f"code = main(['-c', {str(path)!r}, *{list(argv)!r}]);"
        f"print(code, *sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return run.stdout.splitlines()[-1].split()


def test_a_run_where_nothing_changed_loads_no_parser_feed_date_or_notify_library(
    site: Site, tmp_path: Path
) -> None:
    url = site.page("/news/", listing(news_items(5)))
    path = write_config(tmp_path, html_source("news", url))
    path.write_text(path.read_text() + '\n[[notify]]\nurl = "json://127.0.0.1:9/hook"\n')
    assert main(["-c", str(path), "run"]) == 0
    assert _loaded_by(path, "run", "--force") == ["0"]  # a 304


def test_status_and_help_load_none_of_them(site: Site, tmp_path: Path) -> None:
    path = write_config(tmp_path, html_source("news", site.page("/n/", "x")))
    assert _loaded_by(path, "status") == ["0"]
    assert _loaded_by(path, "opml") == ["0"]
