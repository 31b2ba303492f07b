"""Tidy result tables of a run, and the one door to the result folder (written atomically).

Every table has stable snake_case columns; dates are `YYYY-MM` month ends; counts are
whole terminals at real scale.  The row dated the month before `start` is the state at the
start of the horizon: its `joined` is the initial installed base placed on the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine import Plan, Trajectory
from sim.network import row_month_indices
from sim.scenario import Scenario, month_label

CONNECTIONS_COLUMNS = [
    "date", "region", "category", "technology",
    "demand", "connected", "joined", "left", "blocked", "waiting",
]  # fmt: skip
NETWORK_COLUMNS = [
    "date", "region", "technology", "sites", "cells", "capacity", "connected", "utilization",
    "turned_away",
]  # fmt: skip
TARGET_COLUMNS = [
    "name", "metric", "date", "bound", "required", "achieved", "met", "first_reached",
]  # fmt: skip
RESULT_FILES = ("connections.csv", "network.csv", "access.csv", "targets.csv", "summary.csv")


@dataclass
class Result:
    """One run: tidy tables (pandas DataFrames) plus what produced them."""

    scenario: Scenario
    seed: int
    connections: pd.DataFrame
    network: pd.DataFrame
    targets: pd.DataFrame
    access: pd.DataFrame
    summary: pd.DataFrame
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


# --------------------------------------------------------------------------- tables


def connections_table(plan: Plan, trajectory: Trajectory) -> pd.DataFrame:
    """connections.csv: one row per month, region, category and used technology."""
    dates = [month_label(index) for index in row_month_indices(plan.scenario)]
    regions, techs = plan.network.regions, plan.network.technologies
    frames = []
    for c, name in enumerate(plan.categories):
        for r, region in enumerate(regions):
            for tech_index in sorted(plan.preference[c]):
                frames.append(
                    pd.DataFrame(
                        {
                            "date": dates,
                            "region": region,
                            "category": name,
                            "technology": techs[tech_index],
                            "demand": np.rint(plan.demand[:, c, r, tech_index]).astype(np.int64),
                            "connected": trajectory.connected[:, c, r, tech_index],
                            "joined": trajectory.joined[:, c, r, tech_index],
                            "left": trajectory.left[:, c, r, tech_index],
                            "blocked": trajectory.blocked[:, c, r, tech_index],
                            "waiting": trajectory.waiting[:, c, r, tech_index],
                        }
                    )
                )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(
        ["date", "region", "category", "technology"], kind="stable", ignore_index=True
    )[CONNECTIONS_COLUMNS]


def network_table(plan: Plan, trajectory: Trajectory) -> pd.DataFrame:
    """network.csv: one row per month, region and carried technology."""
    dates = [month_label(index) for index in row_month_indices(plan.scenario)]
    connected = trajectory.connected.sum(axis=1)  # [t, region, tech]
    frames = []
    for r, region in enumerate(plan.network.regions):
        for k, tech in enumerate(plan.network.technologies):
            capacity = plan.network.capacity[:, r, k]
            with np.errstate(divide="ignore", invalid="ignore"):
                utilization = np.where(capacity > 0, connected[:, r, k] / capacity, np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "date": dates,
                        "region": region,
                        "technology": tech,
                        "sites": np.rint(plan.network.sites[:, r, k]).astype(np.int64),
                        "cells": np.rint(plan.network.cells[:, r, k]).astype(np.int64),
                        "capacity": capacity,
                        "connected": connected[:, r, k],
                        "utilization": np.round(utilization, 6),
                        "turned_away": trajectory.turned_away[:, r, k],
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["date", "region", "technology"], kind="stable", ignore_index=True)[
        NETWORK_COLUMNS
    ]


def targets_table(scenario: Scenario, connections: pd.DataFrame) -> pd.DataFrame:
    """targets.csv: whether each target is met at its date, and the first month it was.

    `blocked` is counted cumulatively (terminals lost up to the date, the initial placement
    included); the other metrics are month-end values.
    """
    rows = []
    for target in scenario.targets:
        selected = connections
        for column in ("category", "region", "technology"):
            value = getattr(target, column)
            if value is not None:
                selected = selected[selected[column] == value]
        series = selected.groupby("date")[target.metric].sum()
        if target.metric == "blocked":
            series = series.cumsum()
        achieved = int(series[target.date])
        bound = "at_least" if target.at_least is not None else "at_most"
        required = target.at_least if target.at_least is not None else target.at_most
        assert required is not None
        holds = series >= required if bound == "at_least" else series <= required
        met = bool(holds[target.date])
        reached = series.index[holds]
        rows.append(
            {
                "name": target.name,
                "metric": target.metric,
                "date": target.date,
                "bound": bound,
                "required": round(required),
                "achieved": achieved,
                "met": bool(met),
                "first_reached": reached[0] if len(reached) else "",
            }
        )
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def summary_table(
    plan: Plan,
    trajectory: Trajectory,
    connections: pd.DataFrame,
    network: pd.DataFrame,
    targets: pd.DataFrame,
    access: pd.DataFrame,
    seed: int,
) -> pd.DataFrame:
    """summary.csv: the key figures of a run as (metric, value) rows."""
    scenario = plan.scenario
    end = scenario.end
    at_end = connections[connections["date"] == end]
    connected_end = int(at_end["connected"].sum())
    demand_end = int(at_end["demand"].sum())
    after_start = connections["date"] >= scenario.start
    pools = network.assign(pool=network["region"] + "/" + network["technology"])
    turned_away = pools[pools["turned_away"] > 0]
    blocked_rows = connections[connections["blocked"] > 0]
    running = pools[pools["date"] >= scenario.start]
    peak = (
        running.loc[int(running["utilization"].idxmax())]  # type: ignore[call-overload]
        if running["utilization"].notna().any()
        else None
    )
    figures: list[tuple[str, Any]] = [
        ("scenario", scenario.name),
        ("seed", seed),
        ("start", scenario.start),
        ("end", end),
        ("resolution_terminals_per_cohort", trajectory.resolution),
        ("cohorts_simulated", trajectory.cohorts),
        ("initial_connected", int(connections.loc[~after_start, "connected"].sum())),
        ("initial_blocked", int(connections.loc[~after_start, "blocked"].sum())),
        ("arrived_total", int(trajectory.offered[1:].sum())),
        ("retired_total", int(trajectory.retired[1:].sum())),
        ("connected_end", connected_end),
        ("demand_end", demand_end),
        ("connected_share_of_demand_end",
         f"{connected_end / demand_end:.6f}" if demand_end else ""),
        ("blocked_total", int(connections["blocked"].sum())),
        ("waiting_end", int(at_end["waiting"].sum())),
        ("first_blocked_date", blocked_rows["date"].iloc[0] if len(blocked_rows) else ""),
        ("first_full_date", turned_away["date"].iloc[0] if len(turned_away) else ""),
        ("first_full_pool", turned_away["pool"].iloc[0] if len(turned_away) else ""),
        ("peak_utilization", f"{peak['utilization']:.6f}" if peak is not None else ""),
        ("peak_utilization_pool", peak["pool"] if peak is not None else ""),
        ("peak_utilization_date", peak["date"] if peak is not None else ""),
        ("targets_met", f"{int(targets['met'].sum())} of {len(targets)}"),
        *_access_figures(plan, access),
    ]  # fmt: skip
    return pd.DataFrame(figures, columns=["metric", "value"]).astype({"value": str})


ACCESS_FAILURE_THRESHOLD = 0.9
"""Access success below this in a hot cell counts as the access layer failing."""


def _access_figures(plan: Plan, access: pd.DataFrame) -> list[tuple[str, Any]]:
    """Where and when the hottest simulated cell first fails (success < 90 %)."""
    if not plan.scenario.access.years:
        return []
    hottest = max(plan.scenario.access.cells, key=lambda name: float(name[1:]))
    cells = access[access["cell"] == hottest]
    failing = cells[cells["success_probability"] < ACCESS_FAILURE_THRESHOLD]
    failing = failing.sort_values(["year", "success_probability"], kind="stable")
    rated = access.dropna(subset=["success_probability"])
    worst = (
        rated.iloc[int(np.argmin(rated["success_probability"].to_numpy()))] if len(rated) else None
    )
    return [
        ("access_hottest_cell", hottest),
        ("first_access_failure_year", int(failing["year"].iloc[0]) if len(failing) else ""),
        ("first_access_failure_pool",
         f"{failing['region'].iloc[0]}/{failing['technology'].iloc[0]}" if len(failing) else ""),
        ("lowest_access_success",
         f"{worst['success_probability']:.6f}" if worst is not None else ""),
        ("lowest_access_success_where",
         f"{worst['year']} {worst['region']}/{worst['technology']} {worst['cell']}"
         if worst is not None else ""),
    ]  # fmt: skip


# --------------------------------------------------------------------------- reading back

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


def read_tables(path: str | Path) -> Tables:
    """Read a result folder written by `write_result_folder`."""
    path = Path(path)
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not a result folder (no manifest.json)") from None

    def table(name: str) -> pd.DataFrame:
        file = path / name
        if not file.exists():
            return pd.DataFrame()
        return pd.read_csv(file, dtype=_TEXT, keep_default_na=False, na_values=[""])

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


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically."""
    return atomic_file(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_figures(runs: list[Tables], out: str | Path, fmt: str = "png") -> list[Path]:
    """Render every figure the results can show into `out` (one file each)."""
    from sim import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in plots.available(runs):
        figure = plots.FIGURES[name](runs)
        try:
            target = atomic_file(
                out / f"{name}.{fmt}", partial(figure.savefig, format=fmt, dpi=110)
            )
        finally:
            plots.close(figure)
        written.append(target)
    return written


# --------------------------------------------------------------------------- replications

KEYS = {
    "connections": ["date", "region", "category", "technology"],
    "network": ["date", "region", "technology"],
    "access": ["year", "region", "technology", "cell"],
    "targets": ["name", "metric", "date", "bound", "required"],
    "summary": ["metric"],
}
"""The columns that identify a row of each table (the rest are figures)."""


def with_replication(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of several replications as one, with a leading `replication` column."""
    frames = [table.assign(replication=r) for r, table in enumerate(tables)]
    combined = pd.concat(frames, ignore_index=True)
    return combined[["replication", *tables[0].columns]]


def interval_table(name: str, combined: pd.DataFrame) -> pd.DataFrame:
    """Per key: every numeric figure's mean and 95 % Student-t interval over replications.

    Summary values are text; those that are numbers in every replication get intervals.
    """
    from sim.stats import t_quantile_975

    keys = KEYS[name]
    table = combined.drop(columns=["replication"])
    if name == "targets":
        table = table.assign(met=table["met"].astype(int))
    if name == "summary":
        table = table.assign(value=pd.to_numeric(table["value"], errors="coerce"))
        numeric = table.groupby("metric", sort=False)["value"].transform(lambda v: v.notna().all())
        table = table[numeric.astype(bool)]
    figures = [
        c for c in table.columns if c not in keys and pd.api.types.is_numeric_dtype(table[c])
    ]
    grouped = table.groupby(keys, sort=False, dropna=False)[figures]
    mean, std, count = grouped.mean(), grouped.std(ddof=1), grouped.count()
    t = count.map(lambda n: t_quantile_975(n - 1) if n > 1 else np.nan)
    half = pd.DataFrame(t * std / np.sqrt(count))
    out = pd.DataFrame(index=mean.index)
    for figure in figures:
        out[f"{figure}_mean"] = mean[figure].round(6)
        out[f"{figure}_ci_low"] = (mean[figure] - half[figure]).round(6)
        out[f"{figure}_ci_high"] = (mean[figure] + half[figure]).round(6)
    out["replications"] = combined["replication"].nunique()
    return out.reset_index()


# --------------------------------------------------------------------------- writing


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
        _readable(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write one table atomically."""
    return atomic_file(path, lambda temporary: temporary.write_bytes(csv_bytes(table)))


def manifest(result: Result, scenario_file: str | Path | None) -> dict[str, Any]:
    """What produced a result folder: resolved scenario, seed, versions, timing."""
    import pydantic
    import simpy

    import sim

    resolved = result.scenario.model_dump(mode="json")
    if scenario_file is not None:
        digest = hashlib.sha256(Path(scenario_file).read_bytes()).hexdigest()
    else:
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()
    return {
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
            "iotsim": sim.__version__,
            "python": platform.python_version(),
            "simpy": simpy.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "pydantic": pydantic.VERSION,
        },
        "started_utc": result.started_utc,
        "wall_time_s": round(result.wall_time_s, 3),
        "files": [*RESULT_FILES, *(f"{name}_ci.csv" for name in result.intervals)],
        "resolved_scenario": resolved,
    }


def write_result_folder(
    result: Result, out: str | Path, scenario_file: str | Path | None = None
) -> Path:
    """Write connections/network/targets/summary CSVs and manifest.json into `out`.

    The folder is built beside `out` under a temporary name and renamed into place, so an
    error or interruption leaves any previous `out` exactly as it was.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    _readable(staging, folder=True)
    try:
        tables = {
            "connections.csv": result.connections,
            "network.csv": result.network,
            "access.csv": result.access,
            "targets.csv": result.targets,
            "summary.csv": result.summary,
        }
        for name, table in tables.items():
            (staging / name).write_bytes(csv_bytes(table))
        for name, table in result.intervals.items():
            (staging / f"{name}_ci.csv").write_bytes(csv_bytes(table))
        (staging / "manifest.json").write_text(
            json.dumps(manifest(result, scenario_file), indent=2) + "\n", encoding="utf-8"
        )
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _readable(path: Path, folder: bool = False) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; results are ordinary files."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if folder else 0o666) & ~umask)


def _swap_into_place(staging: Path, out: Path) -> None:
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
