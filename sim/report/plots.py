"""Figures of result folders (matplotlib, the optional extra `plot`).

Every function takes one or more result tables (`sim.results.read_tables(folder)` or a
`Result`) and returns a matplotlib Figure; several scenarios are overlaid, with their 95 %
bands where they have replications.  Counts read as "2.5 B", axes carry units, titles
name the scenarios.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # figures are files: no screen needed

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.results import Tables, atomic_file
from sim.stats import t_quantile_975


def count_label(value: float, _position: object = None) -> str:
    """2500000000 -> '2.5 B', 120000000 -> '120 M', 45000 -> '45 k'."""
    for size, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


COUNTS = FuncFormatter(count_label)


def labels(runs: Sequence[Tables]) -> list[str]:
    """Scenario names, with the folder added where two runs share a name (sweep variants)."""
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{run.name} ({run.path.name})" if run.path else f"{run.name} #{i + 1}"
            for i, run in enumerate(runs)]  # fmt: skip


def _title(what: str, runs: Sequence[Tables]) -> str:
    """What the figure shows and for which scenarios; on two lines when one would not fit
    the figure's width."""
    names = ", ".join(labels(runs))
    joiner = "\n" if len(what) + len(names) > 85 else " — "
    return f"{what}{joiner}{names}"


def _band(table: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Sum `value` per replication and `by`, then mean and 95 % band over replications."""
    if "replication" not in table.columns:
        table = table.assign(replication=0)
    totals = table.groupby([*by, "replication"], as_index=False)[value].sum()
    grouped = totals.groupby(by)[value]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    half = [
        t_quantile_975(int(n) - 1) * s / math.sqrt(n) if n > 1 else 0.0
        for s, n in zip(out["std"].fillna(0.0), out["count"], strict=True)
    ]
    out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    return out


def _dates(values: Any) -> Any:
    """YYYY-MM labels as timestamps for a time axis."""
    return pd.to_datetime(pd.Series(list(values)), format="%Y-%m")


def _figure(rows: int = 1) -> tuple[Figure, Any]:
    figure, axes = plt.subplots(rows, 1, figsize=(9, 4.2 * rows), squeeze=False,
                                layout="constrained")  # fmt: skip
    return figure, axes[:, 0]


def connected_by_category(runs: Sequence[Tables]) -> Figure:
    """Connected terminals by category (stacked; one scenario) or in total (several), with
    the demand curve dashed, so the gap that capacity causes shows."""
    figure, (axis,) = _figure()
    if len(runs) == 1:
        run = runs[0]
        band = _band(run.connections, ["date", "category"], "connected")
        wide = band.pivot(index="date", columns="category", values="mean").fillna(0.0)
        axis.stackplot(_dates(wide.index), wide.to_numpy().T, labels=wide.columns, alpha=0.85)
    demand_style = {"linestyle": "--", "linewidth": 1.5}
    names = labels(runs)
    for index, run in enumerate(runs):
        color = f"C{index}" if len(runs) > 1 else "black"
        demand = _band(run.connections, ["date"], "demand")
        axis.plot(_dates(demand["date"]), demand["mean"], color=color, **demand_style,
                  label=f"demand{'' if len(runs) == 1 else ' — ' + names[index]}")  # fmt: skip
        if len(runs) > 1:
            total = _band(run.connections, ["date"], "connected")
            _line_with_band(axis, total, f"connected — {names[index]}", color)
    axis.set_ylabel("terminals")
    axis.set_xlabel("month (end)")
    axis.yaxis.set_major_formatter(COUNTS)
    axis.set_title(_title("Connected terminals by category, demand dashed", runs))
    axis.legend(loc="upper left", fontsize=8, ncols=2)
    return figure


def _line_with_band(
    axis: Any,
    band: pd.DataFrame,
    label: str,
    color: str,
    style: str = "-",
    x: Any = None,
    marker: str | None = None,
) -> None:
    """A mean line with its 95 % band (where there are replications); x: dates by default."""
    x = _dates(band[band.columns[0]]) if x is None else x
    axis.plot(x, band["mean"], style, color=color, label=label, marker=marker)
    if (band["high"] > band["low"]).any():
        axis.fill_between(x, band["low"], band["high"], color=color, alpha=0.2, linewidth=0)


def connected_by_technology(runs: Sequence[Tables]) -> Figure:
    """Connected terminals per radio technology (one line each; scenarios by line style)."""
    figure, (axis,) = _figure()
    styles = ["-", "--", ":", "-."]
    technologies: list[str] = []
    for run in runs:
        technologies += [t for t in run.connections["technology"].unique() if t not in technologies]
    for index, run in enumerate(runs):
        for number, technology in enumerate(technologies):
            part = run.connections[run.connections["technology"] == technology]
            if part.empty:
                continue
            band = _band(part, ["date"], "connected")
            label = technology if len(runs) == 1 else f"{technology} — {labels(runs)[index]}"
            _line_with_band(axis, band, label, f"C{number}", styles[index % len(styles)])
    axis.set_ylabel("terminals")
    axis.set_xlabel("month (end)")
    axis.yaxis.set_major_formatter(COUNTS)
    axis.set_title(_title("Connected terminals by technology", runs))
    axis.legend(loc="upper left", fontsize=8, ncols=2)
    return figure


def pool_utilization(runs: Sequence[Tables], top: int = 6) -> Figure:
    """Utilisation of the busiest region/technology pools, with the 100 % line and the
    month each pool first turned terminals away."""
    figure, (axis,) = _figure()
    styles = ["-", "--", ":", "-."]
    first = runs[0].network
    busiest = (
        first.assign(pool=first["region"] + "/" + first["technology"])
        .groupby("pool")["utilization"].max().sort_values(ascending=False)
        .head(top).index.tolist()
    )  # fmt: skip
    for index, run in enumerate(runs):
        network = run.network.assign(pool=run.network["region"] + "/" + run.network["technology"])
        for number, pool in enumerate(busiest):
            part = network[network["pool"] == pool]
            band = _band(part.assign(utilization=part["utilization"] * 100), ["date"],
                         "utilization")  # fmt: skip
            label = pool if len(runs) == 1 else f"{pool} — {labels(runs)[index]}"
            _line_with_band(axis, band, label, f"C{number}", styles[index % len(styles)])
            full = part[part["turned_away"] > 0]
            if len(full):
                month = full["date"].min()
                axis.axvline(_dates(pd.Series([month]))[0], color=f"C{number}", linewidth=0.8,
                             linestyle=styles[index % len(styles)], alpha=0.6)  # fmt: skip
                axis.annotate(f"full {month}", (_dates(pd.Series([month]))[0], 100),
                              fontsize=7, rotation=90, va="top", color=f"C{number}")  # fmt: skip
    axis.axhline(100, color="red", linewidth=1)
    axis.set_ylabel("utilisation (% of registration capacity)")
    axis.set_xlabel("month (end)")
    axis.set_ylim(bottom=0)
    axis.set_title(_title("Pool utilisation (busiest pools); 100 % = full", runs))
    axis.legend(loc="lower right", fontsize=7, ncols=2)
    return figure


def blocked_and_waiting(runs: Sequence[Tables]) -> Figure:
    """Terminals blocked per month and waiting at month end."""
    figure, axes = _figure(rows=2)
    for index, run in enumerate(runs):
        simulated = run.connections[run.connections["date"] >= run.start]
        for axis, column in zip(axes, ("blocked", "waiting"), strict=True):
            band = _band(simulated, ["date"], column)
            _line_with_band(axis, band, labels(runs)[index], f"C{index}")
    axes[0].set_ylabel("terminals blocked per month")
    axes[1].set_ylabel("terminals waiting (month end)")
    for axis in axes:
        axis.set_xlabel("month (end)")
        axis.yaxis.set_major_formatter(COUNTS)
        axis.legend(loc="upper left", fontsize=8)
    axes[0].set_title(_title("Blocked and waiting terminals", runs))
    return figure


def target_attainment(runs: Sequence[Tables]) -> Figure:
    """Each target's required value beside what each scenario achieved."""
    figure, (axis,) = _figure()
    names = list(dict.fromkeys(name for run in runs for name in run.targets["name"]))
    width = 0.8 / (len(runs) + 1)
    positions = np.arange(len(names))
    required = []
    for name in names:
        rows = runs[0].targets[runs[0].targets["name"] == name]
        required.append(float(rows["required"].iloc[0]) if len(rows) else np.nan)
    axis.bar(positions, required, width, color="lightgrey", edgecolor="black", label="required")
    for index, run in enumerate(runs):
        achieved = []
        for name in names:
            rows = run.targets[run.targets["name"] == name]
            achieved.append(float(rows["achieved"].mean()) if len(rows) else np.nan)
        axis.bar(positions + (index + 1) * width, achieved, width, color=f"C{index}",
                 label=f"achieved — {labels(runs)[index]}")  # fmt: skip
    axis.set_xticks(positions + width * len(runs) / 2, names, fontsize=8)
    axis.set_ylabel("terminals (target metric)")
    axis.set_xlabel("target")
    axis.yaxis.set_major_formatter(COUNTS)
    axis.set_title(_title("Target attainment: required vs achieved", runs))
    axis.legend(fontsize=8)
    return figure


def worst_access_pool(runs: Sequence[Tables]) -> str | None:
    """The region/technology pool whose simulated cells fare worst in any of the runs (the
    lowest access success seen); None when no run has access figures."""
    lowest: dict[str, float] = {}
    for run in runs:
        access = run.access
        if access.empty:
            continue
        success = pd.to_numeric(access["success_probability"], errors="coerce")
        pools = access["region"] + "/" + access["technology"]
        for pool, value in success.groupby(pools).min().dropna().items():
            lowest[str(pool)] = min(value, lowest.get(str(pool), math.inf))
    if not lowest:
        return None
    return min(sorted(lowest), key=lambda pool: lowest[pool])


def access_by_year(runs: Sequence[Tables]) -> Figure:
    """Access success and p95 delay by year in the simulated cells (p50/p90/p99) of one
    pool: the pool that fares worst in any of the runs, drawn for every run, so overlaid
    runs compare the same cells."""
    figure, axes = _figure(rows=2)
    styles = ["-", "--", ":", "-."]
    pool = worst_access_pool(runs)
    for index, run in enumerate(runs):
        access = run.access
        if access.empty or pool is None:
            continue
        part = access[access["region"] + "/" + access["technology"] == pool]
        for number, cell in enumerate(sorted(part["cell"].unique(), key=lambda c: float(c[1:]))):
            rows = part[part["cell"] == cell]
            label = f"{pool} {cell}" + ("" if len(runs) == 1 else f" — {labels(runs)[index]}")
            style = styles[index % len(styles)]
            for axis, column, scale in ((axes[0], "success_probability", 100),
                                        (axes[1], "p95_delay_ms", 1)):  # fmt: skip
                band = _band(rows.assign(**{column: rows[column] * scale}), ["year"], column)
                _line_with_band(axis, band, label, f"C{number}", style, x=band["year"], marker="o")
    axes[0].axhline(90, color="red", linewidth=1)
    axes[0].set_ylabel("access success (%)")
    axes[1].set_ylabel("p95 access delay (ms)")
    for axis in axes:
        axis.set_xlabel("year")
        axis.legend(fontsize=8)
    axes[0].set_title(
        _title(f"Random access in {pool} cells (the pool faring worst); 90 % line", runs)
    )
    return figure


FIGURES: dict[str, Callable[[Sequence[Tables]], Figure]] = {
    "connected_by_category": connected_by_category,
    "connected_by_technology": connected_by_technology,
    "pool_utilization": pool_utilization,
    "blocked_and_waiting": blocked_and_waiting,
    "target_attainment": target_attainment,
    "access_by_year": access_by_year,
}


def available(runs: Sequence[Tables]) -> list[str]:
    """The figures these results can show (targets and access only where present)."""
    names = list(FIGURES)
    if all(run.targets.empty for run in runs):
        names.remove("target_attainment")
    if worst_access_pool(runs) is None:  # no access figures, or none with an attempt
        names.remove("access_by_year")
    return names


def close(figure: Figure) -> None:
    plt.close(figure)


def write_figures(runs: list[Tables], out: str | Path, fmt: str = "png") -> list[Path]:
    """Render every figure the results can show into `out` (one file each)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in available(runs):
        figure = FIGURES[name](runs)
        try:
            target = atomic_file(
                out / f"{name}.{fmt}", partial(figure.savefig, format=fmt, dpi=110)
            )
        finally:
            close(figure)
        written.append(target)
    return written
