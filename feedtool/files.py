"""Replacing a file so that a reader never sees it half written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_atomically(path: Path, data: bytes, *, mode: int, durable: bool = True) -> None:
    """Write `data` beside `path` with permissions `mode`, then rename it over `path`.

    `durable=False` skips the fsync, for a caller that syncs the disk once after writing many.
    """
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as tmp:
        try:
            tmp.write(data)
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)  # NamedTemporaryFile creates 0600
            if durable:
                os.fsync(tmp.fileno())
            os.replace(tmp.name, path)
        except BaseException:
            os.unlink(tmp.name)
            raise
