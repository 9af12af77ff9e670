"""Notifications: what to queue for a run's changes, and delivering the outbox with Apprise.

Queuing happens inside the store transaction that records the change (see Store.apply);
delivery happens after the commit, marking each message at once. A failed message is retried
on later runs with exponential backoff until `notify_max_age`, then dropped and logged.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from feedtool import messenger
from feedtool.health import Alert
from feedtool.model import TEMPLATE_FIELDS, Changes, Item, NotifyTarget, Pending, Queued, Source
from feedtool.terminal import printable

logger = logging.getLogger(__name__)

Send = Callable[[str, str, str], str | None]  # (url, title, body) -> error or None
SUMMARY_CHARS = 300
MAX_RETRY_DELAY = 3600


def target_key(url: str) -> str:
    """How the outbox names a target: a digest, since the URL itself holds secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def describe(url: str) -> str:
    """How logs name a target: its scheme and digest. Apprise puts tokens anywhere in a URL
    (tgram://BOT_TOKEN/CHAT, pbul://TOKEN), so no part of it is safe to show."""
    return f"{url.partition(':')[0]}://…#{target_key(url)}"


def redact(url: str, text: str) -> str:
    """`text` with every piece of `url` (host part, path segments, query values) masked."""
    parts = urlsplit(url)
    secrets = {parts.netloc, *re.split(r"[:@]", parts.netloc), *parts.path.split("/")}
    secrets |= {value for _, value in parse_qsl(parts.query)}
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --- planning (inside the store transaction) -----------------------------------------------


def plan_items(
    source: Source, title: str, changes: Changes, targets: Sequence[NotifyTarget]
) -> list[Queued]:
    """One outbox row per new item (and per update, if asked) and per interested target.

    A first run records what is there without notifying (no flood), unless notify_initial.
    """
    events = (
        []
        if changes.first_run and not source.notify_initial
        else [("item", item.key, item) for item in changes.new]
    )
    if source.notify_updates:
        events += [("update", f"{item.key}#{item.content_hash}", item) for item in changes.updated]
    return [
        Queued(target=target_key(t.url), kind=kind, subject=subject, payload=_payload(title, item))
        for t in targets
        if t.wants(source.id)
        for kind, subject, item in events
    ]


def plan_alert(
    source: Source,
    title: str,
    alert: Alert | None,
    error: str | None,
    now: datetime,
    targets: Sequence[NotifyTarget],
    *,
    details: str | None = None,
) -> list[Queued]:
    """One outbox row per interested target for a health alert.

    `error` is what the alert is about: the failure (broken, reminder), the field that
    disappeared or came back (degraded, restored: "summary disappeared"), the switch of
    selectors (healed). `details` go into the message body only, not its title: the
    `[sources.select]` block a broken source could be healed with.
    """
    if alert is None:
        return []
    name = title if title == source.id else f"{title} ({source.id})"
    messages = {
        Alert.BROKEN: f"{name} is broken: {error}",
        Alert.REMINDER: f"{name} is still broken: {error}",
        Alert.RECOVERED: f"{name} works again",
        Alert.DEGRADED: f"{name} is degraded: {error}",
        Alert.RESTORED: f"{name} is complete again: {error}",
        Alert.HEALED: f"{name} healed itself: {error}",
    }
    payload = {"source": title, "message": printable(messages[alert]), "url": source.url}
    if details:
        payload["details"] = details
    return [
        Queued(target=target_key(t.url), kind=str(alert), subject=now.isoformat(), payload=payload)
        for t in targets
        if t.wants(source.id)
    ]


def _payload(source_title: str, item: Item) -> dict[str, str]:
    from feedtool.normalize import html_to_text

    summary = html_to_text(item.summary)
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1].rstrip() + "…"
    return {
        "source": source_title,
        "title": item.title,
        "link": item.link or "",
        "published": item.published.strftime("%Y-%m-%d %H:%M UTC"),
        "summary": summary,
    }


# --- delivery (after the commit) -----------------------------------------------------------


class Outbox(Protocol):
    """Where queued notifications wait (store.Outbox): what delivery needs of it."""

    def due(self, now: datetime) -> list[Pending]: ...
    def delivered(self, ids: Sequence[int], now: datetime) -> None: ...
    def failed(self, retries: Sequence[tuple[int, datetime]], error: str) -> None: ...
    def dropped(self, ids: Sequence[int], reason: str, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    sent: int = 0  # messages
    failed: int = 0
    dropped: int = 0  # notifications given up


def deliver(
    outbox: Outbox,
    targets: Sequence[NotifyTarget],
    *,
    now: datetime,
    max_age: int,
    send: Send | None = None,
) -> Delivery:
    """Send what is due in the outbox; each outcome is committed as soon as it is known."""
    send = send or messenger.send
    by_key = {target_key(t.url): t for t in targets}
    sent = failed = dropped = 0
    for key, group in groupby(outbox.due(now), key=lambda p: p.target):
        rows = list(group)
        target = by_key.get(key)
        expired = [
            r for r in rows if target is None or now - r.created > timedelta(seconds=max_age)
        ]
        if expired:
            reason = "target no longer configured" if target is None else "too old, gave up"
            outbox.dropped([r.id for r in expired], reason, now)
            logger.warning("dropped %d notification(s): %s", len(expired), reason)
            dropped += len(expired)
        if target is None:
            continue
        gone = {r.id for r in expired}
        live = [r for r in rows if r.id not in gone]
        batches = messages(target, live)
        for index, (batch, title, body) in enumerate(batches):
            error = send(target.url, title, body)
            if error is None:
                outbox.delivered([r.id for r in batch], now)
                sent += 1
                continue
            # The target is down: the rest of its queue waits with this message, untried.
            error = redact(target.url, error)
            waiting = [row for later, _, _ in batches[index:] for row in later]
            outbox.failed([(row.id, now + _retry_delay(row)) for row in waiting], error)
            logger.warning("notify %s: %s", describe(target.url), error)
            failed += 1
            break
    return Delivery(sent=sent, failed=failed, dropped=dropped)


def _retry_delay(row: Pending) -> timedelta:
    """The next run retries a first failure; then 1, 2, 4 ... minutes, capped at an hour."""
    if row.attempts == 0:
        return timedelta(0)
    return timedelta(seconds=min(60 * 2 ** (row.attempts - 1), MAX_RETRY_DELAY))


def messages(target: NotifyTarget, rows: list[Pending]) -> list[tuple[list[Pending], str, str]]:
    """(rows, title, body) per message: health alerts alone, items alone or as one digest."""
    alerts = [r for r in rows if r.kind not in ("item", "update")]
    items = [r for r in rows if r.kind in ("item", "update")]
    result = [([r], f"feedtool: {r.payload['message']}", _alert_body(r.payload)) for r in alerts]
    if items and (target.digest or len(items) > target.max_per_run):
        result.append((items, *_digest_message(items)))
    else:
        result += [([r], *_render(target, r.payload)) for r in items]
    return result


def _alert_body(payload: dict[str, str]) -> str:
    details = payload.get("details")
    message = f"{payload['message']}\n\n{details}" if details else payload["message"]
    return f"{message}\n{payload['url']}"


def _render(target: NotifyTarget, payload: dict[str, str]) -> tuple[str, str]:
    fields = {k: payload.get(k, "") for k in TEMPLATE_FIELDS}
    body = target.body_template.format(**fields)
    return target.title_template.format(**fields), re.sub(r"\n{3,}", "\n\n", body).strip()


def _digest_message(rows: list[Pending]) -> tuple[str, str]:
    sources = sorted({r.payload["source"] for r in rows})
    title = f"{sources[0] if len(sources) == 1 else 'feedtool'}: {len(rows)} new items"
    lines = [f"- {r.payload['title']}\n  {r.payload['link']}".rstrip() for r in rows]
    return title, "\n".join(lines)
