"""Automatic item detection on hand-written listing layouts, and on pages with no listing."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml.html import HtmlElement

from feedtool.extract import normalized_items
from feedtool.extract.detect import Detection, _TextReader, detect
from feedtool.extract.html import Page, parse_html
from feedtool.extract.selector import Selector, text_of
from feedtool.model import Fetched, Source, Validators
from feedtool.normalize import parse_date
from tests.layouts import (
    CLOCK,
    LAYOUT_NAMES,
    LAYOUTS,
    collapse,
    is_correct,
    load_layout,
    same_date,
)


def _tree(html: str) -> HtmlElement:
    """The page's <html> element, parsed as feedtool parses pages."""
    return parse_html(html, "https://example.org/")


def _detect(name: str) -> tuple[HtmlElement, dict[str, Any], Detection]:
    page, spec = load_layout(name)
    return page.root, spec, detect(page.root, spec["base_url"])


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


def _apply(root: HtmlElement, base_url: str, detection: Detection) -> list[tuple[str, str]]:
    """(link, title) of each item the suggested selectors find, as feedtool would read them."""
    selectors = detection.selectors
    assert selectors is not None
    assert selectors.link
    assert selectors.title
    base = root.find(".//base[@href]")
    base_url = urljoin(base_url, base.get("href")) if base is not None else base_url
    link_css, _, attribute = selectors.link.rpartition("@")
    assert attribute == "href"
    out = []
    for element in Selector.compile(selectors.item).all(root):
        anchor = Selector.compile(link_css).first(element) if link_css else element
        title = Selector.compile(selectors.title).first(element)
        assert anchor is not None
        assert title is not None
        out.append((urljoin(base_url, anchor.get("href")), collapse(text_of(title))))
    return out


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_suggested_selectors_reproduce_the_items(name: str) -> None:
    root, spec, detection = _detect(name)
    if name in ("bitrix-en", "wordpress", "drupal-views"):
        assert detection.selectors is not None
    if detection.selectors is None:
        return
    selectors = detection.selectors
    for spec_ in (
        selectors.item,
        selectors.title,
        selectors.link,
        selectors.date,
        selectors.summary,
    ):
        if spec_:
            Selector.compile(spec_)
    assert _apply(root, spec["base_url"], detection) == [
        (item.link, item.title) for item in detection.items
    ]


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_pinned_selectors_extract_the_detected_items(name: str) -> None:
    """A source remembers the suggested selectors and extracts with them on later runs, on a
    fresh parse of the page: the same items must come out (whitespace and the date's
    surrounding words aside)."""
    _, spec, detection = _detect(name)
    if detection.selectors is None:
        return
    html = (LAYOUTS / name / "page.html").read_bytes()
    page = Page.parse(html, None, "text/html", spec["base_url"])

    extracted = page.extract(detection.selectors).items

    assert [(i.link, collapse(i.title)) for i in extracted] == [
        (i.link, i.title) for i in detection.items
    ]
    for pinned, detected in zip(extracted, detection.items, strict=True):
        assert (pinned.date is None) == (detected.date is None)
        assert same_date(pinned.date, detected.date, detection.selectors.date_format)
        assert (pinned.summary or "").strip() == (detected.summary or "")


@pytest.mark.parametrize("name", ["wordpress", "bitrix-ru", "table-releases"])
def test_detecting_again_on_the_same_tree_gives_the_same_result(name: str) -> None:
    """Detection caches per element while it runs; nothing must leak into the next run, nor
    be disturbed by extraction on the same tree."""
    page, spec = load_layout(name)
    first = detect(page.root, spec["base_url"])
    assert first.selectors is not None

    page.extract(first.selectors)

    assert detect(page.root, spec["base_url"]) == first


TEXT_CASES = [
    "<p>a <b>b</b><!-- no --> c<script>no()</script> d<style>.no{}</style> e</p>",
    "<div>x<template><i>no</i> no</template> y <ruby>漢<rt>no</rt><rp>(no)</rp></ruby></div>",
    "<ul><li> one </li>\n<li>two\u00a0 three</li></ul><?pi no?>",
]


@pytest.mark.parametrize("html", TEXT_CASES)
def test_detector_reads_text_as_text_of(html: str) -> None:
    """The detector's faster text reading gives what pinned selectors read (text_of).

    Not for a script, style, template or ruby annotation itself: no title or date is one.
    """
    root = _tree(html)
    reader = _TextReader.of(root)
    containers = ("script", "style", "template", "rt", "rp")
    for element in root.iter(etree.Element):
        if not any(e.tag in containers for e in (element, *element.iterancestors())):
            assert reader.text(element) == collapse(text_of(element))


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_detector_reads_layout_text_as_text_of(name: str) -> None:
    page, _ = load_layout(name)
    reader = _TextReader.of(page.root)
    for element in page.root.iter("a", "h2", "h3", "p", "li", "div", "td", "time", "span"):
        assert reader.text(element) == collapse(text_of(element))


def _extract_dates(html: str, base_url: str, detection: Detection) -> list[str | None]:
    """The dates the suggested selectors give when a source pins them."""
    assert detection.selectors is not None
    assert detection.selectors.date is not None
    return [item.date for item in Page(html, base_url).extract(detection.selectors).items]


@pytest.mark.parametrize("name", ["table-releases", "ul-list"])
def test_suggested_date_selector_reproduces_the_dates(name: str) -> None:
    _, spec, detection = _detect(name)
    html = (LAYOUTS / name / "page.html").read_text(encoding="utf-8")

    dates = _extract_dates(html, spec["base_url"], detection)

    assert None not in dates
    assert detection.selectors is not None
    date_format = detection.selectors.date_format
    assert [parse_date(d, CLOCK, date_format) for d in dates] == [
        parse_date(item.date, CLOCK) for item in detection.items
    ]


def test_unclassed_date_column_after_a_number_column_gets_a_positional_selector() -> None:
    """A row's number is no part of its date, so the date stays in its own <td>."""
    spec = json.loads((LAYOUTS / "table-releases" / "expected.json").read_text(encoding="utf-8"))
    html = (LAYOUTS / "table-releases" / "page.html").read_text(encoding="utf-8")
    html = html.replace('<tr><td class="c-date">', "<tr><td>1</td><td>")
    html = re.sub(r"<td><a href=\"\.\./files/[^<]*</a></td>", "", html)  # short rows
    detection = detect(_tree(html), spec["base_url"])

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
    detection = detect(_tree(html), "https://example.org/2024/12/23/solar-roof/")
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
        "4. Dezember 2024",
        "30. November 2024",
        "4 décembre 2024",
        "1er décembre 2024",
        "4 de diciembre de 2024",
        "4 dicembre 2024",
        "4 de dezembro de 2024",
        "4 grudnia 2024",
        "4 грудня 2024",
    ],
)
def test_date_formats(date: str) -> None:
    rows = "".join(
        f'<li><span class="when">{date}</span> <a href="/news/item-{i}/">News item number {i} '
        f"with a longer title</a></li>"
        for i in range(5)
    )
    detection = detect(_tree(f"<ul>{rows}</ul>"), "https://example.org/news/", CLOCK)
    parsed = parse_date(date, CLOCK)
    assert parsed is not None
    numeric = re.fullmatch(r"[\d./ :]+", date)  # read in the page's order, given as ISO
    assert [item.date for item in detection.items] == [
        parsed.isoformat()[: 16 if ":" in date else 10] if numeric else date
    ] * 5


def test_links_resolve_against_base_href() -> None:
    rows = "".join(
        f'<tr><td>0{i}.12.2024</td><td><a href="{i}.html">Release number {i} with a title</a>'
        "</td></tr>"
        for i in range(1, 5)
    )
    html = f'<head><base href="https://cdn.example.org/press/"></head><table>{rows}</table>'
    detection = detect(_tree(html), "https://example.org/press/list/")
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
    detection = detect(_tree(html), "https://example.org/news/")
    assert isinstance(detection.items, tuple)


CARDS = "".join(
    f'<a class="card" href="/stories/story-{i}/"><img src="{i}.jpg"><h3>Story number {i} of the '
    f'week</h3><time datetime="2024-12-{10 + i}">{10 + i} Dec</time><p>A teaser of story {i}, '
    "long enough to count.</p></a>"
    for i in range(4)
)


def test_cards_that_are_links() -> None:
    """The whole card is the link: the item's own href, the summary inside the link."""
    root = _tree(f'<main><div class="grid">{CARDS}</div></main>')
    detection = detect(root, "https://example.org/stories/")
    assert [item.link for item in detection.items] == [
        f"https://example.org/stories/story-{i}/" for i in range(4)
    ]
    assert detection.items[0].summary == "A teaser of story 0, long enough to count."
    assert detection.selectors is not None
    assert detection.selectors.link == "@href"
    assert _apply(root, "https://example.org/stories/", detection) == [
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
    detection = detect(_tree(f"<div>{html}</div>"), "https://example.ru/lenta/")
    assert len(detection.items) == sum(days.values())


def _dated_rows(dates: list[str], lang: str = "", extra: str = "") -> HtmlElement:
    rows = "".join(
        f'<li><span class="when">{date}</span> <a href="/press/release-{i}/">Press release number'
        f" {i} with a longer title</a></li>"
        for i, date in enumerate(dates)
    )
    return _tree(f'<html{lang}><body><ul class="list">{rows}</ul>{extra}</body></html>')


@pytest.mark.parametrize(
    ("dates", "lang", "extra", "expected"),
    [
        # a first field over 12 in any item: day first, whatever the language says
        (["05.12.15", "13.11.15", "02.11.15"], ' lang="en-US"', "", ["2015-12-05", "2015-11-13"]),
        # a second field over 12: month first
        (["05.12.15", "05.19.15", "04.02.15"], "", "", ["2015-05-12", "2015-05-19"]),
        # the items fit both orders: a date standing alone elsewhere on the page decides
        (["05.12.15", "05.11.15", "04.02.15"], "", "<p><b>12.19.14</b></p>", ["2015-05-12"]),
        # both orders fit everywhere: the page's language (en-US writes the month first)
        (["05.12.15", "05.11.15", "04.02.15"], ' lang="en-US"', "", ["2015-05-12"]),
        (["05.12.15", "05.11.15", "04.02.15"], ' lang="en-GB"', "", ["2015-12-05"]),
        (["05.12.15", "05.11.15", "04.02.15"], "", "", ["2015-12-05"]),
        # one order puts a date in the future (the clock is 27 November 2026)
        (["12.05.26", "11.04.26", "10.03.26"], ' lang="en-US"', "", ["2026-05-12"]),
        (
            ["01/02/2024 14:30", "03/01/2024 09:05", "04/02/2024 10:00"],
            "",
            "",
            ["2024-02-01T14:30"],
        ),
    ],
)
def test_numeric_dates_are_read_in_the_one_order_the_page_allows(
    dates: list[str], lang: str, extra: str, expected: list[str]
) -> None:
    detection = detect(_dated_rows(dates, lang, extra), "https://example.org/press/", CLOCK)

    assert [item.date for item in detection.items][: len(expected)] == expected
    assert detection.selectors is not None
    date_format = detection.selectors.date_format
    assert date_format is not None
    assert [
        parse_date(date, CLOCK, date_format) == parse_date(item.date, CLOCK)
        for date, item in zip(dates, detection.items, strict=True)
    ] == [True] * len(dates)


@pytest.mark.parametrize(
    ("name", "date_format"),
    [("us-press-month-first", "%m.%d.%y"), ("typo3-zebra-news", "%d.%m.%Y")],
)
def test_suggested_date_format_pins_the_order(name: str, date_format: str) -> None:
    _, _, detection = _detect(name)
    assert detection.selectors is not None
    assert detection.selectors.date_format == date_format


def test_a_version_number_is_no_date() -> None:
    rows = "".join(
        f'<div class="post"><h2><a href="/blog/post-{i}/">Post number {i} about the upgrade'
        "</a></h2><p>Squid 4.0.23 through 4.7 is affected</p>"
        f"<p class='posted'>Posted on 0{i + 1}.03.2024</p></div>"
        for i in range(4)
    )
    detection = detect(_tree(f"<main>{rows}</main>"), "https://example.org/blog/", CLOCK)
    assert [item.date for item in detection.items] == [f"2024-03-0{i + 1}" for i in range(4)]


RELEASE = """<div class="release"><div class="side"><a href="/o/p/commit/{sha}">{sha}</a></div>
<div class="head"><a href="/o/p/releases/tag/v1.{i}">Version 1.{i}: the {month} release</a></div>
<relative-time datetime="2024-0{m}-01T00:00:00Z">1 {month}</relative-time>
<div class="notes"><h3><a href="/o/p/milestone/{i}">Milestone {i}: everything it fixed</a></h3>
<p>This release fixes the crash on start-up that several people reported in
<a href="/o/p/issues/{i}00">issue {i}00</a>, and makes the parser twice as fast on big
files.</p></div>
<a href="/o/p/archive/v1.{i}.tar.gz">Source code (tar.gz)</a></div>"""


def test_the_item_link_is_the_one_its_siblings_share() -> None:
    """Not the download, the commit, the issue the notes mention, nor the link of the notes'
    heading although every release has one (it comes after the release's own link): the link
    whose shape every release has, under the listing's path."""
    html = "".join(
        RELEASE.format(i=i, sha=f"ab{i}cd{i}", m=i + 1, month=["Jan", "Feb", "Mar", "Apr"][i])
        for i in range(4)
    )
    detection = detect(_tree(f"<main>{html}</main>"), "https://example.org/o/p/releases", CLOCK)
    assert [(item.title, item.link) for item in detection.items] == [
        (f"Version 1.{i}: the {month} release", f"https://example.org/o/p/releases/tag/v1.{i}")
        for i, month in enumerate(["Jan", "Feb", "Mar", "Apr"])
    ]


def test_a_title_leading_its_cell_is_no_mention_in_prose() -> None:
    """A link with words before it in a long paragraph is a mention; one that starts the
    cell, its description after it, is the item's title (not the PDF beside it)."""
    rows = "".join(
        f'<tr><td>0{i + 1}.03.2024</td><td><a href="/press/statement-{i}/">Statement {i}</a><br>'
        "A longer description of the statement follows the title here, as some tables do, "
        f'over a sentence or two.</td><td><a href="/files/statement-{i}.pdf">PDF</a></td></tr>'
        for i in range(4)
    )
    detection = detect(_tree(f"<table>{rows}</table>"), "https://example.org/press/", CLOCK)
    assert [item.link for item in detection.items] == [
        f"https://example.org/press/statement-{i}/" for i in range(4)
    ]


def test_wordpress_plain_permalinks_are_items_and_its_pager_is_not() -> None:
    """A WordPress article is "?p=1230" (plain permalinks); "?paged=2" is its pager."""
    posts = "".join(
        f'<article class="post"><h2><a href="/?p={1230 + i}">Council approves budget line {i}'
        f"</a></h2><p>A teaser for post {i}, long enough to count.</p></article>"
        for i in range(6)
    )
    pager = '<div><a href="/?paged=2">2</a> <a href="/?paged=3">3</a></div>'
    detection = detect(_tree(f"<main>{posts}{pager}</main>"), "https://example.org/", CLOCK)
    assert [item.link for item in detection.items] == [
        f"https://example.org/?p={1230 + i}" for i in range(6)
    ]


def test_a_featured_first_card_is_an_item_too() -> None:
    """The newest card often carries one more class ("post-card post-card-large")."""
    cards = "".join(
        f'<article class="post-card{" post-card-large" if i == 0 else ""}">'
        f'<a class="post-card-link" href="/blog/story-{i}/"><h2>Story number {i} with a title'
        f"</h2><p>A teaser of story {i}, long enough to count.</p></a></article>"
        for i in range(6)
    )
    root = _tree(f'<main><div class="post-feed">{cards}</div></main>')
    detection = detect(root, "https://example.org/blog/", CLOCK)
    assert [item.link for item in detection.items] == [
        f"https://example.org/blog/story-{i}/" for i in range(6)
    ]
    assert detection.selectors is not None
    assert detection.selectors.item == "article.post-card"


def test_a_date_opening_a_longer_text_is_the_items_date() -> None:
    """Card grids often open the description with the date: "04.12.2024 · The council..."."""
    cards = "".join(
        f'<div class="card"><a class="card-link" href="/news/story-{i}/">'
        f'<div class="card-title">Story number {i} with a title</div>'
        f'<div class="card-descr">0{i + 1}.12.2024 · The council met on the day to discuss '
        f"the budget, the water supply and the roads of the region.</div></a></div>"
        for i in range(6)
    )
    detection = detect(_tree(f"<main>{cards}</main>"), "https://example.org/news/", CLOCK)
    assert [item.date for item in detection.items] == [f"2024-12-0{i + 1}" for i in range(6)]


def test_items_under_date_headings_take_their_headings_date() -> None:
    """<h3>Friday, 04 December 2026</h3><ul><li>…</li></ul>: every item of every day, dated,
    and a pinned date selector that reads the heading back."""
    days = {"Friday, 20 November 2026": 1, "Wednesday, 18 November 2026": 3, "17 November 2026": 2}
    html = "<h1>What's new</h1><p>Latest updates, grouped by day.</p>" + "".join(
        f'<h3 class="day-heading">{day}</h3><ul class="updates">'
        + "".join(
            f'<li><a href="/updates/{n}-{i}/">Update number {i} of day {n} with a title</a>'
            ' <span class="dept">— Transport department</span></li>'
            for i in range(count)
        )
        + "</ul>"
        for n, (day, count) in enumerate(days.items())
    )
    root = _tree(f"<main>{html}</main>")
    detection = detect(root, "https://example.org/whats-new/", CLOCK)
    expected = [day.split(", ")[-1] for day, count in days.items() for _ in range(count)]
    assert [item.date for item in detection.items] == expected
    assert detection.selectors is not None
    assert detection.selectors.date == "xpath:string(../preceding-sibling::h3[1])"
    assert _apply(root, "https://example.org/whats-new/", detection) == [
        (item.link, item.title) for item in detection.items
    ]
    source = Source(id="new", url="https://example.org/whats-new/", select=detection.selectors)
    page = Fetched(
        url=source.url,
        status=200,
        body=f"<html><body><main>{html}</main></body></html>".encode(),
        content_type="text/html",
        charset="utf-8",
        validators=Validators(),
    )
    _, items = normalized_items(source, page, now=CLOCK, fetch=_no_fetch)
    assert [item.published.date().isoformat() for item in items] == [
        "2026-11-20", "2026-11-18", "2026-11-18", "2026-11-18", "2026-11-17", "2026-11-17"
    ]  # fmt: skip


def _no_fetch(url: str) -> Fetched:
    raise AssertionError(f"no fetching here: {url}")
