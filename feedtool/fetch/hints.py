"""The server's hints on when to come back: Retry-After, Cache-Control, Expires."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from feedtool.model import MAX_HOLD, utc_now


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from Retry-After (delta-seconds or an HTTP-date), at most MAX_HOLD."""
    value = headers.get("Retry-After", "").strip()
    if value.isdigit():
        return _hold(float(value))
    return _hold(_seconds_until(value, headers))


def fresh_for(headers: Mapping[str, str]) -> float | None:
    """Seconds the response stays fresh: Cache-Control max-age (less Age), else Expires - Date.

    None when the server says nothing or forbids reuse (no-cache, no-store); s-maxage is for
    shared caches, not us. At most MAX_HOLD.
    """
    directives: dict[str, str] = {}
    for part in headers.get("Cache-Control", "").split(","):
        name, _, value = part.partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    if "max-age" in directives:
        max_age, age = directives["max-age"], headers.get("Age", "").strip()
        if not max_age.isdigit():
            return None
        return _hold(float(int(max_age) - (int(age) if age.isdigit() else 0)))
    return _hold(_seconds_until(headers.get("Expires", ""), headers))


def _seconds_until(http_date: str, headers: Mapping[str, str]) -> float | None:
    """Seconds from the response's Date (the server's clock, else ours) to `http_date`."""
    when = _http_date(http_date)
    if when is None:
        return None
    now = _http_date(headers.get("Date", "")) or utc_now()
    return (when - now).total_seconds()


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _hold(seconds: float | None) -> float | None:
    if seconds is None or seconds <= 0:
        return None
    return min(seconds, float(MAX_HOLD))
