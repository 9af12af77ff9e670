"""`feedtool opml`: an OPML 2.0 subscription list of every published feed."""

from __future__ import annotations

from urllib.parse import urljoin
from xml.etree import ElementTree as ET

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
