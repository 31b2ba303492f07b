"""Writing files atomically: a temporary file or folder beside the target, renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically."""
    return atomic_file(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The exact bytes written for a table: one header row, '\\n' line ends, no index."""
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def atomic_file(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Create `path` atomically: `write` fills a temporary file beside it, which is then
    renamed into place; on any error the temporary goes and `path` stays as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        readable(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write one table atomically."""
    return atomic_file(path, lambda temporary: temporary.write_bytes(csv_bytes(table)))


def readable(path: Path, folder: bool = False) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; results are ordinary files."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if folder else 0o666) & ~umask)


def swap_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        os.replace(staging, out)
        return
    previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    previous.rmdir()
    os.replace(out, previous)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(previous, out)
        raise
    shutil.rmtree(previous, ignore_errors=True)
