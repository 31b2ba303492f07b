"""Reading a result folder back into tables (for compare, figures and reports).

A result folder has to prove it is whole: every file its manifest lists must be there with
the size and SHA-256 the manifest records.  The folder is read through one open handle, so
a rewrite swapped in meanwhile cannot mix two versions; if the version being read is
replaced (and removed) while it is read, it is read again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.results.result import RESULT_FILES, Result

_TEXT = dict.fromkeys(("date", "region", "category", "technology", "cell", "name", "value"), str)


@dataclass
class Tables:
    """The tables of a result folder (or of a Result), as figures and reports use them."""

    name: str
    start: str
    manifest: dict[str, Any]
    connections: pd.DataFrame
    network: pd.DataFrame
    access: pd.DataFrame
    targets: pd.DataFrame
    summary: pd.DataFrame
    path: Path | None = None

    @classmethod
    def of(cls, result: Result) -> Tables:
        return cls(result.scenario.name, result.scenario.start,
                   {"resolved_scenario": result.scenario.model_dump(mode="json"),
                    "seed": result.seed, "replications": result.replications},
                   result.connections, result.network, result.access, result.targets,
                   result.summary)  # fmt: skip


class ResultFolderError(ValueError):
    """A folder that is not a whole, readable result folder; the message names the file
    and what is wrong with it."""


class _ReplacedError(Exception):
    """The folder was swapped for a newer one while it was read."""


def read_tables(path: str | Path) -> Tables:
    """Read a result folder written by `write_result_folder`, checking every file its
    manifest lists against the recorded size and SHA-256 (ResultFolderError otherwise)."""
    path = Path(path)
    for _attempt in range(5):
        try:
            return _read(path)
        except _ReplacedError:
            continue  # a newer version is in place now: read that one
    raise ResultFolderError(f"{path}: replaced again and again while being read; try again")


def _read(path: Path) -> Tables:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise ResultFolderError(f"{path}: no such result folder") from None
    except NotADirectoryError:
        raise ResultFolderError(f"{path} is a file, not a result folder") from None
    except OSError as error:
        raise ResultFolderError(f"{path}: cannot read it: {error.strerror}") from None
    try:
        return _read_open(path, fd)
    except ResultFolderError:
        if _replaced(path, fd):
            raise _ReplacedError from None
        raise
    finally:
        os.close(fd)


def _replaced(path: Path, fd: int) -> bool:
    """Whether `path` names another folder now than the one open as `fd`."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)


def _read_bytes(fd: int, name: str) -> bytes | None:
    """A file of the open folder, or None when there is none."""
    try:
        handle = os.open(name, os.O_RDONLY, dir_fd=fd)
    except FileNotFoundError:
        return None
    with os.fdopen(handle, "rb") as file:
        return file.read()


def _read_open(path: Path, fd: int) -> Tables:
    data = _read_bytes(fd, "manifest.json")
    if data is None:
        raise ResultFolderError(f"{path}: not a result folder (no manifest.json)")
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ResultFolderError(f"{path / 'manifest.json'}: not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ResultFolderError(f"{path / 'manifest.json'}: expected a JSON object")
    listed = manifest.get("files", list(RESULT_FILES))
    checksums = manifest.get("checksums") or {}
    contents: dict[str, bytes] = {}
    for name in listed:
        content = _read_bytes(fd, name)
        if content is None:
            raise ResultFolderError(f"{path / name}: missing, though manifest.json lists it")
        _verify(path / name, content, checksums.get(name))
        contents[name] = content

    def table(name: str) -> pd.DataFrame:
        if name not in contents:
            return pd.DataFrame()
        try:
            return pd.read_csv(io.BytesIO(contents[name]), dtype=_TEXT, keep_default_na=False,
                               na_values=[""])  # fmt: skip
        except (ValueError, UnicodeDecodeError) as error:  # pandas' parser errors included
            raise ResultFolderError(f"{path / name}: not a readable CSV: {error}") from None

    summary = table("summary.csv")
    summary["value"] = summary["value"].fillna("") if "value" in summary else summary.get("value")
    scenario = manifest.get("resolved_scenario", {})
    return Tables(
        name=str(manifest.get("scenario_name") or path.name),
        start=str(scenario.get("start", "")),
        manifest=manifest,
        connections=table("connections.csv"),
        network=table("network.csv"),
        access=table("access.csv"),
        targets=table("targets.csv"),
        summary=summary,
        path=path,
    )


def _verify(file: Path, content: bytes, check: Any) -> None:
    """The file as the manifest recorded it (size, then SHA-256), where it recorded it."""
    if check is None:
        return  # written by an older iotsim, whose manifests had no checksums
    if len(content) != check["size_bytes"]:
        raise ResultFolderError(
            f"{file}: {len(content)} bytes, but manifest.json says {check['size_bytes']}: the "
            "file is torn or was changed after it was written; run the scenario again"
        )
    if hashlib.sha256(content).hexdigest() != check["sha256"]:
        raise ResultFolderError(
            f"{file}: its SHA-256 is not the one in manifest.json: the file was changed after "
            "it was written; run the scenario again"
        )


def verified(tables: Tables) -> bool:
    """Whether the folder's files were checked against checksums (older folders: not)."""
    return bool(tables.manifest.get("checksums"))
