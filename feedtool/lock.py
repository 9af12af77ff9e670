"""The cron lock: one `feedtool run` at a time per state directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from feedtool.errors import StateError

LOCK_NAME = "feedtool.lock"


class AlreadyRunning(Exception):
    """Another run holds the lock."""


@contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock, or raise AlreadyRunning at once (never wait)."""
    lock = FileLock(state_dir / LOCK_NAME)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyRunning(str(state_dir / LOCK_NAME)) from None
    except OSError as e:
        if state_dir.exists() and not state_dir.is_dir():
            raise StateError(f"state_dir {state_dir} is a file, not a folder") from e
        raise StateError(f"cannot lock {state_dir / LOCK_NAME}: {e.strerror or e}") from e
    try:
        yield
    finally:
        lock.release()
