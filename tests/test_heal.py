"""Healing after a redesign: detection finds the known items under new markup; the broken
alert and status propose the selectors, `feedtool heal` pins them, `heal = "auto"` switches."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from feedtool.cli import main
from tests.conftest import Site, Webhook, html_source, listing, news_items, write_config
from tests.feedcheck import assert_valid_atom, parse_clean


def redesigned(items: list[tuple[str, str, str]]) -> str:
    """The same news in a new layout: none of the configured selectors matches it."""
    rows = "".join(
        f'<li class="entry"><span class="when">{date}</span>'
        f'<h3><a href="{link}">{title}</a></h3><p>About {title}, at length.</p></li>'
        for date, title, link in items
    )
    return (
        "<html><head><title>News</title></head><body><nav><a href='/'>Home</a>"
        f"<a href='/about/'>About</a></nav><ul class='stream'>{rows}</ul></body></html>"
    )


FRESH = ("30.12.2024", "Fresh story after the redesign", "/news/news_odkb/fresh/")


def run(config: Path) -> int:
    return main(["--config", str(config), "run", "--force"])


def status(config: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "status"]) == 0
    return out.getvalue()


def titles(tmp_path: Path) -> list[str]:
    atom = (tmp_path / "public" / "news.atom.xml").read_bytes()
    assert_valid_atom(atom)
    return [entry.title for entry in parse_clean(atom).entries]


def configure(tmp_path: Path, site: Site, webhook: Webhook, extra: str = "") -> Path:
    source = html_source("news", site.url + "/news/", extra).replace(
        'item = ".news-item"', 'item = ".news-item"  # one block per item'
    )
    body = f'# Our sources, kept by hand.\n{source}\n[[notify]]\nurl = "{webhook.url}"\n'
    return write_config(tmp_path, body)


def test_auto_heal_switches_once_publishes_the_new_items_and_no_old_one_twice(
    site: Site, webhook: Webhook, tmp_path: Path
) -> None:
    site.page("/news/", listing(news_items(5)))
    config = configure(tmp_path, site, webhook, 'heal = "auto"')
    assert run(config) == 0
    before = config.read_text()

    site.page("/news/", redesigned([FRESH, *news_items(5)]))
    assert run(config) == 0

    published = titles(tmp_path)
    assert published[0] == FRESH[1]
    assert len(published) == 6
    assert len(set(published)) == 6  # known items kept their identity: no duplicate
    messages = webhook.messages()
    [healed] = [m for m in messages if "healed itself" in m]
    assert 'now using detected ones: item = "' in healed
    assert '(was ".news-item")' in healed
    assert "[sources.select]" in healed
    [new_item] = [m for m in messages if m != healed]  # the known items notify nobody
    assert FRESH[1] in new_item
    assert config.read_text() == before  # the config is never changed behind the user's back
    row = next(line for line in status(config).splitlines() if line.startswith("news "))
    assert row.split()[1] == "ok"
    assert "feedtool heal news" in row

    another = ("31.12.2024", "Another story", "/news/news_odkb/another/")
    site.page("/news/", redesigned([another, FRESH, *news_items(5)]))
    assert run(config) == 0  # the healed selectors stay in use: no second switch, no alert
    assert titles(tmp_path)[:2] == [another[1], FRESH[1]]
    assert len([m for m in webhook.messages() if "healed" in m]) == 1
    assert len(webhook.messages()) == len(messages) + 1

    # preview, snapshot and check read the source as run does: with the healed selectors
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        assert main(["--config", str(config), "preview", "news"]) == 0
        assert main(["--config", str(config), "snapshot", "news"]) == 0
        assert main(["--config", str(config), "check"]) == 0
    assert another[1] in shown.getvalue()


def test_without_auto_the_broken_alert_proposes_and_heal_pins_keeping_comments(
    site: Site, webhook: Webhook, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(5)))
    config = configure(tmp_path, site, webhook)
    assert run(config) == 0

    site.page("/news/", redesigned([FRESH, *news_items(5)]))
    assert run(config) == 1
    [broken] = webhook.delivered()
    assert "is broken" in str(broken["title"])
    message = str(broken["message"])
    assert "[sources.select]" in message
    assert "feedtool heal news" in message
    shown = status(config)
    assert "broken" in shown
    assert "[sources.select]" in shown
    capsys.readouterr()

    assert main(["--config", str(config), "heal", "news"]) == 0

    assert "pinned" in capsys.readouterr().out
    text = config.read_text()
    assert "# Our sources, kept by hand." in text
    assert "# one block per item" in text
    assert ".news-item" not in text
    assert run(config) == 0
    published = titles(tmp_path)
    assert published[0] == FRESH[1]
    assert len(published) == len(set(published)) == 6
    assert any("works again" in m for m in webhook.messages())
    row = next(line for line in status(config).splitlines() if line.startswith("news "))
    assert row.split()[1] == "ok"
    assert "heal" not in row


def test_heal_refuses_without_a_proposal(
    site: Site, webhook: Webhook, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/", listing(news_items(5)))
    config = configure(tmp_path, site, webhook)
    before = config.read_text()
    assert main(["--config", str(config), "heal", "news"]) == 1  # no state at all yet
    assert run(config) == 0
    capsys.readouterr()

    assert main(["--config", str(config), "heal", "news"]) == 1

    err = capsys.readouterr().err
    assert "feedtool: error: news: no selectors to pin" in err
    assert config.read_text() == before


def test_a_page_of_other_links_is_no_proposal(site: Site, webhook: Webhook, tmp_path: Path) -> None:
    site.page("/news/", listing(news_items(5)))
    config = configure(tmp_path, site, webhook)
    assert run(config) == 0
    other = [(d, f"Other {t}", f"/shop/product-{i}/") for i, (d, t, _) in enumerate(news_items(5))]

    site.page("/news/", redesigned(other))
    assert run(config) == 1

    [broken] = webhook.messages()
    assert "[sources.select]" not in broken
    assert "[sources.select]" not in status(config)
