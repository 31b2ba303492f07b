"""A sweep's tables as one tidy dataset: Parquet files partitioned by variant.

`<sweep>/dataset/<table>/variant=<vNNNN>/part-0.parquet` holds one variant's rows of
`<table>.csv` (connections, network, cells, targets, summary, and access and experience
where the access layer ran), with its `replication` column where it has replications and
the swept values as columns named by their field path.  The `variant` column comes from
the folder name (hive partitioning), so pandas (`pd.read_parquet(<sweep>/dataset/network)`)
and DuckDB (`read_parquet('<sweep>/dataset/network/*/*.parquet', hive_partitioning =
true)`) read every variant as one table.

Each partition is written from the variant's result folder as read back
(`read_tables`), so the dataset holds exactly what the CSVs hold, one variant at a time:
memory does not grow with the number of variants.  Each file is written atomically; a
partition appears whole or not at all.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from sim.results.folders import atomic_file
from sim.results.reading import Tables, read_tables

DATASET_FOLDER = "dataset"
PART_FILE = "part-0.parquet"
TABLES = ("connections", "network", "cells", "access", "experience", "targets", "summary")
"""The result tables the dataset holds (the CSVs of a result folder without `_ci`)."""


def partition_path(sweep: Path, table: str, variant: str) -> Path:
    """The Parquet file of one variant's rows of one table."""
    return sweep / DATASET_FOLDER / table / f"variant={variant}" / PART_FILE


def swept_columns(values: dict[str, list[Any]]) -> dict[str, str]:
    """The type of each swept value's column, the same in every partition (a dataset's
    partitions must agree): 'int64' or 'float64' when every value is a number, 'bool'
    when every one is a boolean, else 'string'."""
    types = {}
    for name, items in values.items():
        if all(isinstance(v, bool) for v in items):
            types[name] = "bool"
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            types[name] = "int64"
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            types[name] = "float64"
        else:
            types[name] = "string"
    return types


def _typed(value: Any, kind: str) -> Any:
    return str(value) if kind == "string" else value


def write_partitions(
    folder: Path, sweep: Path, variant: str, values: dict[str, Any], types: dict[str, str]
) -> list[Path]:
    """Write one variant's partitions of every table its result folder holds, from the
    folder as read back; the files written."""
    tables = read_tables(folder)
    return _write(tables, sweep, variant, values, types)


def _write(
    tables: Tables, sweep: Path, variant: str, values: dict[str, Any], types: dict[str, str]
) -> list[Path]:
    written = []
    for name in TABLES:
        table: pd.DataFrame = getattr(tables, name)
        if table.empty and not len(table.columns):
            continue  # the folder has no such table (access without the access layer)
        swept = pd.DataFrame({
            column: pd.Series([_typed(values[column], kind)] * len(table), dtype=kind)
            for column, kind in types.items()
        })  # fmt: skip
        frame = pd.concat([_schema(table.reset_index(drop=True)), swept], axis=1)
        target = partition_path(sweep, name, variant)
        written.append(atomic_file(target, partial(_to_parquet, frame)))
    return written


TEXT_COLUMNS = frozenset((
    "date", "region", "category", "technology", "cell", "name", "value", "cell_class",
    "carrier", "channel", "coverage", "binding_resource", "headroom_resource", "metric",
    "bound", "first_reached",
))  # fmt: skip
"""Columns of text in the result tables (the rest are numbers, or `full` and `met`,
booleans)."""
BOOLEAN_COLUMNS = frozenset(("full", "met"))


def _schema(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the column types every partition shares, whatever this variant's
    values: text as strings (a column of empty cells is still text, not nulls of no
    type), `full` and `met` as booleans, `replication` as int64 and every other number as
    float64 (a column of whole numbers in one variant and of fractions in another must
    not differ in type)."""
    out: dict[str, pd.Series] = {}
    for column in table.columns:
        values = table[column]
        if column in TEXT_COLUMNS:
            out[column] = values.astype("string")
        elif column in BOOLEAN_COLUMNS:
            out[column] = values.astype("boolean")
        elif column == "replication":
            out[column] = values.astype("int64")
        else:
            out[column] = pd.to_numeric(values).astype("float64")
    return pd.DataFrame(out, index=table.index)


def drop_other_variants(sweep: Path, variants: list[str]) -> list[str]:
    """Remove the partitions of variants not in this sweep (left by an earlier sweep into
    the same folder): a query of the dataset must see this sweep's variants only.  Their
    result folders stay.  The variants removed."""
    keep = {f"variant={name}" for name in variants}
    removed = []
    for table in TABLES:
        folder = sweep / DATASET_FOLDER / table
        if not folder.is_dir():
            continue
        for partition in sorted(folder.glob("variant=*")):
            if partition.name not in keep:
                shutil.rmtree(partition)
                removed.append(partition.name.removeprefix("variant="))
    return sorted(set(removed))


def _to_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def has_partitions(folder: Path, sweep: Path, variant: str) -> bool:
    """Whether every table of a variant's result folder has its partition."""
    tables = [name.removesuffix(".csv") for name in _listed(folder)]
    return all(partition_path(sweep, t, variant).exists() for t in tables if t in TABLES)


def _listed(folder: Path) -> list[str]:
    try:
        files = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError):
        return [f"{t}.csv" for t in TABLES]
    return [str(f) for f in files] if isinstance(files, list) else []
