"""A DuckDB file held open by another process, as a second dashboard would hold it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
    "time.sleep(float(sys.argv[2]))"
)


@contextmanager
def held_elsewhere(path: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another Python process has ``path`` open in DuckDB (for ``seconds`` at the most)
    once this is entered (it said so); it is killed on leaving."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        yield holder
    finally:
        holder.kill()
        holder.wait(5)
