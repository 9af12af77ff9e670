"""A progress bar for `run` on a terminal; nothing at all when stderr is not one (cron)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from feedtool.model import Source, SourceResult

if TYPE_CHECKING:
    import rich.progress

MIN_SOURCES = 4  # fewer finish before a bar is worth drawing


class Progress:
    """Shows how many sources are done and which one the run is waiting on.

    The bar is transient: when the run ends only the log lines (failures, or -v) remain.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: rich.progress.Progress | None = None
        self._task: rich.progress.TaskID | None = None
        self._pending: dict[str, None] = {}  # ordered: the first is the one waited on

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, sources: Sequence[Source]) -> None:
        """The run will check these sources."""
        if not self.enabled or len(sources) < MIN_SOURCES:
            return
        import rich.progress
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        console = Console(stderr=True, no_color="NO_COLOR" in os.environ)
        self._pending = dict.fromkeys(source.id for source in sources)
        self._bar = rich.progress.Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task(self._waiting_on(), total=len(sources))
        self._bar.start()

    def done(self, result: SourceResult) -> None:
        """One source's check is over."""
        if self._bar is None or self._task is None:
            return
        self._pending.pop(result.source_id, None)
        self._bar.update(self._task, advance=1, description=self._waiting_on())

    def _waiting_on(self) -> str:
        first = next(iter(self._pending), None)
        return f"checking {first}" if first else "done"
