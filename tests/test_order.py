"""Items of one day keep the page's order in readers that sort by date, and no two entries of
a feed share `updated`; neither moves an item to another calendar day."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from feedtool.cli import main
from feedtool.model import StoredItem
from feedtool.publish import FeedInfo, render
from tests.conftest import Site, html_source, listing, news_items, write_config
from tests.feedcheck import ATOM_NS, assert_valid_atom, parse_clean

FEED = FeedInfo(id="news", title="News", site_url="https://example.org/news/")
DAY = datetime(2024, 12, 20, tzinfo=UTC)


def item(n: int, published: datetime, **changes: object) -> StoredItem:
    fields: dict[str, object] = {
        "source_id": FEED.id,
        "key": f"https://example.org/news/{n}",
        "title": f"Story {n}",
        "link": f"https://example.org/news/{n}",
        "published": published,
        "date_inferred": False,
        "updated": published,
        "first_seen": DAY + timedelta(days=30),
    }
    fields.update(changes)
    return StoredItem(**fields)  # type: ignore[arg-type]


def by_date(atom: bytes) -> list[str]:
    """Titles as a reader sorting by date shows them: newest first (a stable sort)."""
    entries = parse_clean(atom).entries
    ordered = sorted(entries, key=lambda e: calendar.timegm(e.published_parsed), reverse=True)
    return [entry.title for entry in ordered]


def updated_values(atom: bytes) -> list[str]:
    root = etree.fromstring(atom)
    return [str(e.findtext(f"{ATOM_NS}updated")) for e in root.iter(f"{ATOM_NS}entry")]


def test_date_only_items_of_one_day_keep_the_page_order_within_their_day() -> None:
    # newest first, as the store gives them: four stories of one day in page order, then one
    # of the day before
    items = [item(n, DAY) for n in range(4)] + [item(9, DAY - timedelta(days=1))]

    atom = render(FEED, items, "https://feeds.example.org/")[".atom.xml"]

    assert_valid_atom(atom)
    assert by_date(atom) == ["Story 0", "Story 1", "Story 2", "Story 3", "Story 9"]
    entries = parse_clean(atom).entries
    assert {e.published_parsed[:3] for e in entries[:4]} == {(2024, 12, 20)}  # the same day
    assert entries[4].published_parsed[:6] == (2024, 12, 19, 0, 0, 0)  # alone: still midnight
    assert len(set(updated_values(atom))) == 5
    assert render(FEED, items, "https://feeds.example.org/") == render(
        FEED, items, "https://feeds.example.org/"
    )


def test_a_new_item_on_top_of_its_day_leaves_the_others_times_alone() -> None:
    before = render(FEED, [item(n, DAY) for n in range(3)], "https://x.test/")[".json"]
    after = render(FEED, [item(n, DAY) for n in (7, 0, 1, 2)], "https://x.test/")[".json"]
    old = {i["title"]: i["date_published"] for i in json.loads(before)["items"]}
    new = {i["title"]: i["date_published"] for i in json.loads(after)["items"]}
    assert {title: new[title] for title in old} == old
    assert new["Story 7"] > max(old.values())


def test_equal_updated_times_are_made_distinct_within_the_same_day() -> None:
    noon = DAY.replace(hour=12)
    late = DAY.replace(hour=23, minute=59, second=59)
    items = [
        item(1, noon),
        item(2, noon),
        item(3, DAY - timedelta(days=2), updated=noon),  # an update at the same second
        item(4, late),
        item(5, late),
    ]

    atom = render(FEED, items, "https://x.test/")[".atom.xml"]

    assert_valid_atom(atom)
    values = updated_values(atom)
    assert len(set(values)) == len(values)
    assert all(v.startswith("2024-12-20T") for v in values)  # never another calendar day
    assert values[0] == "2024-12-20T12:00:00+00:00"  # the first keeps its time
    assert values[1] == "2024-12-20T11:59:59+00:00"  # a later one moves below it


def test_a_run_publishes_same_day_items_in_page_order_and_a_rerun_the_same_bytes(
    site: Site, tmp_path: Path
) -> None:
    same_day = [("29.12.2024", f"Same day story {i}", f"/news/same-{i}/") for i in range(5)]
    site.page("/news/", listing(same_day + news_items(3)))
    config = write_config(tmp_path, html_source("news", site.url + "/news/"))
    assert main(["--config", str(config), "run"]) == 0
    public = tmp_path / "public"
    first = {p.name: p.read_bytes() for p in public.iterdir()}

    atom = first["news.atom.xml"]
    assert_valid_atom(atom)
    assert by_date(atom) == [t for _, t, _ in same_day] + [t for _, t, _ in news_items(3)]
    assert len(set(updated_values(atom))) == 8
    for path in public.iterdir():
        path.unlink()
    assert main(["--config", str(config), "run", "--force"]) == 0
    assert {p.name: p.read_bytes() for p in public.iterdir()} == first


def test_entries_sharing_one_instant_are_never_updated_before_published() -> None:
    """Three items of one feed with the same pubDate (10:00): updated moves to free seconds
    below, and published with it."""
    ten = DAY.replace(hour=10)
    atom = render(FEED, [item(n, ten) for n in range(3)], "http://feeds.test/")[".atom.xml"]
    entries = parse_clean(atom).entries
    assert len({e.updated for e in entries}) == 3
    for entry in entries:
        assert entry.updated_parsed >= entry.published_parsed, entry.title
    document = json.loads(render(FEED, [item(n, ten) for n in range(3)], "http://f.test/")[".json"])
    for entry in document["items"]:
        assert entry["date_modified"] >= entry["date_published"]
