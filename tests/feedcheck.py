"""Checks for the feeds feedtool publishes, shared by the test modules.

`assert_valid_atom` = the RFC 4287 RELAX NG schema plus the cross-element rules the schema
cannot express; `parse_clean` = feedparser must read the document without complaint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path

import feedparser
from lxml import etree

from feedtool.model import Item, StoredItem

ATOM_NS = "{http://www.w3.org/2005/Atom}"
ATOM_SCHEMA = Path(__file__).parent / "schemas" / "atom.rng"


@cache
def _atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(file=str(ATOM_SCHEMA))


def assert_valid_atom(xml_bytes: bytes) -> None:
    """Fail unless `xml_bytes` is an Atom feed valid against RFC 4287."""
    root = etree.fromstring(xml_bytes)
    schema = _atom_schema()
    assert schema.validate(root), str(schema.error_log)

    entries = root.findall(f"{ATOM_NS}entry")
    # 4.1.1: a feed has an author unless every entry has one.
    if root.find(f"{ATOM_NS}author") is None:
        missing = [
            e.findtext(f"{ATOM_NS}id") for e in entries if e.find(f"{ATOM_NS}author") is None
        ]
        assert not missing, f"no feed author and entries without author: {missing}"
    # 4.1.1: entry ids are unique within a feed (same id = same entry, so one instance here).
    ids = Counter(e.findtext(f"{ATOM_NS}id") for e in entries)
    duplicates = [entry_id for entry_id, count in ids.items() if count > 1]
    assert not duplicates, f"duplicate entry ids: {duplicates}"
    # 4.1.2: an entry without an alternate link has content.
    for entry in entries:
        links = entry.findall(f"{ATOM_NS}link")
        has_alternate = any(link.get("rel", "alternate") == "alternate" for link in links)
        assert has_alternate or entry.find(f"{ATOM_NS}content") is not None, (
            f"entry {entry.findtext(f'{ATOM_NS}id')} has neither alternate link nor content"
        )


def parse_clean(xml_bytes: bytes) -> feedparser.FeedParserDict:
    """Parse with feedparser and fail if it found the document malformed (bozo)."""
    result = feedparser.parse(xml_bytes)
    assert not result.bozo, repr(result.get("bozo_exception"))
    return result


def stored(items: Sequence[Item], source_id: str, seen: datetime) -> list[StoredItem]:
    """Items as the store keeps and returns them: first sighting of a key, newest first."""
    unique: dict[str, tuple[int, Item]] = {}
    for position, item in enumerate(items):
        unique.setdefault(item.key, (position, item))
    ordered = sorted(unique.values(), key=lambda pair: (-pair[1].published.timestamp(), pair[0]))
    return [
        StoredItem(
            source_id=source_id,
            key=item.key,
            title=item.title,
            link=item.link,
            published=item.published,
            date_inferred=item.date_inferred,
            updated=item.published,
            first_seen=seen,
            summary=item.summary,
            content=item.content,
        )
        for _, item in ordered
    ]
