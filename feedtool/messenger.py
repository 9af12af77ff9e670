"""Apprise behind two calls: can it use this URL, and send one message.

Loading Apprise's plugins to judge a URL takes about a fifth of a second, which a routine run
(nothing new, nothing to send) should not pay. So the URLs Apprise accepted are remembered in
the state directory, by digest (a URL holds secrets), and only a new or changed URL loads it.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ACCEPTED = "notify-urls.accepted"  # in state_dir: one digest per line


def accepts(url: str, state_dir: Path | None = None) -> bool:
    """Whether Apprise understands the URL; a yes is remembered in `state_dir`, if given."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    remembered = state_dir / ACCEPTED if state_dir is not None else None
    if remembered is not None and digest in _lines(remembered):
        return True
    import apprise

    with _apprise_log():
        accepted = bool(apprise.Apprise().add(url))
    if accepted and remembered is not None:
        try:
            remembered.parent.mkdir(parents=True, exist_ok=True)
            with remembered.open("a", encoding="ascii") as file:
                file.write(digest + "\n")
        except OSError:
            pass  # only a cache: the next load asks Apprise again
    return accepted


def send(url: str, title: str, body: str) -> str | None:
    """Deliver one message; the error Apprise logged on failure, None on success."""
    import apprise  # costly to import; only runs that have something to send need it

    notifier = apprise.Apprise()
    with _apprise_log() as captured:
        ok = notifier.add(url) and bool(notifier.notify(title=title, body=body))
    if ok:
        return None
    lines = [line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines() if line.strip()]
    return lines[-1] if lines else "delivery failed"


def _lines(path: Path) -> set[str]:
    try:
        return set(path.read_text(encoding="ascii").split())
    except (OSError, UnicodeDecodeError):
        return set()


@contextmanager
def _apprise_log() -> Iterator[io.StringIO]:
    """Apprise's log lines, kept from stderr: they can print a URL with its secrets."""
    import apprise

    logger = logging.getLogger("apprise")
    propagate = logger.propagate
    logger.propagate = False
    try:
        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call,unused-ignore]
            yield captured
    finally:
        logger.propagate = propagate
