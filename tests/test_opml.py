"""OPML out (`feedtool opml`) and in (`feedtool import-opml`), keeping the config's comments."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from feedtool import config
from feedtool.cli import main
from tests.conftest import html_source, write_config

# As feed readers export them: folders are outlines holding outlines (Feedly, Inoreader,
# NetNewsWire), attributes in mixed case, a feed listed in two folders.
NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions in Feedly</title></head>
  <body>
    <outline text="Tech" title="Tech">
      <outline type="rss" text="Ars Technica" title="Ars Technica"
               xmlUrl="https://feeds.arstechnica.com/arstechnica/index" htmlUrl="https://arstechnica.com"/>
      <outline type="rss" text="LWN.net" title="LWN.net" xmlUrl="https://lwn.net/headlines/rss"/>
      <outline text="Deeper">
        <outline type="rss" text="Новости" xmlurl="https://example.ru/news/rss.xml"/>
      </outline>
    </outline>
    <outline text="News">
      <outline type="rss" text="LWN.net" title="LWN.net" xmlUrl="http://www.lwn.net/headlines/rss/"/>
      <outline type="rss" text="Ars Technica" title="Ars Technica" xmlUrl="https://arstechnica.com/feed/"/>
    </outline>
    <outline type="rss" text="Already here" xmlUrl="https://press.example.org/feed.xml"/>
    <outline type="rss" text="No scheme" xmlUrl="feed://weird.example/rss"/>
    <outline type="rss" text="Broken host" xmlUrl="http://[::1/rss"/>
  </body>
</opml>
"""

CONFIG = """# My feeds: keep this comment
[settings]
state_dir = "state"   # next to this file
output_dir = "public"

[[sources]]
id = "press"          # the press office
url = "https://press.example.org/feed.xml"
type = "feed"

[[notify]]
url = "json://127.0.0.1:9/hook"
"""


def test_a_nested_reader_export_is_imported_keeping_the_configs_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_text(CONFIG)
    opml = tmp_path / "feedly.opml"
    opml.write_text(NESTED)

    assert main(["-c", str(path), "import-opml", str(opml)]) == 0

    out = capsys.readouterr().out
    text = path.read_text()
    for kept in ("# My feeds: keep this comment", "# next to this file", "# the press office"):
        assert kept in text
    sources = tomllib.loads(text)["sources"]
    assert [(s["id"], s["url"], s["type"]) for s in sources] == [
        ("press", "https://press.example.org/feed.xml", "feed"),
        ("ars-technica", "https://feeds.arstechnica.com/arstechnica/index", "feed"),
        ("lwn-net", "https://lwn.net/headlines/rss", "feed"),
        ("example-ru-news-rss-xml", "https://example.ru/news/rss.xml", "feed"),
        ("ars-technica-2", "https://arstechnica.com/feed/", "feed"),
    ]
    assert sources[1]["title"] == "Ars Technica"
    assert "# folder: Tech / Deeper" in text
    assert "skipped http://www.lwn.net/headlines/rss/: already in the config as 'lwn-net'" in out
    assert "skipped https://press.example.org/feed.xml: already in the config as 'press'" in out
    assert "skipped feed://weird.example/rss: not an http(s) URL" in out
    assert "skipped http://[::1/rss: not an http(s) URL" in out
    assert "4 feeds added" in out
    assert config.load(path).notify  # still a valid config, notify table intact
    # importing again adds nothing
    assert main(["-c", str(path), "import-opml", str(opml)]) == 0
    assert "0 feeds added" in capsys.readouterr().out
    assert len(tomllib.loads(path.read_text())["sources"]) == 5


def test_an_exported_opml_imported_into_an_empty_config_gives_the_same_feeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a"
    first.mkdir()
    source = write_config(
        first,
        html_source("csto-news", "https://en.odkb-csto.org/news/", 'title = "CSTO news"')
        + html_source("un-press", "https://press.example.org/", 'title = "UN — press"'),
    )
    assert main(["-c", str(source), "opml"]) == 0
    exported = capsys.readouterr().out
    (tmp_path / "feeds.opml").write_text(exported)

    empty = tmp_path / "b" / "feedtool.toml"
    assert main(["-c", str(empty), "init"]) == 0
    assert main(["-c", str(empty), "import-opml", str(tmp_path / "feeds.opml")]) == 0
    imported = config.load(empty)

    assert [(s.url, s.title, s.type) for s in imported.sources] == [
        ("http://feeds.example.test/csto-news.atom.xml", "CSTO news", "feed"),
        ("http://feeds.example.test/un-press.atom.xml", "UN — press", "feed"),
    ]
    capsys.readouterr()
    assert main(["-c", str(empty), "opml"]) == 0
    again = capsys.readouterr().out
    assert [
        line.split('title="')[1].split('"')[0] for line in again.splitlines() if "xmlUrl" in line
    ] == [
        "CSTO news",
        "UN — press",
    ]


@pytest.mark.parametrize(
    "hostile",
    [
        # XXE: an external entity reading a local file
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>',
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        '<opml version="2.0"><body><outline text="&b;" xmlUrl="https://a.example/"/></body></opml>',
        "<html><body>not opml</body></html>",
        "not xml at all",
    ],
)
def test_hostile_or_wrong_files_are_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hostile: str
) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_text(CONFIG)
    opml = tmp_path / "bad.opml"
    opml.write_text(hostile)
    assert main(["-c", str(path), "import-opml", str(opml)]) == 2
    assert "not an OPML file" in capsys.readouterr().err
    assert path.read_text() == CONFIG


def test_import_into_a_missing_config_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "f.opml"
    opml.write_text(NESTED)
    assert main(["-c", str(tmp_path / "nope.toml"), "import-opml", str(opml)]) == 2
    assert "feedtool init" in capsys.readouterr().err
