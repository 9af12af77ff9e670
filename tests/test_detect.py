"""Automatic item detection on hand-written listing layouts, and on pages with no listing."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import pytest
import soupsieve
from bs4 import BeautifulSoup, Tag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedtool.extract.detect import Detection, detect
from feedtool.extract.html import Page
from tests.layouts import LAYOUT_NAMES, LAYOUTS, collapse, is_correct


def _load(name: str) -> tuple[BeautifulSoup, dict]:
    spec = json.loads((LAYOUTS / name / "expected.json").read_text(encoding="utf-8"))
    soup = BeautifulSoup((LAYOUTS / name / "page.html").read_bytes(), "lxml")
    return soup, spec


def _detect(name: str) -> tuple[BeautifulSoup, dict, Detection]:
    soup, spec = _load(name)
    return soup, spec, detect(soup, spec["base_url"])


def test_there_are_enough_layouts() -> None:
    assert len(LAYOUT_NAMES) >= 9


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_precision_and_recall(name: str) -> None:
    _, spec, detection = _detect(name)
    expected = {item["link"]: item for item in spec["items"]}
    correct = [
        item
        for item in detection.items
        if item.link in expected and is_correct(item, expected[item.link])
    ]
    assert detection.items, "nothing detected"
    assert len(correct) / len(detection.items) >= 0.9, "precision"
    assert len(correct) / len(spec["items"]) >= 0.9, "recall"


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_no_navigation_or_side_box_links(name: str) -> None:
    _, spec, detection = _detect(name)
    found = [item.link for item in detection.items]
    most_read = set(spec["most_read"])
    assert most_read, "each layout has a precision trap"
    assert not most_read.intersection(found), "a 'most read' link was taken for an item"
    assert set(found) <= {item["link"] for item in spec["items"]}, "menu or footer link taken"
    assert len(found) == len(set(found)), "an article found twice"


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_items_are_clean(name: str) -> None:
    _, _, detection = _detect(name)
    for item in detection.items:
        assert item.title == collapse(item.title)
        assert item.link is not None
        assert item.link.startswith(("http://", "https://"))
        assert item.summary is None or item.summary.strip()


def _apply(soup: BeautifulSoup, base_url: str, detection: Detection) -> list[tuple[str, str]]:
    """(link, title) of each item the suggested selectors find, as feedtool would read them."""
    selectors = detection.selectors
    assert selectors is not None
    assert selectors.link
    assert selectors.title
    base = soup.find("base", href=True)
    base_url = urljoin(base_url, str(base["href"])) if isinstance(base, Tag) else base_url
    link_css, _, attribute = selectors.link.rpartition("@")
    assert attribute == "href"
    out = []
    for element in soupsieve.select(selectors.item, soup):
        anchor = soupsieve.select_one(link_css, element) if link_css else element
        title = soupsieve.select_one(selectors.title, element)
        assert anchor is not None
        assert title is not None
        out.append((urljoin(base_url, str(anchor["href"])), collapse(title.get_text(" "))))
    return out


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_suggested_selectors_reproduce_the_items(name: str) -> None:
    soup, spec, detection = _detect(name)
    if name in ("bitrix-en", "wordpress", "drupal-views"):
        assert detection.selectors is not None
    if detection.selectors is None:
        return
    selectors = detection.selectors
    for css in (selectors.item, selectors.title, selectors.link, selectors.date, selectors.summary):
        if css and css.partition("@")[0]:
            soupsieve.compile(css.partition("@")[0])
    assert _apply(soup, spec["base_url"], detection) == [
        (item.link, item.title) for item in detection.items
    ]


def _extract_dates(html: str, base_url: str, detection: Detection) -> list[str | None]:
    """The dates the suggested selectors give when a source pins them."""
    assert detection.selectors is not None
    assert detection.selectors.date is not None
    return [item.date for item in Page(html, base_url).extract(detection.selectors).items]


@pytest.mark.parametrize("name", ["table-releases", "ul-list"])
def test_suggested_date_selector_reproduces_the_dates(name: str) -> None:
    soup, spec, detection = _detect(name)

    dates = _extract_dates(str(soup), spec["base_url"], detection)

    assert dates == [item.date for item in detection.items]
    assert None not in dates


def test_unclassed_date_column_after_a_number_column_gets_a_positional_selector() -> None:
    """A row's number is no part of its date, so the date stays in its own <td>."""
    spec = json.loads((LAYOUTS / "table-releases" / "expected.json").read_text(encoding="utf-8"))
    html = (LAYOUTS / "table-releases" / "page.html").read_text(encoding="utf-8")
    html = html.replace('<tr><td class="c-date">', "<tr><td>1</td><td>")
    html = re.sub(r"<td><a href=\"\.\./files/[^<]*</a></td>", "", html)  # short rows
    detection = detect(BeautifulSoup(html, "lxml"), spec["base_url"])

    assert detection.selectors is not None
    assert detection.selectors.date == "td:nth-of-type(2)"
    assert _extract_dates(html, spec["base_url"], detection) == [i["date"] for i in spec["items"]]


def test_flat_siblings_have_no_selectors() -> None:
    """Date-link pairs without a wrapper cannot be written as one item selector."""
    _, _, detection = _detect("bitrix-pairs")
    assert detection.items
    assert detection.selectors is None


def test_time_datetime_is_the_date_and_its_selector() -> None:
    _, _, detection = _detect("wordpress")
    assert detection.items[0].date == "2024-12-23T09:15:00+00:00"
    assert detection.selectors is not None
    assert detection.selectors.date is not None
    assert detection.selectors.date.endswith("@datetime")


def test_summary_is_inner_html() -> None:
    _, _, detection = _detect("bitrix-en")
    assert detection.items[0].summary is not None
    assert detection.items[0].summary.startswith("On 23 December, Imangali Tasmagambetov")


ARTICLE = """<!DOCTYPE html><html><head><title>Solar roof is live</title></head><body>
<header><nav><ul>
  <li><a href="/">Home</a></li><li><a href="/about/">About us</a></li>
  <li><a href="/category/news/">News</a></li><li><a href="/contact/">Contact</a></li>
</ul></nav></header>
<main><article>
  <h1>Solar roof on the school gym is live</h1>
  <time datetime="2024-12-23T09:15:00+00:00">December 23, 2024</time>
  <p>After three months of work the 96-panel array started feeding the grid this morning.
  Read <a href="/2024/06/03/how-community-solar-shares-work/">how shares work</a>.</p>
  <p>It is our fourth community-owned roof.</p>
  <div class="tags"><a href="/tag/solar/">solar</a> <a href="/tag/schools/">schools</a></div>
</article>
<section class="related"><h2>Related posts</h2><ul>
  <li><a href="/2024/12/19/annual-general-meeting-results/">Annual general meeting: results</a></li>
  <li><a href="/2024/12/16/we-won-the-county-green-grant/">We won the county green grant</a></li>
  <li><a href="/2024/12/12/winter-maintenance/">Winter maintenance on the Mill Street array</a></li>
</ul></section></main>
<aside><h2>Most read</h2><ul>
  <li><a href="/2024/06/03/a/">How community solar shares work</a></li>
  <li><a href="/2024/09/15/b/">Your questions about the dividend, answered</a></li>
  <li><a href="/2024/03/22/c/">Why we chose local installers</a></li>
  <li><a href="/2024/10/02/d/">Battery storage explained in five minutes</a></li>
</ul></aside>
<footer><a href="/privacy/">Privacy</a> <a href="/rules/">Rules</a>
  <a href="/contact/">Contact</a></footer>
</body></html>"""


@pytest.mark.parametrize(
    "html",
    [
        ARTICLE,
        "<html><body></body></html>",
        "",
        "plain text, no markup",
        "<ul><li><a href='/news/one/'>Only one article link on the whole page</a></li></ul>",
        "<a href='http://[::1'>broken</a>" * 5 + "<base href='http://[::1'>",
        "<div>" * 600 + "deep" + "</div>" * 600,
        "<frameset><frame src='/news/'></frameset>",
    ],
    ids=["article", "empty-body", "empty", "text", "one-link", "bad-urls", "deep", "frameset"],
)
def test_pages_without_a_listing_give_nothing(html: str) -> None:
    detection = detect(BeautifulSoup(html, "lxml"), "https://example.org/2024/12/23/solar-roof/")
    assert detection.items == ()
    assert detection.selectors is None


@pytest.mark.parametrize(
    "date",
    [
        "23.12.2024",
        "23/12/24",
        "2024-12-23",
        "20.12.2024 14:30",
        "23 декабря 2024",
        "23 декабря 2024 г.",
        "20 декабря",
        "20 декабря, 14:30",
        "December 11, 2024",
        "Dec. 11, 2024",
        "11 Dec 2024",
        "11th December 2024",
    ],
)
def test_date_formats(date: str) -> None:
    rows = "".join(
        f'<li><span class="when">{date}</span> <a href="/news/item-{i}/">News item number {i} '
        f"with a longer title</a></li>"
        for i in range(5)
    )
    detection = detect(BeautifulSoup(f"<ul>{rows}</ul>", "lxml"), "https://example.org/news/")
    assert [item.date for item in detection.items] == [date] * 5


def test_links_resolve_against_base_href() -> None:
    rows = "".join(
        f'<tr><td>0{i}.12.2024</td><td><a href="{i}.html">Release number {i} with a title</a>'
        "</td></tr>"
        for i in range(1, 5)
    )
    html = f'<head><base href="https://cdn.example.org/press/"></head><table>{rows}</table>'
    detection = detect(BeautifulSoup(html, "lxml"), "https://example.org/press/list/")
    assert [item.link for item in detection.items] == [
        f"https://cdn.example.org/press/{i}.html" for i in range(1, 5)
    ]


TAGS = ["div", "ul", "li", "a", "p", "span", "h3", "time", "table", "tr", "td", "nav", "dl", "dd"]
HREFS = ["/news/a-1/", "/news/", "#", "javascript:void(0)", "mailto:x@y", "http://[::1", "?p=2", ""]
TEXTS = ["Some words of a title", "23.12.2024", "20 декабря", "Dec 11, 2024", " ", "\x00"]


@st.composite
def _tag_soup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 120))):
        kind = draw(st.integers(0, 2))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            href = f' href="{draw(st.sampled_from(HREFS))}"' if tag == "a" else ""
            parts.append(
                f'<{tag} class="{draw(st.sampled_from(["item", "date", "menu", ""]))}"{href}>'
            )
        elif kind == 1:
            parts.append(f"</{tag}>")
        else:
            parts.append(draw(st.sampled_from(TEXTS)))
    return "".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tag_soup())
def test_odd_html_never_raises(html: str) -> None:
    detection = detect(BeautifulSoup(html, "lxml"), "https://example.org/news/")
    assert isinstance(detection.items, tuple)


CARDS = "".join(
    f'<a class="card" href="/stories/story-{i}/"><img src="{i}.jpg"><h3>Story number {i} of the '
    f'week</h3><time datetime="2024-12-{10 + i}">{10 + i} Dec</time><p>A teaser of story {i}, '
    "long enough to count.</p></a>"
    for i in range(4)
)


def test_cards_that_are_links() -> None:
    """The whole card is the link: the item's own href, the summary inside the link."""
    soup = BeautifulSoup(f'<main><div class="grid">{CARDS}</div></main>', "lxml")
    detection = detect(soup, "https://example.org/stories/")
    assert [item.link for item in detection.items] == [
        f"https://example.org/stories/story-{i}/" for i in range(4)
    ]
    assert detection.items[0].summary == "A teaser of story 0, long enough to count."
    assert detection.selectors is not None
    assert detection.selectors.link == "@href"
    assert _apply(soup, "https://example.org/stories/", detection) == [
        (item.link, item.title) for item in detection.items
    ]


def test_lists_under_date_headings() -> None:
    """Items grouped by day: every list's items, the one-item lists too."""
    days = {"23 декабря": 2, "22 декабря": 3, "21 декабря": 1}
    html = "".join(
        f'<h3 class="day">{day}</h3><ul>'
        + "".join(
            f'<li><a href="/lenta/{n}/{i}/">Новость номер {i} за {day} с длинным заголовком</a>'
            f"<small>1{i}:00</small></li>"
            for i in range(count)
        )
        + "</ul>"
        for n, (day, count) in enumerate(days.items())
    )
    detection = detect(BeautifulSoup(f"<div>{html}</div>", "lxml"), "https://example.ru/lenta/")
    assert len(detection.items) == sum(days.values())
