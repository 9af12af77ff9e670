"""Changes to feedtool.toml made by commands (`add`, `import-opml`), keeping the file's
comments and layout (tomlkit), checked to load as a config before they replace the file.

A command never writes a file that `feedtool run` would then refuse: the new text is parsed
and validated like any config first, and replaces the old one atomically (temp file, rename),
with the old file's permissions.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument

from feedtool import config
from feedtool.errors import ConfigError
from feedtool.files import replace_atomically
from feedtool.model import Config

MAX_ID = 48


def read(path: Path) -> TOMLDocument:
    """The config file as an editable document; ConfigError when missing or not TOML."""
    try:
        return tomlkit.parse(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path.absolute()}: config file not found (create one with `feedtool init`)"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except (UnicodeDecodeError, tomlkit.exceptions.ParseError) as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def source_ids(document: TOMLDocument) -> list[str]:
    return [str(table.get("id")) for table in document.get("sources", [])]


def source_urls(document: TOMLDocument) -> dict[str, str]:
    """url_key(url) -> id of every configured source."""
    return {url_key(str(t.get("url"))): str(t.get("id")) for t in document.get("sources", [])}


def source_table(values: Mapping[str, Any], comment: str | None = None) -> Table:
    """A [[sources]] entry: keys in the order given; a dict value becomes a sub-table
    ([sources.select]); `comment` goes on a line of its own at the top."""
    table = tomlkit.table()
    if comment:
        table.add(tomlkit.comment(comment))
    for key, value in values.items():
        if isinstance(value, Mapping):
            sub = tomlkit.table()
            for sub_key, sub_value in value.items():
                sub[sub_key] = sub_value
            table[key] = sub
        else:
            table[key] = value
    return table


def append_sources(document: TOMLDocument, tables: Sequence[Table]) -> None:
    """Add the tables after the last [[sources]] (or at the end of a file without any)."""
    if "sources" not in document:
        if not tomlkit.dumps(document).endswith("\n\n"):
            document.add(tomlkit.nl())  # a blank line between what was there and the sources
        document["sources"] = tomlkit.aot()
    sources = document["sources"]
    assert isinstance(sources, AoT)
    for table in tables:
        sources.append(table)


def block(table: Table) -> str:
    """The [[sources]] block of one table, as it is written to the file."""
    document = tomlkit.document()
    append_sources(document, [table])
    return tomlkit.dumps(document).strip() + "\n"


def check(document: TOMLDocument, path: Path) -> Config:
    """The document as a config (ConfigError names what is wrong); secrets unexpanded."""
    return config.parse(tomllib.loads(tomlkit.dumps(document)), path, secrets=False)


def write(path: Path, document: TOMLDocument) -> Config:
    """Check the document, then replace the file with it, keeping its permissions."""
    checked = check(document, path)
    text = tomlkit.dumps(document)
    if not text.endswith("\n"):
        text += "\n"
    replace_atomically(path, text.encode(), mode=path.stat().st_mode & 0o777)
    return checked


def slug(text: str) -> str:
    """An id from a title: ASCII letters and digits joined by "-" ("Ars Technica — All" gives
    "ars-technica-all"); empty when nothing is left (a title in Cyrillic)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:MAX_ID].rstrip("-")


def unique_id(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`... whichever is not taken."""
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted[: MAX_ID - 4]}-{number}" in taken:
        number += 1
    return f"{wanted[: MAX_ID - 4]}-{number}"


def url_key(url: str) -> str:
    """What makes two feed URLs the same subscription: scheme, "www.", case of the host and
    a trailing slash do not count."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = parts.netloc
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{port}{parts.path.rstrip('/')}{query}"
