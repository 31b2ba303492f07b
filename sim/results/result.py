"""A run's result, and the result folder it is written to (atomically, with its manifest)."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine import Trajectory
from sim.results.files import csv_bytes
from sim.results.folders import RESULT_FOLDER, checksum, staged_folder
from sim.scenario import Scenario
from sim.scenario.effective import catalog_figures
from sim.version import __version__

RESULT_FILES = (
    "connections.csv", "network.csv", "cells.csv", "access.csv", "experience.csv", "targets.csv",
    "summary.csv",
)  # fmt: skip
"""The tables a result folder can hold; access.csv and experience.csv only where the access
layer ran."""


@dataclass
class Result:
    """One run: tidy tables (pandas DataFrames) plus what produced them."""

    scenario: Scenario
    seed: int
    connections: pd.DataFrame
    network: pd.DataFrame
    cells: pd.DataFrame
    targets: pd.DataFrame
    access: pd.DataFrame
    summary: pd.DataFrame
    experience: pd.DataFrame = field(default_factory=pd.DataFrame)
    """What the access layer's terminals spent: energy per report and battery life."""
    trajectory: Trajectory | None = field(default=None, repr=False)
    """The raw month-end arrays of a single run (None for a study of replications)."""
    wall_time_s: float = 0.0
    started_utc: str = ""
    replications: int = 1
    intervals: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    """With replications: per table, the key columns and every figure's _mean, _ci_low,
    _ci_high (95 %, Student t) over the replications (written as <table>_ci.csv)."""

    def figure(self, metric: str) -> str:
        """A value of summary.csv by its metric name (with replications: the mean)."""
        if self.replications > 1:
            row = self.intervals["summary"].set_index("metric").loc[metric]
            return str(row["value_mean"])
        values = self.summary.set_index("metric")["value"]
        return str(values[metric])

    def write(self, out: str | Path, scenario_file: str | Path | None = None) -> Path:
        """Write the result folder atomically; see `write_result_folder`."""
        return write_result_folder(self, out, scenario_file)


def manifest(
    result: Result,
    scenario_file: str | Path | None,
    checksums: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What produced a result folder (resolved scenario, seed, versions, timing) and what
    it holds: `files`, and per file its `size_bytes` and `sha256` (`checksums`), so a
    reader can tell a whole folder from a torn one."""
    import pydantic
    import scipy
    import simpy

    resolved = result.scenario.model_dump(mode="json")
    if scenario_file is not None:
        digest = hashlib.sha256(Path(scenario_file).read_bytes()).hexdigest()
    else:
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()
    return {
        "kind": RESULT_FOLDER.kind,
        "status": "complete",
        "scenario_name": result.scenario.name,
        "scenario_file": str(scenario_file) if scenario_file is not None else None,
        "scenario_sha256": digest,
        "seed": result.seed,
        "replications": result.replications,
        "resolution_terminals_per_cohort": int(
            result.summary.loc[
                result.summary["metric"] == "resolution_terminals_per_cohort", "value"
            ].iloc[0]
        ),
        "versions": {
            "iotsim": __version__,
            "python": platform.python_version(),
            "simpy": simpy.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "pydantic": pydantic.VERSION,
            "scipy": scipy.__version__,  # its t quantiles make the intervals of <table>_ci.csv
        },
        "started_utc": result.started_utc,
        "wall_time_s": round(result.wall_time_s, 3),
        "files": list(result_files(result)),
        "checksums": checksums or {},
        "resolved_scenario": resolved,
        # the figures the catalog supplied (the resolved scenario holds only overrides)
        "catalog_figures": catalog_figures(
            list(
                dict.fromkeys(
                    t for c in result.scenario.categories.values() for t in c.technologies
                )
            ),
            resolved.get("technologies") or {},
            (resolved.get("network") or {}).get("carriers") or {},
        ),
    }


def result_files(result: Result) -> dict[str, pd.DataFrame]:
    """The files of a result folder and their tables, in the order written: the tables of
    RESULT_FILES, then the interval tables.  The access tables only where the access layer
    ran: a header-only access.csv would claim a measurement that was never made."""
    access_ran = bool(result.scenario.access.years)
    tables = {
        "connections.csv": result.connections,
        "network.csv": result.network,
        "cells.csv": result.cells,
        "access.csv": result.access,
        "experience.csv": result.experience,
        "targets.csv": result.targets,
        "summary.csv": result.summary,
    }
    if not access_ran:
        del tables["access.csv"], tables["experience.csv"]
    for name, table in result.intervals.items():
        if name not in ("access", "experience") or access_ran:
            tables[f"{name}_ci.csv"] = table
    return tables


def write_result_folder(
    result: Result,
    out: str | Path,
    scenario_file: str | Path | None = None,
    sweep_values: dict[str, Any] | None = None,
) -> Path:
    """Write the result tables (`result_files`) and manifest.json into the folder `out`.

    `out` must be absent, empty or a result folder (else OutputError, and it is left as it
    was); it is claimed (`sim.results.folders.claim`) so no other iotsim process writes it
    meanwhile.  The folder is built beside `out` under a temporary name and swapped into
    place, so an error or interruption leaves any previous `out` exactly as it was.
    `sweep_values`: a sweep variant's values by field path, recorded in the manifest.
    """
    out = Path(out)
    with staged_folder(out, RESULT_FOLDER) as staging:
        checksums = {}
        for name, table in result_files(result).items():
            data = csv_bytes(table)
            (staging / name).write_bytes(data)
            checksums[name] = checksum(data)
        record = manifest(result, scenario_file, checksums)
        if sweep_values is not None:
            record["sweep_values"] = sweep_values
        text = json.dumps(record, indent=2) + "\n"
        (staging / "manifest.json").write_text(text, encoding="utf-8")
    return out
