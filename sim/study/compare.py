"""Aligning result folders and comparing their key figures, honestly.

Each folder is kept as a few small per-month tables; a comparison reads both folders at
the same months: at the end of the shorter horizon (the *common end*) and at the year ends
both have, so runs of different horizons still compare per category, per pool and in
total.  The figures (one value per replication):

* `connected` and `demand`: totals at every common year end and at the common end;
* `connected_end`: per category at the common end;
* `blocked_total` (terminals lost up to the common end), `waiting_end`;
* per region/technology pool: `utilization_end` at the common end, and `first_full` (the
  first month up to the common end the pool turned terminals away; over replications the
  range seen; compared as text);
* per target: `target_achieved`, `target_met` (share of replications that met it);
* where the access layer ran: `access_success` per year, region, technology and cell.

How a difference is judged (`test`):

* `exact`: neither folder's value varies over its replications (a deterministic figure,
  e.g. demand, or identical in every replication): the difference is a fact, no p-value;
* `single run`: a folder has one replication: the difference is reported without a test
  (nothing says how much of it is noise);
* `welch`: values vary: Welch's t-test, then the Benjamini–Hochberg correction for false
  discoveries across all tested rows of the folder pair (`scipy.stats.
  false_discovery_control`); `significant` is the adjusted p-value below 0.05;
* `text`: `first_full`, the same text or not.

A row is `flagged` when the difference is real (exact and non-zero, significant after
correction, or a changed text) and at least `min_difference` of the baseline (relative).
`within_tolerance` (for `--check`) is the plain |difference| <= atol + rtol |baseline|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.results import Tables
from sim.results.formatting import (
    count_text,
    p_value_text,
    percent_text,
    signed_count_text,
    signed_percent_text,
)
from sim.stats import false_discovery_adjusted, welch_test

COMPARISON_COLUMNS = [
    "figure", "key", "date", "baseline", "folder", "baseline_value", "value", "difference",
    "relative_difference", "test", "p_value", "p_adjusted", "significant", "flagged",
    "within_tolerance",
]  # fmt: skip
SIGNIFICANCE = 0.05
"""False-discovery rate of the Benjamini–Hochberg correction (adjusted p below it)."""
MIN_DIFFERENCE = 0.01
"""Default smallest relative difference flagged: 1 %.  Smaller differences are within what
the inputs are known to (the flagship's back-test against MIIT's figures errs by 0.2-1.6 %,
scenarios/README.md), so no planning decision should turn on them."""
FIGURES = (
    "connected", "demand", "connected_end", "blocked_total", "waiting_end", "utilization_end",
    "first_full", "target_achieved", "target_met", "access_success",
)  # fmt: skip
COUNT_FIGURES = frozenset(
    ("connected", "demand", "connected_end", "blocked_total", "waiting_end", "target_achieved")
)
"""Figures that are numbers of terminals (the others are shares)."""


class FolderError(ValueError):
    """A folder that is not a readable result folder."""


def _with_replication(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty or "replication" in table.columns:
        return table
    return table.assign(replication=0)


@dataclass
class Folder:
    """A result folder reduced to the per-month tables its key figures are read from."""

    path: Path
    manifest: dict[str, object]
    start: str
    end: str
    totals: pd.DataFrame
    """replication, date: connected, demand, blocked, waiting (all regions and categories)"""
    by_category: pd.DataFrame
    """replication, date, category: connected"""
    pools: pd.DataFrame
    """replication, date, key (region/technology): utilization, turned_away"""
    targets: pd.DataFrame
    """replication, name, date: achieved, met (0/1)"""
    access: pd.DataFrame
    """replication, key, date (year): value (success probability)"""
    regions: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)

    @property
    def replications(self) -> int:
        return int(self.totals["replication"].nunique()) if len(self.totals) else 0

    def numbers(self, end: str, year_ends: list[str]) -> pd.DataFrame:
        """figure, key, date, replication, value: the numeric figures read at `end` (the
        common end) and at `year_ends`."""
        parts = []
        at = self.totals[self.totals["date"].isin([*year_ends, end])]
        for name in ("connected", "demand"):
            parts.append(at.assign(figure=name, key="all", value=at[name]))
        categories = self.by_category[self.by_category["date"] == end]
        parts.append(categories.assign(figure="connected_end", key=categories["category"],
                                       value=categories["connected"]))  # fmt: skip
        upto = self.totals[self.totals["date"] <= end]
        blocked = upto.groupby("replication", as_index=False)["blocked"].sum()
        parts.append(blocked.assign(figure="blocked_total", key="all", date=end,
                                    value=blocked["blocked"]))  # fmt: skip
        last = self.totals[self.totals["date"] == end]
        parts.append(last.assign(figure="waiting_end", key="all", value=last["waiting"]))
        pools = self.pools[self.pools["date"] == end]
        parts.append(pools.assign(figure="utilization_end", value=pools["utilization"]))
        if not self.targets.empty:
            parts.append(self.targets.assign(figure="target_achieved", key=self.targets["name"],
                                             value=self.targets["achieved"]))  # fmt: skip
            parts.append(self.targets.assign(figure="target_met", key=self.targets["name"],
                                             value=self.targets["met"]))  # fmt: skip
        if not self.access.empty:
            access = self.access[self.access["date"] <= end[:4]]
            parts.append(access.assign(figure="access_success"))
        columns = ["figure", "key", "date", "replication", "value"]
        out = pd.concat([part[columns] for part in parts], ignore_index=True)
        out["value"] = pd.to_numeric(out["value"], errors="coerce")
        return out

    def first_full(self, end: str) -> pd.DataFrame:
        """figure, key, date, value: per pool the first month up to `end` it turned
        terminals away ('never'; over replications the range seen)."""
        pools = self.pools[self.pools["date"] <= end]
        full = pools[pools["turned_away"] > 0].groupby(["replication", "key"])["date"].min()
        replications = sorted(pools["replication"].unique())
        months = full.unstack("replication").reindex(index=pools["key"].unique(),
                                                     columns=replications)  # fmt: skip
        return pd.DataFrame({
            "figure": "first_full", "key": months.index, "date": end,
            "value": [_same_or_varies(row.tolist()) for _, row in months.iterrows()],
        })  # fmt: skip


def folder_figures(tables: Tables) -> Folder:
    """The per-month tables of a result folder already read (`sim.results.read_tables`)."""
    path = tables.path if tables.path is not None else Path(tables.name)
    connections = _with_replication(tables.connections)
    network = _with_replication(tables.network)
    targets = _with_replication(tables.targets)
    access = _with_replication(tables.access)
    if connections.empty or network.empty:
        raise FolderError(f"{path}: connections.csv or network.csv is missing or empty")
    counts = ["connected", "demand", "blocked", "waiting"]
    totals = connections.groupby(["replication", "date"], as_index=False)[counts].sum()
    by_category = connections.groupby(["replication", "date", "category"],
                                      as_index=False)[["connected"]].sum()  # fmt: skip
    pools = network.assign(key=network["region"] + "/" + network["technology"])
    pools = pools[["replication", "date", "key", "utilization", "turned_away"]]
    if not targets.empty:
        met = targets["met"].astype(str).str.lower().isin(["true", "1"]).astype(int)
        targets = targets.assign(met=met)[["replication", "name", "date", "achieved", "met"]]
    if not access.empty:
        key = access["region"] + "/" + access["technology"] + " " + access["cell"]
        access = pd.DataFrame({"replication": access["replication"], "key": key,
                               "date": access["year"].astype(str),
                               "value": access["success_probability"]})  # fmt: skip
    return Folder(path, tables.manifest, tables.start, str(connections["date"].max()), totals,
                  by_category, pools, targets, access, set(connections["region"]),
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

    @property
    def flagged(self) -> int:
        return int(self.table["flagged"].astype(bool).sum())


def common_months(a: Folder, b: Folder) -> tuple[str, list[str]]:
    """The months two folders are compared at: the common end (the end of the shorter
    horizon) and the year ends before it that both simulated."""
    end = min(a.end, b.end)
    dates = set(a.totals["date"]) & set(b.totals["date"])
    start = max(a.start, b.start)
    year_ends = sorted(d for d in dates if d.endswith("-12") and start <= d < end)
    return end, year_ends


def compare_folders(
    folders: list[Folder],
    rtol: float = 0.0,
    atol: float = 0.0,
    metrics: list[str] | None = None,
    min_difference: float = MIN_DIFFERENCE,
) -> Comparison:
    """Compare every folder with the first, at their common months, on the keys both have."""
    baseline, notes, frames = folders[0], [], []
    for other in folders[1:]:
        notes += _alignment_notes(baseline, other)
        end, year_ends = common_months(baseline, other)
        rows = []
        a_numbers, b_numbers = baseline.numbers(end, year_ends), other.numbers(end, year_ends)
        if metrics:
            a_numbers = a_numbers[a_numbers["figure"].isin(metrics)]
            b_numbers = b_numbers[b_numbers["figure"].isin(metrics)]
        keys = ["figure", "key", "date"]
        a = a_numbers.groupby(keys, sort=False)["value"].apply(list)
        b = b_numbers.groupby(keys, sort=False)["value"].apply(list)
        common = [k for k in a.index if k in b.index]
        only = len(a) + len(b) - 2 * len(common)
        if only:
            notes.append(f"{other.path}: {only} figure/key pairs exist in only one of "
                         f"{baseline.path} and {other.path}; they are left out")  # fmt: skip
        for figure, key, date in common:
            rows.append(_numeric_row(figure, key, date, a[(figure, key, date)],
                                     b[(figure, key, date)], rtol, atol))  # fmt: skip
        if not metrics or "first_full" in metrics:
            texts = baseline.first_full(end).merge(other.first_full(end), on=keys,
                                                   suffixes=("_a", "_b"))  # fmt: skip
            for row in texts.itertuples():
                if str(row.value_a) == str(row.value_b) == "never":
                    continue
                same = str(row.value_a) == str(row.value_b)
                rows.append({
                    "figure": row.figure, "key": row.key, "date": row.date,
                    "baseline_value": row.value_a, "value": row.value_b,
                    "difference": "" if same else "changed", "relative_difference": math.nan,
                    "test": "text", "p_value": math.nan, "p_adjusted": math.nan,
                    "significant": "", "flagged": not same, "within_tolerance": same,
                })  # fmt: skip
        table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
        table["baseline"], table["folder"] = str(baseline.path), str(other.path)
        frames.append(_judge(table, min_difference))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=COMPARISON_COLUMNS)  # fmt: skip
    return Comparison(table[COMPARISON_COLUMNS], notes)


def _judge(table: pd.DataFrame, min_difference: float) -> pd.DataFrame:
    """The Benjamini–Hochberg adjusted p-values of the tested rows of one folder pair, and
    which rows are flagged."""
    tested = table["test"] == "welch"
    if tested.any():
        adjusted = false_discovery_adjusted(table.loc[tested, "p_value"].to_numpy(dtype=float))
        table.loc[tested, "p_adjusted"] = np.round(adjusted, 6)
        table["significant"] = table["significant"].astype(object)
        table.loc[tested, "significant"] = [bool(p < SIGNIFICANCE) for p in adjusted]
    numeric = table["test"] != "text"
    relative = pd.to_numeric(table["relative_difference"], errors="coerce").abs()
    difference = pd.to_numeric(table["difference"], errors="coerce")
    large = relative.fillna(math.inf if min_difference == 0 else 0.0) >= min_difference
    # NaN relative difference (a baseline of 0): flagged on any difference at all
    large |= relative.isna() & (difference != 0)
    real = ((table["test"] == "welch") & (table["significant"] == True)) | (  # noqa: E712
        table["test"].isin(["exact", "single run"]) & (difference != 0)
    )
    flagged = table["flagged"].astype(object)
    flagged[numeric] = (real & large & difference.notna())[numeric]
    table["flagged"] = flagged.astype(bool)
    return table


def _numeric_row(figure: str, key: str, date: str, a: list[float], b: list[float],
                 rtol: float, atol: float) -> dict[str, object]:  # fmt: skip
    mean_a, mean_b = _mean(a), _mean(b)
    difference = mean_b - mean_a
    relative = difference / abs(mean_a) if mean_a else (0.0 if difference == 0 else math.inf)
    both_nan = math.isnan(mean_a) and math.isnan(mean_b)
    within = both_nan or abs(difference) <= atol + rtol * abs(mean_a)
    test, p_value = _test(a, b)
    return {
        "figure": figure, "key": key, "date": date,
        "baseline_value": round(mean_a, 6), "value": round(mean_b, 6),
        "difference": round(difference, 6), "relative_difference": round(relative, 6),
        "test": test, "p_value": p_value, "p_adjusted": math.nan,
        "significant": "", "flagged": False, "within_tolerance": bool(within),
    }  # fmt: skip


def _test(a: list[float], b: list[float]) -> tuple[str, float]:
    """How a difference is judged, and Welch's two-sided p-value where there is spread."""
    finite_a = [v for v in a if not math.isnan(v)]
    finite_b = [v for v in b if not math.isnan(v)]
    if len(finite_a) < 2 or len(finite_b) < 2:
        return "single run", math.nan
    if len(set(finite_a)) == 1 and len(set(finite_b)) == 1:
        return "exact", math.nan  # no spread: a t-test would call any difference "p = 0"
    _, p_value = welch_test(finite_a, finite_b)
    return "welch", round(p_value, 6)


def _mean(values: list[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return float(np.mean(data)) if data else math.nan


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """A comparison table as text a planner reads: counts as 3.05 B / 2.28 M / 499,142,
    shares and relative differences as percentages, p-values to three digits, a `!` where
    a row is flagged."""

    def value_text(figure: str, value: object) -> str:
        if isinstance(value, str):
            return value
        number = float(value)  # type: ignore[arg-type]
        return count_text(number) if figure in COUNT_FIGURES else percent_text(number)

    def difference_text(figure: str, value: object) -> str:
        if isinstance(value, str):
            return value
        number = float(value)  # type: ignore[arg-type]
        if figure in COUNT_FIGURES:
            return signed_count_text(number)
        return ("+" if number > 0 else "") + f"{number * 100:.3g} pt" if number else "0"

    rows = []
    for row in table.to_dict("records"):
        figure = str(row["figure"])
        p = row["p_adjusted"] if row["test"] == "welch" else math.nan
        rows.append({
            "figure": figure, "key": row["key"], "at": row["date"],
            "baseline": value_text(figure, row["baseline_value"]),
            "value": value_text(figure, row["value"]),
            "difference": difference_text(figure, row["difference"]),
            "relative": signed_percent_text(_float(row["relative_difference"])),
            "test": row["test"], "p (BH)": p_value_text(_float(p)),
            "flag": "!" if bool(row["flagged"]) else "",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _alignment_notes(a: Folder, b: Folder) -> list[str]:
    notes = []
    if (a.replications > 1) != (b.replications > 1):
        notes.append(f"{a.path} has {a.replications} replication(s), {b.path} has "
                     f"{b.replications}: no significance test without replications on both "
                     "sides")  # fmt: skip
    if (a.start, a.end) != (b.start, b.end):
        end, _ = common_months(a, b)
        notes.append(f"horizons differ: {a.path} {a.start}..{a.end}, {b.path} "
                     f"{b.start}..{b.end}; figures at the end are read at {end}, the end of "
                     "the shorter horizon, and at the year ends both have")  # fmt: skip
    for what, left, right in (("regions", a.regions, b.regions),
                              ("categories", a.categories, b.categories)):  # fmt: skip
        if left != right:
            notes.append(
                f"{what} differ: only in {a.path}: {', '.join(sorted(left - right)) or '-'}; "
                f"only in {b.path}: {', '.join(sorted(right - left)) or '-'}; totals cover "
                "different things, per-item figures are compared where both have them"
            )
    return notes
