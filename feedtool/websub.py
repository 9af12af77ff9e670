"""WebSub: telling a hub that feeds changed, so it pushes them to subscribers at once.

Readers that subscribed through the hub named in every feed (`hub` in [settings]) hear of
a new item within seconds instead of at their next poll. The ping is the publish request
hubs have taken since PubSubHubbub: a form POST of hub.mode=publish and hub.url=<topic>,
one per changed file, since each published file is a topic of its own (its self link).

A ping is a courtesy, never a duty of the run: subscribers still poll, so a hub that is down
costs one WARNING line and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

logger = logging.getLogger(__name__)

Post = Callable[[str, Mapping[str, str]], object]  # HttpFetcher.post_form


class Hub:
    """A WebSub hub and the HTTP client that reaches it."""

    def __init__(self, url: str, post: Post) -> None:
        self.url = url
        self._post = post

    def ping(self, topics: Sequence[str]) -> bool:
        """Announce each changed feed (its public URL) to the hub, in order; False on failure.

        The first failure ends the pings with one WARNING: a hub that refuses one refuses
        the rest, and a run must not log (or wait for) a failure per feed. Never raises.
        """
        for done, topic in enumerate(topics):
            try:
                self._post(self.url, {"hub.mode": "publish", "hub.url": topic})
            except Exception as e:  # FetchError, Interrupted, or a bug: the feeds stand anyway
                logger.warning(
                    "websub hub %s: %s; %d changed feed(s) not announced",
                    self.url,
                    e,
                    len(topics) - done,
                )
                return False
        return True
