"""Writing files atomically: a temporary file beside the target, renamed into place.  The
folder-level machinery (claims, staging, the swap) is in `sim.results.folders`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.results.folders import atomic_file


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically."""
    return atomic_file(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The exact bytes written for a table: one header row, '\\n' line ends, no index."""
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write one table atomically."""
    return atomic_file(path, lambda temporary: temporary.write_bytes(csv_bytes(table)))
