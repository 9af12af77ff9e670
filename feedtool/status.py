"""`feedtool status`: one line per source, from the state database; then the selectors
proposed for sources whose own stopped matching, ready to pin with `feedtool heal`."""

from __future__ import annotations

from datetime import datetime

from feedtool.health import healed_in_use
from feedtool.model import Config, Selectors, Source
from feedtool.scheduler import due_at
from feedtool.store import Outbox, OutboxSummary, SourceState, Store
from feedtool.terminal import printable

# Times are UTC, like everything feedtool stores.
COLUMNS = (
    "SOURCE",
    "STATE",
    "CHECKED (UTC)",
    "NEXT CHECK (UTC)",
    "SUCCEEDED (UTC)",
    "HAD ITEMS (UTC)",
    "ITEMS",
    "NEW",
    "ERROR",
)


def rows(config: Config, store: Store | None) -> list[tuple[str, ...]]:
    """The status table, one row per configured source (all "new" without a database).

    NEXT CHECK is when `run` or the daemon checks it next ("now": never checked, due).
    """
    states = {state.id: state for state in store.sources()} if store else {}
    table: list[tuple[str, ...]] = []
    for source in config.sources:
        state = states.get(source.id)
        if state is None:
            table.append((source.id, "new", "-", "now", "-", "-", "0", "0", ""))
            continue
        table.append(
            (
                source.id,
                state_of(state),
                _when(state.last_check),
                _when(due_at(source, state), unset="now"),
                _when(state.last_success),
                _when(state.last_items_at),
                str(state.item_count),
                str(state.new_last_run),
                _remark(source, state),
            )
        )
    return table


def _remark(source: Source, state: SourceState) -> str:
    """The last error, else the warning (fields that matched no item or disappeared)."""
    from feedtool.heal import pending

    remark = state.last_error or (f"warning: {state.warning}" if state.warning else "")
    if pending(source, state) is not None:
        healed = healed_in_use(source, state.healed) is not None
        hint = "healed, using detected selectors" if healed else "selectors proposed"
        remark = f"{remark} ({hint}: feedtool heal {source.id})".lstrip()
    return remark


def proposals(config: Config, store: Store | None) -> list[tuple[str, Selectors]]:
    """(source id, selectors `feedtool heal` would pin) for each source that has some."""
    from feedtool.heal import pending

    states = {state.id: state for state in store.sources(counts=False)} if store else {}
    found = [(s.id, pending(s, states.get(s.id))) for s in config.sources]
    return [(source_id, selectors) for source_id, selectors in found if selectors is not None]


def state_of(state: SourceState) -> str:
    """ok, failing (some failures), broken (see health.assess) or degraded (a field the items
    used to carry disappeared: see health.assess_fields)."""
    if state.health.broken_since is not None:
        return "broken"
    if state.failures:
        return "failing"
    if state.fields.degraded:
        return "degraded"
    return "ok"


def _when(value: datetime | None, unset: str = "-") -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else unset


def print_status(config: Config) -> int:
    """Print the status table and the outbox summary."""
    store = Store.open_existing(config.settings.state_dir)
    if store is None:
        table, outbox = rows(config, None), OutboxSummary(pending=0, dropped=0, delivered=0)
        healing: list[tuple[str, Selectors]] = []
    else:
        with store:
            table, outbox = rows(config, store), Outbox(store).summary()
            healing = proposals(config, store)
    widths = [max(len(row[i]) for row in [COLUMNS, *table]) for i in range(len(COLUMNS) - 1)]
    for row in [COLUMNS, *table]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print(printable("  ".join([*cells, row[-1]]).rstrip()))
    line = f"notifications: {outbox.delivered} delivered, {outbox.pending} pending"
    line += f", {outbox.dropped} dropped (gave up)" if outbox.dropped else ""
    print()
    print(printable(line + (f"; last error: {outbox.last_error}" if outbox.last_error else "")))
    if healing:
        from feedtool.preview import select_block

        for source_id, selectors in healing:
            print(f"\n{source_id}: `feedtool heal {source_id}` pins\n{select_block(selectors)}")
    return 0
