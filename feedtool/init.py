"""`feedtool init`: a commented starter config, so nobody starts from a blank file."""

from __future__ import annotations

from pathlib import Path

from feedtool.errors import UsageError

STARTER = """\
# feedtool configuration. Every key is explained in the README ("Configuration").
# Add sources with `feedtool add URL` (it finds the feed or the items for you),
# or import a feed reader's subscriptions with `feedtool import-opml FILE.opml`.

[settings]
state_dir  = "state"                    # SQLite state, relative to this file
output_dir = "public"                   # <id>.atom.xml, <id>.rss.xml, <id>.json
base_url   = "http://localhost:8080/"   # where output_dir is served (`feedtool serve`)
max_items  = 50                         # entries in each published feed
# timeout = 20                          # seconds to wait for a server
# allow_private_addresses = true        # false: never connect to loopback/private addresses
# hub = "https://websub.example.org/"   # a WebSub hub, told at once when a feed changes

# A news listing without a feed: items are detected automatically,
# or pinned with CSS selectors (`feedtool preview URL` prints them).
# [[sources]]
# id       = "example-news"             # a-z, 0-9 and -; names the feed files
# url      = "https://example.org/news/"
# interval = "30m"                      # 45s, 30m, 2h, 1d
# [sources.select]
# item  = ".news-item"
# title = ".title"
# link  = "a@href"
# date  = ".date"

# An existing RSS/Atom/JSON feed, republished and filtered.
# [[sources]]
# id      = "example-feed"
# url     = "https://example.org/feed.xml"
# type    = "feed"
# include = ["security"]                # regular expressions on title and summary

# Alerts: any Apprise URL; ${NAME} is read from the environment.
# [[notify]]
# url = "ntfys://${NTFY_TOKEN}@ntfy.sh/my-topic"
"""


def init(path: Path) -> None:
    """Write the starter config at `path`; an existing file is never overwritten (exit 2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(STARTER)
    except FileExistsError:
        raise UsageError(f"{path} exists; not overwritten (remove it first)") from None
