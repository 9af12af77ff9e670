"""`feedtool demo`, run as users run it: the console script in a subprocess, offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.feedcheck import assert_valid_atom, parse_clean


def test_demo_runs_the_whole_pipeline_offline(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "feedtool", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    runs = out.split("Run ")[1:]
    assert "12 new" in runs[0]
    assert "webhook received 0 notification(s)" in runs[0]
    assert "not-modified" in runs[1]
    assert "webhook received 0 notification(s)" in runs[1]
    assert "1 new" in runs[2]
    assert "webhook received 1 notification(s)" in runs[2]
    assert "Breaking: a new item" in runs[2]
    atom = Path(re.search(r"(\S+/demo-news\.atom\.xml)", out).group(1))  # type: ignore[union-attr]
    assert_valid_atom(atom.read_bytes())
    entries = parse_clean(atom.read_bytes()).entries
    assert len(entries) == 13
    assert entries[0].title == "Breaking: a new item"
    russian = parse_clean(atom.with_name("demo-news-ru.atom.xml").read_bytes()).entries
    assert len(russian) == 12
    assert russian[0].published_parsed[:3] == (2024, 12, 23)
