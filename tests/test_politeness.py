"""What servers ask for is honoured: Retry-After, Cache-Control max-age, Expires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from feedtool import config
from feedtool.cli import main
from feedtool.model import utc_now
from feedtool.scheduler import is_due
from feedtool.store import Store
from tests.conftest import Site, html_source, listing, news_items, write_config


def _state(path: Path, source_id: str = "news"):  # type: ignore[no-untyped-def]
    with Store.open(path.parent / "state") as store:
        return store.source(source_id)


def test_retry_after_on_429_defers_the_next_check(site: Site, tmp_path: Path) -> None:
    url = site.page("/news/", "slow down", status=429, headers={"Retry-After": "3600"})
    path = write_config(tmp_path, html_source("news", url, 'interval = "1s"'))
    assert main(["-c", str(path), "run"]) == 1
    state = _state(path)
    assert state.not_before is not None
    wait = (state.not_before - utc_now()).total_seconds()
    assert 3500 < wait <= 3600
    source = config.load(path).sources[0]
    assert not is_due(source, state, utc_now() + timedelta(seconds=60))
    assert main(["-c", str(path), "run"]) == 0  # nothing due: the server is left alone
    assert len(site.hits("/news/")) == 1


def test_max_age_is_the_earliest_next_check_and_capped_at_a_day(site: Site, tmp_path: Path) -> None:
    url = site.page(
        "/news/", listing(news_items(3)), headers={"Cache-Control": "public, max-age=999999"}
    )
    path = write_config(tmp_path, html_source("news", url, 'interval = "1s"'))
    assert main(["-c", str(path), "run"]) == 0
    state = _state(path)
    assert state.not_before is not None
    wait = (state.not_before - utc_now()).total_seconds()
    assert 86000 < wait <= 86400


def test_a_forced_run_ignores_the_hold_and_a_plain_page_clears_it(
    site: Site, tmp_path: Path
) -> None:
    url = site.page("/news/", "busy", status=503, headers={"Retry-After": "600"})
    path = write_config(tmp_path, html_source("news", url))
    assert main(["-c", str(path), "run"]) == 1
    assert _state(path).not_before is not None
    site.page("/news/", listing(news_items(3)))
    assert main(["-c", str(path), "run", "--force"]) == 0
    assert _state(path).not_before is None
