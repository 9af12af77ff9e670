"""`feedtool status`: one line per source, from the state database."""

from __future__ import annotations

from datetime import datetime

from feedtool.model import Config
from feedtool.store import Outbox, OutboxSummary, SourceState, Store

# Times are UTC, like everything feedtool stores.
COLUMNS = (
    "SOURCE",
    "STATE",
    "CHECKED (UTC)",
    "SUCCEEDED (UTC)",
    "HAD ITEMS (UTC)",
    "ITEMS",
    "NEW",
    "ERROR",
)


def rows(config: Config, store: Store | None) -> list[tuple[str, ...]]:
    """The status table, one row per configured source (all "new" without a database)."""
    states = {state.id: state for state in store.sources()} if store else {}
    table: list[tuple[str, ...]] = []
    for source in config.sources:
        state = states.get(source.id)
        if state is None:
            table.append((source.id, "new", "-", "-", "-", "0", "0", ""))
            continue
        table.append(
            (
                source.id,
                state_of(state),
                _when(state.last_check),
                _when(state.last_success),
                _when(state.last_items_at),
                str(state.item_count),
                str(state.new_last_run),
                state.last_error or (f"warning: {state.warning}" if state.warning else ""),
            )
        )
    return table


def state_of(state: SourceState) -> str:
    """ok, failing (some failures) or broken (see health.assess)."""
    if state.health.broken_since is not None:
        return "broken"
    if state.failures:
        return "failing"
    return "ok"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def print_status(config: Config) -> int:
    """Print the status table and the outbox summary."""
    store = Store.open_existing(config.settings.state_dir)
    if store is None:
        table, outbox = rows(config, None), OutboxSummary(pending=0, dropped=0, delivered=0)
    else:
        with store:
            table, outbox = rows(config, store), Outbox(store).summary()
    widths = [max(len(row[i]) for row in [COLUMNS, *table]) for i in range(len(COLUMNS) - 1)]
    for row in [COLUMNS, *table]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    line = f"\nnotifications: {outbox.delivered} delivered, {outbox.pending} pending"
    line += f", {outbox.dropped} dropped (gave up)" if outbox.dropped else ""
    print(line + (f"; last error: {outbox.last_error}" if outbox.last_error else ""))
    return 0
