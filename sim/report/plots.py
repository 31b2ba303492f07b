"""Figures of result folders (matplotlib, the optional extra `plot`).

Every function takes one or more result tables (`sim.results.read_tables(folder)` or a
`Result`) and returns a matplotlib Figure; several scenarios are overlaid, with their 95 %
bands where they have replications.  Counts read as "2.5 B", axes carry units, titles
name the scenarios.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # figures are files: no screen needed

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator
from numpy.typing import NDArray

from sim.results import Tables, atomic_file
from sim.scenario import catalog
from sim.stats import t_quantile_975

FloatArray = NDArray[np.float64]
NO_CELLS = "#b0b0b0"
"""Heat-map colour of a class without cells."""


STYLES: list[Any] = [
    "-",
    "--",
    ":",
    "-.",
    (0, (5, 1)),
    (0, (3, 1, 1, 1, 1, 1)),
    (0, (1, 3)),
    (0, (8, 2, 2, 2)),
]
"""Line styles that tell runs (or cells) apart: eight before one repeats."""


def _run_color(index: int, runs: int) -> Any:
    """A run's colour: the cycle's for up to ten runs, else shades of one colour map in the
    runs' order (a sweep's variants, from the lowest value to the highest)."""
    if runs <= 10:
        return f"C{index}"
    return plt.get_cmap("viridis")(index / max(1, runs - 1))


def count_label(value: float, _position: object = None) -> str:
    """2500000000 -> '2.5 B', 120000000 -> '120 M', 45000 -> '45 k'."""
    for size, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


COUNTS = FuncFormatter(count_label)


def labels(runs: Sequence[Tables]) -> list[str]:
    """Scenario names; sweep variants (a manifest with `sweep_values`) by their swept values
    ('growth.rate=0.45'), each field named by the shortest end of its path that tells the
    swept fields apart; other runs sharing a name get their folder added."""
    swept = [run.manifest.get("sweep_values") for run in runs]
    if all(isinstance(values, dict) and values for values in swept):
        paths = list(dict.fromkeys(path for values in swept for path in values))  # type: ignore[union-attr]
        short = _short_paths(paths)
        names = [", ".join(f"{short[path]}={_value_text(value)}"
                           for path, value in values.items())  # type: ignore[union-attr]
                 for values in swept]  # fmt: skip
        if len(set(names)) == len(names):
            return names
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{run.name} ({run.path.name})" if run.path else f"{run.name} #{i + 1}"
            for i, run in enumerate(runs)]  # fmt: skip


def _short_paths(paths: Sequence[str]) -> dict[str, str]:
    """Each dotted path's shortest ending that no other swept path shares:
    categories.water_meter.growth.rate -> rate, or growth.rate beside another '.rate'."""
    out = {}
    for path in paths:
        steps = path.split(".")
        for size in range(1, len(steps) + 1):
            tail = ".".join(steps[-size:])
            if not any(other != path and other.endswith(tail) for other in paths):
                break
        out[path] = tail
    return out


def _value_text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _title(what: str, runs: Sequence[Tables]) -> str:
    """What the figure shows and for which scenarios; wrapped to lines that fit the
    figure's width (about 85 characters at the title's size)."""
    names = ", ".join(labels(runs))
    if len(what) + len(names) <= 85:
        return f"{what} — {names}"
    lines = textwrap.wrap(names, 95, break_on_hyphens=False)
    if len(lines) > 3:  # many variants: the legend names them
        lines = [f"{len(runs)} runs: {labels(runs)[0]} ... {labels(runs)[-1]}"]
    return "\n".join([what, *lines])


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
    # every figure drawn is a count, a share or a delay: a band below 0 would show values
    # that cannot occur
    out["low"] = (out["mean"] - half).clip(lower=0.0)
    out["high"] = out["mean"] + half
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
    _fitted_legend(figure, axis)
    return figure


def _line_with_band(
    axis: Any,
    band: pd.DataFrame,
    label: str,
    color: str,
    style: Any = "-",
    x: Any = None,
    marker: str | None = None,
    width: float | None = None,
) -> None:
    """A mean line with its 95 % band (where there are replications); x: dates by default."""
    x = _dates(band[band.columns[0]]) if x is None else x
    axis.plot(x, band["mean"], linestyle=style, color=color, label=label, marker=marker,
              linewidth=width)  # fmt: skip
    if (band["high"] > band["low"]).any():
        axis.fill_between(x, band["low"], band["high"], color=color, alpha=0.2, linewidth=0)


def connected_by_technology(runs: Sequence[Tables]) -> Figure:
    """Connected terminals per radio technology (one line each; scenarios by line style)."""
    figure, (axis,) = _figure()
    styles = STYLES
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
    _fitted_legend(figure, axis)
    return figure


def carriers_drawn(runs: Sequence[Tables]) -> list[str]:
    """The carriers the utilisation figures show, in catalog order: those that carry IoT
    terminals, or whose cells filled, in any of the runs (a carrier only smartphones use
    is left out)."""
    drawn: set[str] = set()
    for run in runs:
        cells = run.cells
        if cells.empty:
            continue
        used = (pd.to_numeric(cells["terminals"]) > 0) | cells["full"].astype(bool)
        drawn.update(cells.loc[used, "carrier"])
    return [carrier for carrier in catalog.CARRIERS if carrier in drawn]


def _thresholds(runs: Sequence[Tables]) -> dict[tuple[str, str], float]:
    """Planning threshold per (carrier, resource), as cells.csv records it (share of budget)."""
    out: dict[tuple[str, str], float] = {}
    for run in runs:
        cells = run.cells.dropna(subset=["binding_threshold"])
        pairs = cells.drop_duplicates(["carrier", "binding_resource"])
        for row in pairs.itertuples(index=False):
            out[(str(row.carrier), str(row.binding_resource))] = float(str(row.binding_threshold))
    return out


def _per_carrier(network: pd.DataFrame) -> pd.DataFrame:
    """network.csv with one row per (replication,) date, region and carrier: its rows per
    technology repeat their carrier's utilisation."""
    keys = [c for c in ("replication", "date", "region", "carrier") if c in network.columns]
    return network.drop_duplicates(keys).reset_index(drop=True)


def _fit(values: list[float]) -> tuple[float, float]:
    """A y range around the values (percent), with a margin, never below 0."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    margin = max((high - low) * 0.08, high * 0.02, 0.01)
    return max(0.0, low - margin), high + margin


def _leaves(regions: Any, prefix: str = "") -> list[str]:
    """The simulated regions (leaves, by path) of a manifest's resolved regions, in order."""
    if not isinstance(regions, dict):
        return []
    out = []
    for name, region in regions.items():
        inner = region.get("regions") if isinstance(region, dict) else None
        out += _leaves(inner, f"{prefix}{name}/") if inner else [f"{prefix}{name}"]
    return out


def _regions(runs: Sequence[Tables], table: str) -> list[str]:
    """The regions of the runs' `table`, in the order the scenarios declare them."""
    declared = [
        leaf
        for run in runs
        for leaf in _leaves((run.manifest.get("resolved_scenario") or {}).get("regions") or {})
    ]
    seen = [str(r) for run in runs for r in getattr(run, table)["region"]]
    return [r for r in dict.fromkeys([*declared, *seen]) if r in set(seen)]


def _region_colors(regions: Sequence[str]) -> list[Any]:
    """A colour per region: matplotlib's ten cycle colours, or twenty paired shades for
    more regions (nested regions: the four official regions' three parts are twelve),
    so no two regions share one."""
    if len(regions) <= 10:
        return [f"C{n}" for n in range(len(regions))]
    palette = plt.get_cmap("tab20")
    return [palette(n % 20) for n in range(len(regions))]


def _legend_columns(labels: Sequence[str], width_in: float) -> int:
    """Legend columns that fit a figure `width_in` inches wide at font size 8 (about 0.075
    in a character, 0.55 in for the line and the gap)."""
    longest = max((len(label) for label in labels), default=1)
    return max(1, min(len(labels), int(width_in / (0.075 * longest + 0.55))))


def _binding_text(binding: dict[str, list[str]]) -> str:
    """'binding resource: downlink', or per region where the regions differ."""
    sequences = {", then ".join(resources) for resources in binding.values()}
    if len(sequences) == 1:
        return f"binding resource: {sequences.pop()}"
    return "binding resource: " + "; ".join(
        f"{region} {', then '.join(resources)}" for region, resources in binding.items()
    )


def carrier_utilization(runs: Sequence[Tables]) -> Figure:
    """Busy-hour utilisation of each carrier's binding resource per region (physical share
    of the budget, smartphones included): one panel per carrier with its own y range, the
    region-wide value solid and, for one scenario, the hottest cell class dashed; the
    planning threshold where it falls in the range, and the month a region's first class
    filled."""
    carriers = carriers_drawn(runs) or list(dict.fromkeys(runs[0].network["carrier"]))
    figure, axes = plt.subplots(len(carriers), 1, figsize=(9, 1.2 + 2.6 * len(carriers)),
                                squeeze=False, layout="constrained")  # fmt: skip
    thresholds = _thresholds(runs)
    styles = [style for style in STYLES if style != "--"]  # dashed: the hottest class
    names = labels(runs)
    one = len(runs) == 1
    regions = _regions(runs, "network")
    colors = _region_colors(regions)
    threshold_drawn = False
    for axis, carrier in zip(axes[:, 0], carriers, strict=True):
        shown: list[float] = []
        limits: dict[tuple[str, float], list[str]] = {}
        fills: list[tuple[str, str, Any]] = []
        binding: dict[str, list[str]] = {}
        region_lines: list[Any] = []
        for index, run in enumerate(runs):
            rows = _per_carrier(run.network)
            rows = rows[rows["carrier"] == carrier]
            for number, region in enumerate(regions):
                part = rows[(rows["region"] == region) & (pd.to_numeric(rows["cells"]) > 0)]
                if part.empty:
                    continue
                resources = binding.setdefault(region, [])
                resources += [str(r) for r in dict.fromkeys(part["binding_resource"].dropna())
                              if str(r) not in resources]  # fmt: skip
                # lines drawn later are thinner, so lines that coincide stay visible
                width = max(3.6 - 1.3 * number, 1.0)
                for column in ("utilization", "hottest_utilization"):
                    if column == "hottest_utilization" and not one:
                        continue  # several scenarios: the cell-class figures show classes
                    values = pd.to_numeric(part[column]) * 100
                    band = _band(part.assign(**{column: values}), ["date"], column)
                    if column == "utilization":
                        region_lines.append(band["mean"].to_numpy())
                        _line_with_band(axis, band, "_", colors[number],
                                        styles[index % len(styles)], width=width)  # fmt: skip
                    else:
                        _line_with_band(axis, band, "_", colors[number], "--", width=1.2)
                    shown += [*band["low"], *band["high"]]
                for resource, dated in part.groupby("binding_resource")["date"]:
                    level = thresholds.get((carrier, str(resource)))
                    if level is not None:
                        limits.setdefault((str(resource), level * 100), []).extend(dated)
                full = part[pd.to_numeric(part["classes_full"]) > 0]
                if len(full):
                    fills.append((full["date"].min(), colors[number], styles[index % len(styles)]))
        low, high = _fit(shown)
        axis.set_ylim(low, high)
        notes = [_binding_text(binding)]
        if len(region_lines) > 1 and all(
            len(line) == len(region_lines[0]) and np.allclose(line, region_lines[0], atol=0.05)
            for line in region_lines
        ):
            notes.append("the regions' lines coincide")
        for (resource, level), months in sorted(limits.items()):
            if low <= level <= high:
                x = _dates(sorted(set(months)))
                axis.hlines(level, x.min(), x.max(), color="red", linewidth=1)
                threshold_drawn = True
            else:
                which = "its" if len(limits) == 1 else f"the {resource}"
                where = "above" if level > high else "below"
                notes.append(f"{which} planning threshold, {level:g} %, is {where} the axis")
        for month, color, style in fills:
            at = _dates([month])[0]
            axis.axvline(at, color=color, linewidth=0.8, linestyle=style, alpha=0.7)
            axis.annotate(f" a class full {month}", (at, low), fontsize=7, rotation=90,
                          va="bottom", ha="right", color=color)  # fmt: skip
        axis.set_title(f"{carrier} carrier — " + "; ".join(notes), fontsize=9, loc="left")
        axis.set_ylabel("utilisation of the binding\nresource (% of budget)")
        axis.set_xlabel("month (end)")
    handles = [Line2D([], [], color=colors[n], linewidth=2, label=r) for n, r in enumerate(regions)]
    if one:
        handles.append(Line2D([], [], color="grey", linestyle="--", label="hottest cell class"))
    else:
        handles += [Line2D([], [], color="grey", linestyle=styles[i % len(styles)], label=name)
                    for i, name in enumerate(names)]  # fmt: skip
    if threshold_drawn:
        handles.append(Line2D([], [], color="red", linewidth=1, label="planning threshold"))
    columns = _legend_columns([str(h.get_label()) for h in handles], 9)
    figure.legend(handles=handles, loc="outside lower center", ncols=columns, fontsize=8,
                  frameon=False)  # fmt: skip
    what = "Busy-hour utilisation of each carrier's binding resource, region-wide"
    what += " (solid) and hottest cell class (dashed)" if one else ""
    figure.suptitle(_title(what, runs), fontsize=11)
    return figure


@dataclass(frozen=True)
class HeatMap:
    """The cell classes of one region and carrier over time, as the heat map draws them.

    `share[k, t]` is class k's busy-hour utilisation of its binding resource as a share of
    that resource's planning threshold (1 = full; NaN where the class has no cells), the
    mean over replications; `full[k, t]` whether the class was full (in any replication).
    Classes run coldest first, as in cells.csv.
    """

    classes: list[str]
    dates: list[str]
    share: FloatArray
    full: NDArray[np.bool_]


def heat_map(cells: pd.DataFrame, region: str, carrier: str) -> HeatMap:
    """The heat-map matrix of one region and carrier read from cells.csv."""
    rows = cells[(cells["region"] == region) & (cells["carrier"] == carrier)]
    classes = [str(c) for c in dict.fromkeys(rows["cell_class"])]  # cells.csv order
    dates = sorted(str(d) for d in set(rows["date"]))
    rows = rows.assign(
        share=pd.to_numeric(rows["binding_utilization"]) / pd.to_numeric(rows["binding_threshold"]),
        full=rows["full"].astype(bool),
    )
    grouped = rows.groupby(["cell_class", "date"])
    share = grouped["share"].mean().unstack("date").reindex(index=classes, columns=dates)
    full = grouped["full"].any().unstack("date").reindex(index=classes, columns=dates)
    return HeatMap(classes, dates, share.to_numpy(dtype=float),
                   full.fillna(False).to_numpy(dtype=bool))  # fmt: skip


def _month_edges(dates: Sequence[str]) -> FloatArray:
    """Matplotlib date numbers of the months' starts and the end of the last one."""
    starts = pd.to_datetime(pd.Series(list(dates)), format="%Y-%m")
    edges = [*starts, starts.iloc[-1] + pd.offsets.MonthBegin(1)]
    return np.asarray(mdates.date2num(edges), dtype=float)


def _mark_full(axis: Any, edges: FloatArray, full: NDArray[np.bool_]) -> None:
    """Hatch the months each class was full, one rectangle per run of full months."""
    for k, row in enumerate(full):
        t = 0
        while t < len(row):
            if not row[t]:
                t += 1
                continue
            end = t
            while end < len(row) and row[end]:
                end += 1
            axis.add_patch(Rectangle((edges[t], k), edges[end] - edges[t], 1, fill=False,
                                     hatch="////", edgecolor="black", linewidth=0.6))  # fmt: skip
            t = end


def _peak_text(matrix: HeatMap, start: str) -> str:
    """Where and when a heat map is highest from `start` on (as summary.csv's peak), the
    hotter class and then the earlier month on ties, e.g. 'highest 0.71: p99-100 in
    2025-11'."""
    months = [t for t, date in enumerate(matrix.dates) if date >= start] or list(
        range(len(matrix.dates))
    )
    share = matrix.share[::-1, months]  # hottest class first
    if not np.isfinite(share).any():
        return "no cells"
    k, t = np.unravel_index(int(np.nanargmax(share)), share.shape)
    hottest_first = matrix.classes[::-1]
    return f"highest {share[k, t]:.2f}: {hottest_first[k]} in {matrix.dates[months[t]]}"


def cell_utilization(runs: Sequence[Tables], carrier: str) -> Figure:
    """Heat map of one carrier's cell classes over time: a row of panels per region, a
    column per scenario (the same region and carrier side by side), classes coldest at the
    bottom, colour = utilisation of the binding resource as a share of its planning
    threshold (one scale for every panel), full months hatched."""
    regions = [region for region in _regions(runs, "cells") if any(
        ((run.cells["region"] == region) & (run.cells["carrier"] == carrier)).any()
        for run in runs)]  # fmt: skip
    maps = [[heat_map(run.cells, region, carrier) for run in runs] for region in regions]
    finite = [m.share[np.isfinite(m.share)] for row in maps for m in row]
    peak = max((float(values.max()) for values in finite if values.size), default=0.0)
    colours = plt.get_cmap("YlOrRd").with_extremes(bad=NO_CELLS, over="#3b0000")
    norm = Normalize(0.0, 1.0)
    width = 9.0 if len(runs) == 1 else 1.8 + 4.4 * len(runs)
    figure, axes = plt.subplots(len(regions), len(runs), squeeze=False, sharex=True,
                                figsize=(width, 1.3 + 2.0 * len(regions)),
                                layout="constrained")  # fmt: skip
    names = labels(runs)
    mesh = None
    for row, region in enumerate(regions):
        for column, matrix in enumerate(maps[row]):
            axis = axes[row, column]
            axis.set_title(region if len(runs) == 1 else f"{region} — {names[column]}",
                           fontsize=8, loc="left")  # fmt: skip
            axis.set_title(_peak_text(matrix, runs[column].start), fontsize=8, loc="right")
            axis.set_ylabel("cell class", fontsize=8)
            if row == len(regions) - 1:
                axis.set_xlabel("month (end)")
            if not matrix.classes:
                continue  # this scenario has no such cells: an empty panel, titled
            edges = _month_edges(matrix.dates)
            ys = np.arange(len(matrix.classes) + 1)
            # rasterised: an SVG of hundreds of quads per panel would be large and slow
            mesh = axis.pcolormesh(edges, ys, np.ma.masked_invalid(matrix.share), cmap=colours,
                                   norm=norm, shading="flat", rasterized=True)  # fmt: skip
            _mark_full(axis, edges, matrix.full)
            axis.set_yticks(ys[:-1] + 0.5, matrix.classes, fontsize=7)
            axis.set_ylim(0, len(matrix.classes))
            axis.xaxis_date()
    if mesh is not None:
        bar = figure.colorbar(mesh, ax=axes, shrink=min(1.0, 0.5 + 0.2 * len(regions)),
                              pad=0.01, extend="max" if peak > 1 else "neither")  # fmt: skip
        bar.set_label("share of the planning threshold\n(1 = full)", fontsize=8)
    replicated = _replicated(runs)
    label = "full (in any replication)" if replicated else "full"
    if not any(m.full.any() for row in maps for m in row):
        label += ": no class here"
    handles = [Patch(facecolor="white", edgecolor="black", hatch="////", label=label)]
    if any(np.isnan(m.share).any() for row in maps for m in row):
        handles.append(Patch(facecolor=NO_CELLS, label="no cells"))
    figure.legend(handles=handles, loc="outside lower right", ncols=2, fontsize=8,
                  frameon=False)  # fmt: skip
    what = (f"Cell classes of the {carrier} carrier: busy-hour utilisation of the binding "
            "resource, share of its planning threshold")  # fmt: skip
    if replicated:
        what += " (mean of the replications)"
    figure.suptitle(_title(what, runs), fontsize=11)
    return figure


def _replicated(runs: Sequence[Tables]) -> bool:
    return any("replication" in run.cells.columns and run.cells["replication"].nunique() > 1
               for run in runs)  # fmt: skip


def blocked_and_waiting(runs: Sequence[Tables]) -> Figure:
    """Terminals blocked per month and waiting at month end; a panel where none are says
    so on a 0-based axis (not a range around zero)."""
    figure, axes = _figure(rows=2)
    peaks = {"blocked": 0.0, "waiting": 0.0}
    for index, run in enumerate(runs):
        simulated = run.connections[run.connections["date"] >= run.start]
        for axis, column in zip(axes, ("blocked", "waiting"), strict=True):
            band = _band(simulated, ["date"], column)
            peaks[column] = max(peaks[column], float(band["high"].max()))
            _line_with_band(axis, band, labels(runs)[index], f"C{index}")
    axes[0].set_ylabel("terminals blocked per month")
    axes[1].set_ylabel("terminals waiting (month end)")
    for axis, column in zip(axes, ("blocked", "waiting"), strict=True):
        axis.set_xlabel("month (end)")
        axis.yaxis.set_major_formatter(COUNTS)
        if peaks[column] == 0:
            axis.set_ylim(0, 1)
            axis.set_yticks([0])
            axis.text(0.5, 0.5, f"no terminal {column} in any run", transform=axis.transAxes,
                      ha="center", va="center", fontsize=10, color="grey")  # fmt: skip
        else:
            axis.set_ylim(bottom=0)
        _legend(axis, len(runs))
    axes[0].set_title(_title("Blocked and waiting terminals", runs))
    return figure


def _fitted_legend(figure: Figure, axis: Any) -> None:
    """The axis' legend inside it (two columns) when it has a dozen entries or fewer, else
    below the figure in as many columns as fit, so it never covers the lines."""
    handles, names = axis.get_legend_handles_labels()
    if len(handles) <= 12:
        axis.legend(loc="upper left", fontsize=8, ncols=2)
        return
    figure.legend(handles, names, loc="outside lower center", fontsize=7, frameon=False,
                  ncols=_legend_columns(names, 9))  # fmt: skip


def _legend(axis: Any, entries: int) -> None:
    """A legend inside the axes for a few entries, below them for many (sweeps)."""
    if entries <= 6:
        axis.legend(loc="upper left", fontsize=8)
    else:
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=7,
                    ncols=min(4, entries), frameon=False)  # fmt: skip


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
    handles, names = axis.get_legend_handles_labels()
    # below the figure: inside, the legend would cover the bars it names
    figure.legend(handles, names, loc="outside lower center", fontsize=8, frameon=False,
                  ncols=_legend_columns(names, 9))  # fmt: skip
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
    pool = worst_access_pool(runs)
    for index, run in enumerate(runs):
        access = run.access
        if access.empty or pool is None:
            continue
        part = access[access["region"] + "/" + access["technology"] == pool]
        for number, cell in enumerate(sorted(part["cell"].unique(), key=lambda c: float(c[1:]))):
            rows = part[part["cell"] == cell]
            label = f"{pool} {cell}" + ("" if len(runs) == 1 else f" — {labels(runs)[index]}")
            # one run: a colour per cell; several: a colour per run, a line style per cell
            color = f"C{number}" if len(runs) == 1 else _run_color(index, len(runs))
            style = "-" if len(runs) == 1 else STYLES[number % len(STYLES)]
            for axis, column, scale in ((axes[0], "success_probability", 100),
                                        (axes[1], "p95_delay_ms", 1)):  # fmt: skip
                band = _band(rows.assign(**{column: rows[column] * scale}), ["year"], column)
                _line_with_band(axis, band, label, color, style, x=band["year"], marker="o")
    axes[0].set_ylabel("access success (%)")
    axes[1].set_ylabel("p95 access delay (ms)")
    low, high = axes[0].get_ylim()
    low, high = max(0.0, low), min(100.5, max(high, low + 1))
    axes[0].set_ylim(low, high)
    line = "90 % line" if low <= 90 <= high else "the 90 % line is below the axis"
    if low <= 90 <= high:
        axes[0].axhline(90, color="red", linewidth=1)
    axes[1].set_ylim(bottom=0)
    for axis in axes:
        axis.set_xlabel("year")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    _fitted_legend(figure, axes[0])  # the same lines in both panels: one legend
    if axes[0].get_legend() is not None:
        axes[1].legend(fontsize=8)
    axes[0].set_title(
        _title(f"Random access in {pool} cells (the pool faring worst); {line}", runs)
    )
    return figure


FIGURES: dict[str, Callable[[Sequence[Tables]], Figure]] = {
    "connected_by_category": connected_by_category,
    "connected_by_technology": connected_by_technology,
    "carrier_utilization": carrier_utilization,
    **{f"cells_{c}": partial(cell_utilization, carrier=c) for c in catalog.CARRIERS},
    "blocked_and_waiting": blocked_and_waiting,
    "target_attainment": target_attainment,
    "access_by_year": access_by_year,
}


def caption(name: str) -> str:
    """What a figure shows, in a phrase (for reports)."""
    if name.startswith("cells_"):
        return (f"cell classes of the {name.removeprefix('cells_')} carrier: busy-hour "
                "utilisation of the binding resource as a share of its planning threshold, "
                "full months hatched")  # fmt: skip
    return {
        "connected_by_category": "connected terminals by category, demand dashed",
        "carrier_utilization": "busy-hour utilisation of each carrier's binding resource "
        "(% of budget), region-wide and in the hottest cell class",
    }.get(name, name.replace("_", " "))


def available(runs: Sequence[Tables]) -> list[str]:
    """The figures these results can show (targets and access only where present)."""
    names = list(FIGURES)
    drawn = carriers_drawn(runs)
    names = [n for n in names if not n.startswith("cells_") or n.removeprefix("cells_") in drawn]
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
