"""Field health: a selector that fills no item warns; a field that disappears degrades the
source (one alert, one when it is back), and its items keep being published."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from feedtool.cli import main
from feedtool.health import Fields, assess_fields, field_warnings
from feedtool.model import RawItem, Selectors
from tests.conftest import Site, Webhook, html_source, listing, news_items, write_config
from tests.feedcheck import parse_clean


def run(config: Path) -> int:
    return main(["--config", str(config), "run", "--force"])


def status_row(config: Path, source_id: str = "news") -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "status"]) == 0
    return next(line for line in out.getvalue().splitlines() if line.startswith(source_id + " "))


def without_summaries(items: list[tuple[str, str, str]]) -> str:
    """The listing after a redesign that dropped the teasers."""
    return listing(items).replace('class="news-preview"', 'class="share-buttons"')


def fresh(index: int) -> tuple[str, str, str]:
    return ("29.12.2024", f"Fresh story {index}", f"/news/news_odkb/fresh-{index}/")


def test_a_selector_typo_is_a_warning_in_run_and_status(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(5)))
    source = html_source("news", site.url + "/news/").replace(
        'summary = ".news-preview"', 'summary = "p.teaser-text"'
    )
    config = write_config(tmp_path, source)

    assert run(config) == 0  # a warning, not a failure: the items are still published

    warning = 'news: selector summary = "p.teaser-text" matched no item'
    assert capsys.readouterr().err.count(warning) == 1
    row = status_row(config)
    assert row.split()[1] == "ok"
    assert 'warning: selector summary = "p.teaser-text" matched no item' in row
    assert len(parse_clean((tmp_path / "public" / "news.atom.xml").read_bytes()).entries) == 5


def test_a_disappearing_summary_alerts_once_and_its_return_once(
    site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    items = news_items(5)
    site.page("/news/", listing(items))
    config = write_config(
        tmp_path,
        html_source("news", site.url + "/news/") + f'\n[[notify]]\nurl = "{webhook.url}"\n',
    )
    assert run(config) == 0
    assert status_row(config).split()[1] == "ok"

    items = [fresh(0), *items]
    site.page("/news/", without_summaries(items))
    assert run(config) == 0
    alerts = [m for m in webhook.messages() if "degraded" in m]
    assert len(alerts) == 1
    assert "summary disappeared" in alerts[0]
    row = status_row(config)
    assert row.split()[1] == "degraded"
    assert "summary disappeared" in row

    for index in (1, 2):  # more runs on the degraded page: no alert per run
        items = [fresh(index), *items]
        site.page("/news/", without_summaries(items))
        assert run(config) == 0
    assert len([m for m in webhook.messages() if "degraded" in m]) == 1
    entries = parse_clean((tmp_path / "public" / "news.atom.xml").read_bytes()).entries
    assert "Fresh story 2" in {e.title for e in entries}  # the items are still published

    site.page("/news/", listing(items))
    assert run(config) == 0
    back = [m for m in webhook.messages() if "summary is back" in m]
    assert len(back) == 1
    assert status_row(config).split()[1] == "ok"
    items = [fresh(3), *items]
    site.page("/news/", listing(items))
    assert run(config) == 0
    health = [m for m in webhook.messages() if "degraded" in m or "is back" in m]
    assert len(health) == 2
    item_alerts = [m for m in webhook.messages() if "Fresh story" in m]
    assert len(item_alerts) == 4  # every new item notified once, degraded or not


def test_a_source_with_detected_selectors_degrades_too(site: Site, tmp_path: Path) -> None:
    items = news_items(6)
    url = site.page("/news/", listing(items))
    config = write_config(tmp_path, f'[[sources]]\nid = "news"\nurl = "{url}"\n')
    assert run(config) == 0

    site.page("/news/", without_summaries([fresh(0), *items]))
    assert run(config) == 0

    row = status_row(config)
    assert row.split()[1] == "degraded"
    assert "summary disappeared" in row


def test_field_warnings_name_each_field_that_filled_no_item() -> None:
    selectors = Selectors(item=".i", date=".when", summary="p.teaser", content=".body")
    items = [RawItem(title="A", link="/a", date="1.1.2024", content=" "), RawItem(title="B")]
    assert field_warnings(selectors, items) == [
        'selector summary = "p.teaser" matched no item',
        'selector content = ".body" matched no item',
    ]
    assert field_warnings(selectors, []) == []
    assert field_warnings(None, items) == []


def test_a_field_rarely_filled_or_deliberately_removed_is_not_lost() -> None:
    items = [RawItem(title=str(i), link=f"/{i}") for i in range(5)]
    rare = Fields(rates={"summary": 0.4, "date": 1.0})
    change = assess_fields(rare, items, {"summary"})
    assert change.lost == ()  # was on fewer than half of the items
    assert change.fields.degraded == frozenset()
    assert assess_fields(rare, items, set()).lost == ()  # date no longer has a selector
    assert assess_fields(rare, items[:2], {"date"}).lost == ()  # too few items to tell
    assert assess_fields(rare, items, {"date"}).lost == ("date",)


def test_preview_warns_of_a_selector_that_matched_no_item(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.page("/news/", listing(news_items(3)))

    code = main(["preview", url, "--item", ".news-item", "--summary", "p.teaser-text"])

    assert code == 0
    assert 'warning: selector summary = "p.teaser-text" matched no item' in capsys.readouterr().out


def test_a_title_selector_typo_is_reported_though_titles_fall_back_to_the_link(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(5)))
    source = html_source("news", site.url + "/news/").replace(
        'title = ".news-title"', 'title = ".news-titel"'
    )
    assert run(write_config(tmp_path, source)) == 0
    assert 'news: selector title = ".news-titel" matched no item' in capsys.readouterr().err
    titles = [
        e.title for e in parse_clean((tmp_path / "public" / "news.atom.xml").read_bytes()).entries
    ]
    assert titles[0] == "News item number 0"  # the link's text stood in
