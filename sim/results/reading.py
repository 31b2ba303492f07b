"""Reading a result folder back into tables (for compare, figures and reports).

A result folder has to prove it is whole: every file its manifest lists must be there with
the size and SHA-256 the manifest records.  The folder is read through one open handle, so
a rewrite swapped in meanwhile cannot mix two versions; if the version being read is
replaced (and removed) while it is read, it is read again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.access.experience import EXPERIENCE_COLUMNS
from sim.access.hot_cells import ACCESS_COLUMNS
from sim.results.folders import RESULT_FOLDER
from sim.results.result import Result
from sim.results.tables import (
    CELLS_COLUMNS,
    CONNECTIONS_COLUMNS,
    NETWORK_COLUMNS,
    TARGET_COLUMNS,
)

_TEXT = dict.fromkeys(
    ("date", "region", "category", "technology", "cell", "name", "value", "cell_class",
     "carrier", "channel", "coverage", "binding_resource", "headroom_resource"),
    str,
)  # fmt: skip

_COLUMNS = {
    "connections.csv": (CONNECTIONS_COLUMNS, CONNECTIONS_COLUMNS[4:]),
    "network.csv": (NETWORK_COLUMNS, ["sites", "cells", "connected", "utilization"]),
    "cells.csv": (CELLS_COLUMNS, ["cells", "terminals", "binding_utilization"]),
    "access.csv": (ACCESS_COLUMNS, ACCESS_COLUMNS[6:]),
    "experience.csv": (EXPERIENCE_COLUMNS, EXPERIENCE_COLUMNS[6:]),
    "targets.csv": (TARGET_COLUMNS, ["required", "achieved"]),
    "summary.csv": (["metric", "value"], []),
}
"""Per table: the columns a reader relies on, and those of them that hold numbers."""
_NEEDED = ("connections.csv", "network.csv", "summary.csv")
"""Tables every result folder has (with at least one row)."""


@dataclass
class Tables:
    """The tables of a result folder (or of a Result), as figures and reports use them."""

    name: str
    start: str
    manifest: dict[str, Any]
    connections: pd.DataFrame
    network: pd.DataFrame
    cells: pd.DataFrame
    access: pd.DataFrame
    targets: pd.DataFrame
    summary: pd.DataFrame
    path: Path | None = None
    experience: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    @classmethod
    def of(cls, result: Result) -> Tables:
        return cls(result.scenario.name, result.scenario.start,
                   {"resolved_scenario": result.scenario.model_dump(mode="json"),
                    "seed": result.seed, "replications": result.replications},
                   result.connections, result.network, result.cells, result.access,
                   result.targets,
                   result.summary, experience=result.experience)  # fmt: skip


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
    _check_manifest(path / "manifest.json", manifest)
    checksums = manifest.get("checksums") or {}
    contents: dict[str, bytes] = {}
    for name in manifest["files"]:
        content = _read_bytes(fd, name)
        if content is None:
            raise ResultFolderError(f"{path / name}: missing, though manifest.json lists it")
        _verify(path / name, content, checksums.get(name))
        contents[name] = content
    for name in _NEEDED:
        if name not in contents:
            raise ResultFolderError(f"{path / 'manifest.json'}: files: {name} is not listed")
    replications = manifest.get("replications", 1)

    def table(name: str) -> pd.DataFrame:
        if name not in contents:
            return pd.DataFrame()
        return _table(path / name, contents[name], replications > 1)

    summary = table("summary.csv")
    summary["value"] = summary["value"].fillna("") if "value" in summary else summary.get("value")
    scenario = manifest.get("resolved_scenario", {})
    return Tables(
        name=str(manifest.get("scenario_name") or path.name),
        start=str(scenario.get("start", "")),
        manifest=manifest,
        connections=table("connections.csv"),
        network=table("network.csv"),
        cells=table("cells.csv"),
        access=table("access.csv"),
        targets=table("targets.csv"),
        summary=summary,
        path=path,
        experience=table("experience.csv"),
    )


def _table(file: Path, content: bytes, replications: bool) -> pd.DataFrame:
    """One CSV of the folder, with the columns (and numbers in them) readers rely on."""
    try:
        table = pd.read_csv(io.BytesIO(content), dtype=_TEXT, keep_default_na=False,
                            na_values=[""])  # fmt: skip
    except (ValueError, UnicodeDecodeError) as error:  # pandas' parser errors included
        raise ResultFolderError(f"{file}: not a readable CSV: {error}") from None
    columns, numbers = _COLUMNS[file.name]
    expected = ["replication", *columns] if replications else list(columns)
    missing = [column for column in expected if column not in table.columns]
    if missing:
        raise ResultFolderError(
            f"{file}: no column {', '.join(missing)} (it has {', '.join(map(str, table.columns))};"
            f" a result folder's {file.name} has {', '.join(expected)})"
        )
    if file.name in _NEEDED and table.empty:
        raise ResultFolderError(f"{file}: no rows")
    for column in [*numbers, *(["replication"] if replications else [])]:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table[column][values.isna() & table[column].notna()]
        if len(bad):
            raise ResultFolderError(f"{file}: column {column} holds {bad.iloc[0]!r}, not a number")
        table[column] = values
    return table


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_names(value: Any) -> bool:
    # a listed file is a plain name inside the folder, never a path out of it
    return isinstance(value, list) and all(
        isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) is not None
        for name in value
    )


def _checksum_entry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _is_int(value.get("size_bytes"))
        and value["size_bytes"] >= 0
        and isinstance(value.get("sha256"), str)
        and re.fullmatch(r"[0-9a-f]{64}", value["sha256"]) is not None
    )


_MANIFEST_FIELDS: dict[str, tuple[Callable[[Any], bool], str, bool]] = {
    "kind": (lambda v: v == RESULT_FOLDER.kind, f"{RESULT_FOLDER.kind!r}", False),
    "status": (lambda v: v == "complete", "'complete'", False),
    "files": (_plain_names, "a list of file names in the folder", True),
    "checksums": (lambda v: isinstance(v, dict), "an object: file name -> checksum", False),
    "replications": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1", False),
    "seed": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0", False),
    "scenario_name": (lambda v: isinstance(v, str), "a text", False),
    "resolved_scenario": (lambda v: isinstance(v, dict), "an object (the scenario)", True),
    "versions": (lambda v: isinstance(v, dict), "an object: package -> version", False),
    "started_utc": (lambda v: isinstance(v, str), "a text", False),
    "wall_time_s": (lambda v: _is_int(v) or isinstance(v, float), "a number of seconds", False),
}
"""Fields of manifest.json a reader relies on: check, what is allowed, required."""


def _check_manifest(file: Path, manifest: Any) -> None:
    """The manifest's fields have the types readers rely on (ResultFolderError naming the
    field, the value and what is allowed)."""
    if not isinstance(manifest, dict):
        raise ResultFolderError(f"{file}: expected a JSON object, got {type(manifest).__name__}")
    for field, (valid, allowed, required) in _MANIFEST_FIELDS.items():
        if field not in manifest:
            if required:
                raise ResultFolderError(f"{file}: no field {field!r} ({allowed})")
            continue
        if not valid(manifest[field]):
            shown = json.dumps(manifest[field])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise ResultFolderError(f"{file}: {field}: got {shown}; expected {allowed}")
    for name, entry in manifest.get("checksums", {}).items():
        if not _checksum_entry(entry):
            raise ResultFolderError(
                f"{file}: checksums.{name}: got {json.dumps(entry)[:60]}; expected "
                '{"size_bytes": whole number, "sha256": 64 hex digits}'
            )
    start = manifest["resolved_scenario"].get("start", "")
    if not isinstance(start, str):
        raise ResultFolderError(f"{file}: resolved_scenario.start: got {start!r}; expected YYYY-MM")


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
