"""`feedtool heal SOURCE`: pin the selectors proposed for a source into the config file.

When a source's selectors stop matching and detection finds the page's items (known ones
among them) with other selectors, the run stores them: as a proposal (the broken alert and
`status` show it), or, with `heal = "auto"`, as the selectors the source uses from then on.
Either way the config file is never changed behind the user's back; this command writes them
into the source's `[sources.select]` table with tomlkit, keeping the file's comments and
layout, and checks that the result still loads before it replaces the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from feedtool import config, configedit
from feedtool.errors import ConfigError, FeedtoolError
from feedtool.health import healed_in_use
from feedtool.model import Selectors, Source
from feedtool.store import SourceState, Store


class NothingToHeal(FeedtoolError):
    """The source has no proposed selectors: nothing to pin."""


def pending(source: Source, state: SourceState | None) -> Selectors | None:
    """What `heal` would pin: the detected selectors an auto-healed source uses while the
    config still has the old ones, else the selectors proposed when the source broke."""
    if state is None:
        return None
    if (healed := healed_in_use(source, state.healed)) is not None:
        return healed.new
    if state.proposal is not None and state.proposal != source.select:
        return state.proposal
    return None


def heal(path: Path, source: Source) -> Selectors:
    """Pin the source's pending selectors into the config file at `path`; return them.

    Raises NothingToHeal when there are none.
    """
    store = Store.open_existing(config.load(path, secrets=False).settings.state_dir)
    if store is None:
        state = None
    else:
        with store:
            state = store.source(source.id)
    selectors = pending(source, state)
    if selectors is None:
        raise NothingToHeal(
            f"{source.id}: no selectors to pin: a source gets a proposal when its selectors"
            " match nothing and detection finds its known items on the page"
            " (`feedtool status` shows it)"
        )
    pin(path, source.id, selectors)
    return selectors


def pin(path: Path, source_id: str, selectors: Selectors) -> None:
    """Write `selectors` as the `[sources.select]` of source `source_id` in the file.

    Keys the new selectors have are set in place (a comment after the value stays), keys
    they lack are removed, the rest of the file is left as it was. The new text must load as a
    config before it atomically replaces the old one.
    """
    import tomlkit

    document = configedit.read(path)
    table = next(
        (t for t in document.get("sources", []) if t.get("id") == source_id),
        None,
    )
    if table is None:
        raise ConfigError(f"{path}: no source with id {source_id!r}")
    if "select" not in table:
        table["select"] = tomlkit.table()
    select: Any = table["select"]
    values = {k: v for k, v in dataclasses.asdict(selectors).items() if v is not None}
    for key in [key for key in select if key not in values]:
        del select[key]
    for key, value in values.items():
        if select.get(key) != value:
            select[key] = value
    configedit.write(path, document)  # only what loads as a config is written
