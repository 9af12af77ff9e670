"""The status page in a real headless browser: Debian's Chromium driven by Playwright.

Skips when either is missing (`apt-get install chromium`, `pip install playwright`; the
browser Playwright would download is not needed: the system's is used). The screenshots are
kept: in tmp_path, and copied to /tmp/feedtool-status.png (and -phone.png) to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedtool.cli import main
from feedtool.serve import Background
from tests.conftest import Site, html_source, listing, news_items, write_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")


@pytest.fixture
def served(site: Site, tmp_path: Path) -> Iterator[str]:
    path = write_config(
        tmp_path,
        html_source("csto-news", site.page("/news/", listing(news_items(6))), 'title = "CSTO news"')
        + html_source("press", site.page("/press/", listing(news_items(3, start=4))))
        + html_source("gone", "http://127.0.0.1:9/gone/", 'title = "A site that went away"'),
    )
    assert main(["-c", str(path), "run"]) == 1  # "gone" fails: the page shows it
    with Background(path, host="127.0.0.1", port=0) as server:
        yield f"http://127.0.0.1:{server.port}/"


def test_the_status_page_in_chromium(served: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            response = page.goto(served)
            assert response is not None
            assert response.status == 200
            assert page.locator("article.source").count() == 3
            assert page.locator("article#gone .badge").inner_text().lower() == "failing"
            # the stylesheet applied (CSP allows it): cards have the state's border colour
            border = page.locator("article#csto-news").evaluate(
                "e => getComputedStyle(e).borderLeftWidth"
            )
            assert border == "5px"
            shot = tmp_path / "status.png"
            page.screenshot(path=str(shot), full_page=True)
            shutil.copy(shot, "/tmp/feedtool-status.png")

            # subscribe: follow the Atom link, the feed arrives
            with page.expect_navigation() as navigation:
                page.locator("article#csto-news a.feed", has_text="Atom").click()
            feed = navigation.value
            assert feed is not None
            assert feed.status == 200
            assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
            assert "News item number 0" in feed.text()

            # on a phone: one column, nothing wider than the screen
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.goto(served)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            shutil.copy(tmp_path / "phone.png", "/tmp/feedtool-status-phone.png")

            # a source's own page, reached by its title
            page.goto(served)
            page.locator("article#csto-news h2 a").click()
            page.wait_for_url("**/source/csto-news")
            assert page.locator("ol.entries li").count() == 6
        finally:
            browser.close()
