"""Aligning result folders and comparing their key figures.

Each folder is reduced to a long table of key figures, one value per replication:

* `connected` and `demand`: totals at every year end and at the end of the horizon,
  and per category at the end;
* `blocked_total` (all terminals lost), `waiting_end`;
* per region/technology pool: `utilization_end`, and `first_full` (the first month the
  pool turned terminals away; over replications the range seen; compared as text);
* per target: `target_achieved`, `target_met` (0/1);
* where the access layer ran: `access_success` per year, region, technology and cell.

The first folder is the baseline; every other folder is compared with it on the keys both
have.  With replications on both sides, each difference gets Welch's t-test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.results import Tables
from sim.stats import welch_test

COMPARISON_COLUMNS = [
    "figure", "key", "baseline", "folder", "baseline_value", "value", "difference",
    "relative_difference", "p_value", "significant", "within_tolerance",
]  # fmt: skip
SIGNIFICANCE = 0.05
FIGURES = (
    "connected", "demand", "connected_end", "blocked_total", "waiting_end", "utilization_end",
    "first_full", "target_achieved", "target_met", "access_success",
)  # fmt: skip
_TEXT_COLUMNS = dict.fromkeys(("date", "region", "category", "technology", "cell", "name"), str)


class FolderError(ValueError):
    """A folder that is not a readable result folder."""


@dataclass
class Folder:
    """A result folder's key figures: numeric ones per replication, and textual ones."""

    path: Path
    manifest: dict[str, object]
    numbers: pd.DataFrame
    """figure, key, replication, value"""
    texts: pd.DataFrame
    """figure, key, value (the same in every replication, or 'varies')"""
    regions: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)

    @property
    def replications(self) -> int:
        return int(self.numbers["replication"].nunique()) if len(self.numbers) else 0


def _with_replication(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty or "replication" in table.columns:
        return table
    return table.assign(replication=0)


def folder_figures(tables: Tables) -> Folder:
    """The key figures of a result folder already read (`sim.results.read_tables`)."""
    path = tables.path if tables.path is not None else Path(tables.name)
    manifest = tables.manifest
    connections = _with_replication(tables.connections)
    network = _with_replication(tables.network)
    targets = _with_replication(tables.targets)
    access = _with_replication(tables.access)
    if connections.empty or network.empty:
        raise FolderError(f"{path}: connections.csv or network.csv is missing or empty")
    parts = []
    end = str(connections["date"].max())
    totals = connections.groupby(["replication", "date"], as_index=False)[
        ["connected", "demand"]
    ].sum()  # fmt: skip
    year_ends = totals[totals["date"].str.endswith("-12") | (totals["date"] == end)]
    for figure in ("connected", "demand"):
        parts.append(
            year_ends.assign(figure=figure, key=year_ends["date"], value=year_ends[figure])
        )
    at_end = connections[connections["date"] == end]
    per_category = at_end.groupby(["replication", "category"], as_index=False)["connected"].sum()
    # figures "at the end" name the end month in their key, so folders with different
    # horizons do not compare them as if they were the same thing
    parts.append(per_category.assign(figure="connected_end",
                                     key=per_category["category"] + " " + end,
                                     value=per_category["connected"]))  # fmt: skip
    blocked = connections.groupby("replication", as_index=False)["blocked"].sum()
    parts.append(blocked.assign(figure="blocked_total", key=f"all to {end}",
                                value=blocked["blocked"]))  # fmt: skip
    waiting = at_end.groupby("replication", as_index=False)["waiting"].sum()
    parts.append(waiting.assign(figure="waiting_end", key=f"all {end}", value=waiting["waiting"]))
    pools = network.assign(key=network["region"] + "/" + network["technology"])
    pool_end = pools[pools["date"] == end]
    parts.append(pool_end.assign(figure="utilization_end", key=pool_end["key"] + " " + end,
                                 value=pool_end["utilization"]))  # fmt: skip
    if not targets.empty:
        parts.append(targets.assign(figure="target_achieved", key=targets["name"],
                                    value=targets["achieved"]))  # fmt: skip
        met = targets["met"].astype(str).str.lower().isin(["true", "1"]).astype(int)
        parts.append(targets.assign(figure="target_met", key=targets["name"], value=met))
    if not access.empty:
        key = (access["year"].astype(str) + " " + access["region"] + "/" + access["technology"]
               + " " + access["cell"])  # fmt: skip
        parts.append(access.assign(figure="access_success", key=key,
                                   value=access["success_probability"]))  # fmt: skip
    numbers = pd.concat(
        [part[["figure", "key", "replication", "value"]] for part in parts], ignore_index=True
    )
    numbers["value"] = pd.to_numeric(numbers["value"], errors="coerce")
    full = pools[pools["turned_away"] > 0].groupby(["replication", "key"])["date"].min()
    replications = sorted(pools["replication"].unique())
    first_full = full.unstack("replication").reindex(
        index=pools["key"].unique(), columns=replications
    )
    texts = pd.DataFrame(
        {
            "figure": "first_full",
            "key": first_full.index,
            "value": [_same_or_varies(row.tolist()) for _, row in first_full.iterrows()],
        }
    )
    return Folder(path, manifest, numbers, texts, set(connections["region"]),
                  set(connections["category"]))  # fmt: skip


def _same_or_varies(values: list[object]) -> str:
    """One text for a month over replications: the month, 'never', or the range seen
    ('2026-11..2027-01'; '..never' when some replications never reached it)."""
    months = sorted(str(v) for v in values if not (isinstance(v, float) and math.isnan(v)))
    if not months:
        return "never"
    if len(months) < len(values):
        return f"{months[0]}..never"
    return months[0] if months[0] == months[-1] else f"{months[0]}..{months[-1]}"


@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame
    notes: list[str]
    """What could not be aligned (different horizons, regions, categories, keys)."""

    @property
    def beyond_tolerance(self) -> int:
        return int((~self.table["within_tolerance"].astype(bool)).sum())


def compare_folders(
    folders: list[Folder],
    rtol: float = 0.0,
    atol: float = 0.0,
    metrics: list[str] | None = None,
) -> Comparison:
    """Compare every folder with the first, on the figures and keys both have."""
    baseline, notes, rows = folders[0], [], []
    for other in folders[1:]:
        notes += _alignment_notes(baseline, other)
        a_numbers, b_numbers = baseline.numbers, other.numbers
        if metrics:
            a_numbers = a_numbers[a_numbers["figure"].isin(metrics)]
            b_numbers = b_numbers[b_numbers["figure"].isin(metrics)]
        a = a_numbers.groupby(["figure", "key"], sort=False)["value"].apply(list)
        b = b_numbers.groupby(["figure", "key"], sort=False)["value"].apply(list)
        common = [k for k in a.index if k in b.index]
        only = len(a) + len(b) - 2 * len(common)
        if only:
            notes.append(f"{other.path}: {only} figure/key pairs exist in only one of "
                         f"{baseline.path} and {other.path}; they are left out")  # fmt: skip
        for figure, key in common:
            if metrics and figure not in metrics:
                continue
            rows.append(_numeric_row(figure, key, baseline, other, a[(figure, key)],
                                     b[(figure, key)], rtol, atol))  # fmt: skip
        texts = baseline.texts.merge(other.texts, on=["figure", "key"], suffixes=("_a", "_b"))
        for row in texts.itertuples():
            if (metrics and row.figure not in metrics) or str(row.value_a) == str(
                row.value_b
            ) == "never":
                continue
            same = str(row.value_a) == str(row.value_b)
            rows.append({
                "figure": row.figure, "key": row.key, "baseline": str(baseline.path),
                "folder": str(other.path), "baseline_value": row.value_a, "value": row.value_b,
                "difference": "" if same else "changed", "relative_difference": math.nan,
                "p_value": math.nan, "significant": "", "within_tolerance": same,
            })  # fmt: skip
    return Comparison(pd.DataFrame(rows, columns=COMPARISON_COLUMNS), notes)


def _numeric_row(figure: str, key: str, baseline: Folder, other: Folder, a: list[float],
                 b: list[float], rtol: float, atol: float) -> dict[str, object]:  # fmt: skip
    mean_a, mean_b = _mean(a), _mean(b)
    difference = mean_b - mean_a
    relative = difference / abs(mean_a) if mean_a else (0.0 if difference == 0 else math.inf)
    both_nan = math.isnan(mean_a) and math.isnan(mean_b)
    within = both_nan or abs(difference) <= atol + rtol * abs(mean_a)
    _, p_value = welch_test(a, b) if len(a) > 1 and len(b) > 1 else (math.nan, math.nan)
    significant = "" if math.isnan(p_value) else bool(p_value < SIGNIFICANCE)
    return {
        "figure": figure, "key": key, "baseline": str(baseline.path), "folder": str(other.path),
        "baseline_value": round(mean_a, 6), "value": round(mean_b, 6),
        "difference": round(difference, 6), "relative_difference": round(relative, 6),
        "p_value": round(p_value, 6) if not math.isnan(p_value) else math.nan,
        "significant": significant, "within_tolerance": bool(within),
    }  # fmt: skip


def _mean(values: list[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return float(np.mean(data)) if data else math.nan


def _alignment_notes(a: Folder, b: Folder) -> list[str]:
    notes = []
    if (a.replications > 1) != (b.replications > 1):
        notes.append(f"{a.path} has {a.replications} replication(s), {b.path} has "
                     f"{b.replications}: no significance test without replications on both "
                     "sides")  # fmt: skip
    scenario_a = a.manifest.get("resolved_scenario") or {}
    scenario_b = b.manifest.get("resolved_scenario") or {}
    assert isinstance(scenario_a, dict)
    assert isinstance(scenario_b, dict)
    horizon_a = (scenario_a.get("start"), scenario_a.get("end"))
    horizon_b = (scenario_b.get("start"), scenario_b.get("end"))
    if horizon_a != horizon_b:
        notes.append(f"horizons differ: {a.path} {horizon_a[0]}..{horizon_a[1]}, {b.path} "
                     f"{horizon_b[0]}..{horizon_b[1]}; dates both have are compared")  # fmt: skip
    for what, left, right in (("regions", a.regions, b.regions),
                              ("categories", a.categories, b.categories)):  # fmt: skip
        if left != right:
            notes.append(
                f"{what} differ: only in {a.path}: {', '.join(sorted(left - right)) or '-'}; "
                f"only in {b.path}: {', '.join(sorted(right - left)) or '-'}; totals cover "
                "different things, per-item figures are compared where both have them"
            )
    return notes
