"""`feedtool opml`: an OPML 2.0 subscription list of every published feed; and
`feedtool import-opml FILE`: a reader's subscription list as `type = "feed"` sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from feedtool import config
from feedtool.errors import ConfigError
from feedtool.model import Config
from feedtool.store import Store


def opml(config: Config) -> str:
    """Sources not yet published still get an outline: their feed appears on the first run."""
    titles: dict[str, str | None] = {}
    store = Store.open_existing(config.settings.state_dir)
    if store is not None:
        with store:
            titles = {state.id: state.title for state in store.sources()}
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "feedtool feeds"
    body = ET.SubElement(root, "body")
    for source in config.sources:
        title = source.title or titles.get(source.id) or source.id
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=title,
            title=title,
            xmlUrl=urljoin(config.settings.base_url, f"{source.id}.atom.xml"),
            htmlUrl=source.url,
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# --- import ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outline:
    """One subscription of an OPML file: its feed URL, title and the folders it sits in."""

    xml_url: str
    title: str | None
    folders: tuple[str, ...] = ()


def outlines(data: bytes) -> list[Outline]:
    """Every outline with an xmlUrl, at any depth (readers export folders as outlines that
    hold outlines), in document order.

    Parsed with defusedxml: no DTD entities (billion laughs), no external entities or
    network access (XXE), whatever the file says. ConfigError when it is no OPML.
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(data)
    except (ET.ParseError, DefusedXmlException) as e:
        raise ConfigError(f"not an OPML file: {e}") from None
    body = root.find("body") if root.tag == "opml" else None
    if body is None:
        raise ConfigError(f"not an OPML file: the root is <{root.tag}>, without <body>")
    found: list[Outline] = []

    def walk(element: ET.Element, folders: tuple[str, ...]) -> None:
        for outline in element.findall("outline"):
            attributes = {key.lower(): value for key, value in outline.attrib.items()}
            title = (attributes.get("title") or attributes.get("text") or "").strip() or None
            url = (attributes.get("xmlurl") or "").strip()
            if url:
                found.append(Outline(url, title, folders))
            walk(outline, (*folders, title) if title and not url else folders)

    walk(body, ())
    return found


@dataclass(frozen=True, slots=True)
class Imported:
    added: list[tuple[str, str]]  # (id, url)
    skipped: list[tuple[str, str]]  # (url, why)


def import_opml(config_path: Path, data: bytes) -> Imported:
    """Add every feed of the OPML file as a `type = "feed"` source to the config file.

    Ids come from the titles (else the host and path), made unique; a feed whose URL the
    config already has (or that the file lists twice) is skipped with a note. The file keeps
    its comments and layout; nothing is written unless the result loads as a config.
    """
    from feedtool import configedit
    from feedtool.preview import suggest_id

    document = configedit.read(config_path)
    known = configedit.source_urls(document)
    taken = set(configedit.source_ids(document))
    added: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    tables = []
    for outline in outlines(data):
        if config.url_problem(outline.xml_url):
            skipped.append((outline.xml_url, "not an http(s) URL"))
            continue
        key = configedit.url_key(outline.xml_url)
        if key in known:
            skipped.append((outline.xml_url, f"already in the config as {known[key]!r}"))
            continue
        wanted = configedit.slug(outline.title or "") or suggest_id(outline.xml_url)
        source_id = configedit.unique_id(wanted, taken)
        taken.add(source_id)
        known[key] = source_id
        values = {"id": source_id, "title": outline.title, "url": outline.xml_url, "type": "feed"}
        values = {key: value for key, value in values.items() if value is not None}
        folder = " / ".join(outline.folders)
        tables.append(configedit.source_table(values, f"folder: {folder}" if folder else None))
        added.append((source_id, outline.xml_url))
    if tables:
        configedit.append_sources(document, tables)
        configedit.write(config_path, document)
    return Imported(added=added, skipped=skipped)
