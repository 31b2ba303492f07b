"""Tidy result tables of a run, built from its plan and trajectory.

Every table has stable snake_case columns; dates are `YYYY-MM` month ends; counts are
whole terminals at real scale.  The row dated the month before `start` is the state at the
start of the horizon: its `joined` is the initial installed base placed on the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.access.experience import ENERGY_PARTS
from sim.demand.schedules import row_month_indices
from sim.engine import Plan, Trajectory, pools_full
from sim.scenario import Scenario, month_label
from sim.scenario.base import RESOURCES

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CONNECTIONS_COLUMNS = [
    "date", "region", "category", "technology",
    "demand", "connected", "joined", "left", "blocked", "waiting",
    "migrated", "migrated_in", "stranded",
]  # fmt: skip
NETWORK_COLUMNS = [
    "date", "region", "technology", "carrier", "sites", "cells", "connected",
    "utilization", "binding_resource", "hottest_utilization", "classes_full", "turned_away",
]  # fmt: skip
UTILIZATION_COLUMNS = [f"{resource}_utilization" for resource in RESOURCES]
CELLS_COLUMNS = [
    "date", "region", "cell_class", "carrier", "cells", "terminals", *UTILIZATION_COLUMNS,
    "binding_resource", "binding_utilization", "binding_threshold", "headroom_used",
    "headroom_resource", "full", "turned_away",
]  # fmt: skip
TARGET_COLUMNS = [
    "name", "metric", "date", "bound", "required", "achieved", "met", "first_reached",
]  # fmt: skip


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
                            "migrated": trajectory.migrated[:, c, r, tech_index],
                            "migrated_in": trajectory.migrated_in[:, c, r, tech_index],
                            "stranded": trajectory.stranded[:, c, r, tech_index],
                        }
                    )
                )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(
        ["date", "region", "category", "technology"], kind="stable", ignore_index=True
    )[CONNECTIONS_COLUMNS]


@dataclass(frozen=True)
class PoolState:
    """Month-end utilisation of every pool (region, class, carrier), smartphones included.

    Arrays indexed [t, region, class, carrier(, resource)].  Utilisation is the share of a
    resource's physical budget in use (IoT + smartphones); a pool is *full* when a resource
    reached its planning threshold or the pool turned terminals away that month.
    """

    cells: FloatArray
    terminals: IntArray
    utilization: FloatArray
    binding: IntArray
    """Index of the resource closest to (or over) its threshold, relative to it."""
    headroom_used: FloatArray
    """Highest share, over resources, of what IoT may use (budget x (threshold -
    smartphones' share)) that IoT uses; 1 = full."""
    headroom_binding: IntArray
    """Index of the resource whose headroom IoT uses most."""
    full: NDArray[np.bool_]
    turned_away: IntArray


def pool_state(plan: Plan, trajectory: Trajectory) -> PoolState:
    """Utilisation, binding resource and fullness of every pool at every month end."""
    network = plan.network
    periods = trajectory.pool_used.shape[0]
    shape = (periods, len(network.regions), len(network.classes), len(network.carriers))
    cells = network.class_cells
    budget = cells[..., None] * network.budget[None, None, None, :, :]
    phones = budget * network.background[:, None, None, :, :]
    used = trajectory.pool_used.reshape(*shape, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilization = np.where(budget > 0, (used + phones) / budget, np.nan)
        relative = utilization / network.threshold[None, None, None, :, :]
    binding = np.argmax(np.nan_to_num(relative, nan=-1.0), axis=-1)
    usable = network.usable
    with np.errstate(divide="ignore", invalid="ignore"):
        share_used = np.where(usable > 0, used / usable, np.where(used > 0, np.inf, 0.0))
    headroom_used = np.where(cells > 0, share_used.max(axis=-1), np.nan)
    headroom_binding = np.argmax(share_used, axis=-1)
    turned_away = trajectory.pool_turned_away.reshape(shape)
    return PoolState(
        cells=cells,
        terminals=trajectory.pool_terminals.reshape(shape),
        utilization=utilization,
        binding=binding,
        headroom_used=headroom_used,
        headroom_binding=headroom_binding,
        full=pools_full(plan, trajectory),
        turned_away=turned_away,
    )


def cells_table(plan: Plan, state: PoolState) -> pd.DataFrame:
    """cells.csv: one row per month, region, cell class and carrier kind."""
    network = plan.network
    dates = [month_label(index) for index in row_month_indices(plan.scenario)]
    frames = []
    for r, region in enumerate(network.regions):
        for k, label in enumerate(network.classes):
            for c, carrier in enumerate(network.carriers):
                utilization = state.utilization[:, r, k, c, :]
                binding = state.binding[:, r, k, c]
                has_cells = state.cells[:, r, k, c] > 0
                columns = {
                    name: np.round(utilization[:, j], 6)
                    for j, name in enumerate(UTILIZATION_COLUMNS)
                }
                frames.append(
                    pd.DataFrame(
                        {
                            "date": dates,
                            "region": region,
                            "cell_class": label,
                            "carrier": carrier,
                            "cells": np.rint(state.cells[:, r, k, c]).astype(np.int64),
                            "terminals": state.terminals[:, r, k, c],
                            **columns,
                            "binding_resource": np.where(
                                has_cells, np.array(RESOURCES)[binding], ""
                            ),
                            "binding_utilization": np.round(_pick(utilization, binding), 6),
                            "binding_threshold": np.where(
                                has_cells, network.threshold[c, binding], np.nan
                            ),
                            "headroom_used": np.round(state.headroom_used[:, r, k, c], 6),
                            "headroom_resource": np.where(
                                has_cells,
                                np.array(RESOURCES)[state.headroom_binding[:, r, k, c]],
                                "",
                            ),
                            "full": state.full[:, r, k, c],
                            "turned_away": state.turned_away[:, r, k, c],
                        }
                    )
                )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(
        ["date", "region", "cell_class", "carrier"], kind="stable", ignore_index=True,
        key=lambda column: column.map(_class_order(network.classes))
        if column.name == "cell_class" else column,
    )[CELLS_COLUMNS]  # fmt: skip


def _class_order(classes: tuple[str, ...]) -> dict[str, int]:
    return {label: position for position, label in enumerate(classes)}


def network_table(plan: Plan, trajectory: Trajectory, state: PoolState) -> pd.DataFrame:
    """network.csv: one row per month, region and carried technology; utilisation is its
    carrier's over the whole region (cells' resources summed), for the binding resource."""
    network = plan.network
    dates = [month_label(index) for index in row_month_indices(plan.scenario)]
    connected = trajectory.connected.sum(axis=1)  # [t, region, tech]
    budget = state.cells[..., None] * network.budget[None, None, None, :, :]
    in_use = np.nan_to_num(state.utilization) * budget
    with np.errstate(divide="ignore", invalid="ignore"):
        regional = in_use.sum(axis=2) / budget.sum(axis=2)  # [t, region, carrier, resource]
        relative = regional / network.threshold[None, None, :, :]
    binding = np.argmax(np.nan_to_num(relative, nan=-1.0), axis=-1)
    frames = []
    for r, region in enumerate(network.regions):
        for k, tech in enumerate(network.technologies):
            c = network.carrier_of[k]
            has_cells = budget[:, r, :, c, 0].sum(axis=1) > 0
            hottest = _hottest(state, r, c)
            frames.append(
                pd.DataFrame(
                    {
                        "date": dates,
                        "region": region,
                        "technology": tech,
                        "carrier": network.carriers[c],
                        "sites": np.rint(network.sites[:, r, k]).astype(np.int64),
                        "cells": np.rint(network.cells[:, r, k]).astype(np.int64),
                        "connected": connected[:, r, k],
                        "utilization": np.round(
                            np.take_along_axis(regional[:, r, c, :], binding[:, r, c][:, None], 1)[
                                :, 0
                            ],
                            6,
                        ),
                        "binding_resource": np.where(
                            has_cells, np.array(RESOURCES)[binding[:, r, c]], ""
                        ),
                        "hottest_utilization": np.round(hottest, 6),
                        "classes_full": state.full[:, r, :, c].sum(axis=1),
                        "turned_away": trajectory.turned_away[:, r, k],
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["date", "region", "technology"], kind="stable", ignore_index=True)[
        NETWORK_COLUMNS
    ]


def _pick(values: FloatArray, index: IntArray) -> FloatArray:
    """values[..., index[...]] along the last axis (one resource per row)."""
    return np.take_along_axis(values, index[..., None], -1)[..., 0]


def _hottest(state: PoolState, region: int, carrier: int) -> FloatArray:
    """Per month, the highest binding-resource utilisation among a region's cell classes."""
    binding = state.binding[:, region, :, carrier]
    values = np.take_along_axis(
        state.utilization[:, region, :, carrier, :], binding[..., None], -1
    )[..., 0]
    values = np.where(np.isnan(values), -np.inf, values)
    best = values.max(axis=1)
    return np.where(np.isinf(best), np.nan, best)


def targets_table(scenario: Scenario, connections: pd.DataFrame) -> pd.DataFrame:
    """targets.csv: whether each target is met at its date, and the first month it was.

    `blocked` is counted cumulatively (terminals lost up to the date, the initial placement
    included); the other metrics are month-end values.
    """
    rows = []
    for target in scenario.targets:
        selected = connections
        for column in ("category", "technology"):
            value = getattr(target, column)
            if value is not None:
                selected = selected[selected[column] == value]
        if target.region is not None:  # a leaf, or a group: the sum of its leaves
            selected = selected[selected["region"].isin(scenario.leaves_of(target.region))]
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
    cells: pd.DataFrame,
    targets: pd.DataFrame,
    access: pd.DataFrame,
    experience: pd.DataFrame,
    seed: int,
) -> pd.DataFrame:
    """summary.csv: the key figures of a run as (metric, value) rows."""
    scenario = plan.scenario
    end = scenario.end
    at_end = connections[connections["date"] == end]
    connected_end = int(at_end["connected"].sum())
    demand_end = int(at_end["demand"].sum())
    after_start = connections["date"] >= scenario.start
    blocked_rows = connections[connections["blocked"] > 0]
    running = cells[cells["date"] >= scenario.start].assign(
        pool=cells["region"] + "/" + cells["cell_class"] + "/" + cells["carrier"],
        relative=cells["binding_utilization"] / cells["binding_threshold"],
    )
    full = cells[cells["full"]]  # the initial placement included, as for blocking
    full = full.assign(pool=full["region"] + "/" + full["cell_class"] + "/" + full["carrier"])
    peak = (
        running.loc[int(running["relative"].idxmax())]  # type: ignore[call-overload]
        if running["relative"].notna().any()
        else None
    )
    roomiest = running[running["headroom_used"].notna()]
    closest = (
        roomiest.loc[int(roomiest["headroom_used"].idxmax())]  # type: ignore[call-overload]
        if len(roomiest)
        else None
    )
    last = cells[cells["date"] == end]
    turned_away_by_class = cells.groupby("cell_class")["turned_away"].sum()
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
        ("migrated_total", int(trajectory.migrated.sum())),
        ("stranded_total", int(trajectory.stranded.sum())),
        *_switch_off_figures(plan, trajectory),
        ("connected_end", connected_end),
        ("demand_end", demand_end),
        ("connected_share_of_demand_end",
         f"{connected_end / demand_end:.6f}" if demand_end else ""),
        ("blocked_total", int(connections["blocked"].sum())),
        ("waiting_end", int(at_end["waiting"].sum())),
        ("first_blocked_date", blocked_rows["date"].iloc[0] if len(blocked_rows) else ""),
        ("first_full_date", full["date"].iloc[0] if len(full) else ""),
        ("first_full_cells", full["pool"].iloc[0] if len(full) else ""),
        ("first_full_resource", full["binding_resource"].iloc[0] if len(full) else ""),
        *_full_shares(plan, last),
        *_group_figures(plan, trajectory, connections, full),
        ("peak_utilization", f"{peak['binding_utilization']:.6f}" if peak is not None else ""),
        ("peak_utilization_of_threshold", f"{peak['relative']:.6f}" if peak is not None else ""),
        ("peak_utilization_cells", peak["pool"] if peak is not None else ""),
        ("peak_utilization_resource", peak["binding_resource"] if peak is not None else ""),
        ("peak_utilization_date", peak["date"] if peak is not None else ""),
        ("peak_headroom_used", f"{closest['headroom_used']:.6f}" if closest is not None else ""),
        ("peak_headroom_used_cells", closest["pool"] if closest is not None else ""),
        ("peak_headroom_used_resource",
         closest["headroom_resource"] if closest is not None else ""),
        ("peak_headroom_used_date", closest["date"] if closest is not None else ""),
        *[
            (f"turned_away_{label}", int(turned_away_by_class.get(label, 0)))
            for label in plan.network.classes
        ],
        ("targets_met", f"{int(targets['met'].sum())} of {len(targets)}"),
        *_access_figures(plan, access),
        *_battery_figures(plan, experience),
    ]  # fmt: skip
    return pd.DataFrame(figures, columns=["metric", "value"]).astype({"value": str})


def _switch_off_figures(plan: Plan, trajectory: Trajectory) -> list[tuple[str, Any]]:
    """Per switched-off technology, the terminals moved off it and those lost with it."""
    figures: list[tuple[str, Any]] = []
    techs = plan.network.technologies
    for k in sorted({event.technology for event in plan.network.switch_offs}):
        figures += [
            (f"migrated_from_{techs[k]}", int(trajectory.migrated[..., k].sum())),
            (f"stranded_from_{techs[k]}", int(trajectory.stranded[..., k].sum())),
        ]
    return figures


def _group_figures(
    plan: Plan, trajectory: Trajectory, connections: pd.DataFrame, full: pd.DataFrame
) -> list[tuple[str, Any]]:
    """Per region with regions of its own (an official region, a province cut out of one),
    the main figures summed over its leaves, each named `<figure>_<region>`: terminals
    connected and demanded at the end, blocked and turned away over the run, waiting at the
    end, the first month a terminal was blocked and a cell class was full there (and which),
    and the sites of each generation at the end.  None for a scenario of flat regions."""
    scenario, network = plan.scenario, plan.network
    figures: list[tuple[str, Any]] = []
    for group, leaves in scenario.region_groups.items():
        indices = [network.regions.index(leaf) for leaf in leaves]
        rows = connections[connections["region"].isin(leaves)]
        at_end = rows[rows["date"] == scenario.end]
        connected, demand = int(at_end["connected"].sum()), int(at_end["demand"].sum())
        blocked = rows[rows["blocked"] > 0]
        filled = full[full["region"].isin(leaves)]
        figures += [
            (f"connected_end_{group}", connected),
            (f"demand_end_{group}", demand),
            (f"connected_share_of_demand_end_{group}",
             f"{connected / demand:.6f}" if demand else ""),
            (f"blocked_total_{group}", int(rows["blocked"].sum())),
            (f"turned_away_total_{group}",
             int(trajectory.turned_away[:, indices, :].sum())),
            (f"waiting_end_{group}", int(at_end["waiting"].sum())),
            (f"first_blocked_date_{group}", blocked["date"].iloc[0] if len(blocked) else ""),
            (f"first_full_date_{group}", filled["date"].iloc[0] if len(filled) else ""),
            (f"first_full_cells_{group}", filled["pool"].iloc[0] if len(filled) else ""),
            *[
                (f"sites_end_{generation}_{group}",
                 round(float(network.generation_sites[-1, indices, g].sum())))
                for g, generation in enumerate(network.generations)
            ],
        ]  # fmt: skip
    return figures


def _full_shares(plan: Plan, last: pd.DataFrame) -> list[tuple[str, Any]]:
    """Per carrier kind, the share of its cells in classes that are full at the end.

    Counted on the network's exact (fractional) cells: cells.csv rounds them, and a small
    full class of less than half a cell would count as none.
    """
    network = plan.network
    exact = network.class_cells[-1]
    full = np.zeros_like(exact, dtype=bool)
    regions = {name: r for r, name in enumerate(network.regions)}
    classes = {name: k for k, name in enumerate(network.classes)}
    carriers = {name: c for c, name in enumerate(network.carriers)}
    for region, label, carrier in last.loc[
        last["full"], ["region", "cell_class", "carrier"]
    ].itertuples(index=False):
        full[regions[region], classes[label], carriers[carrier]] = True
    figures = []
    for c, carrier in enumerate(network.carriers):
        total = exact[:, :, c].sum()
        share = exact[:, :, c][full[:, :, c]].sum() / total if total > 0 else 0.0
        figures.append((f"cells_full_share_end_{carrier}", f"{share:.6f}"))
    return figures


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


def _battery_figures(plan: Plan, experience: pd.DataFrame) -> list[tuple[str, Any]]:
    """Per battery-powered category: the first simulated year in which the battery life of
    its worst-off terminals in the hottest simulated cell (the lowest over regions,
    technologies and coverage classes) falls below its design life, where, and why (the
    part of a report's energy that grew most since the first simulated year, for the same
    terminals); the lowest life seen and where; and the share of its terminals in the
    hottest cells (weighted by their reports) whose battery misses the design life in the
    last simulated year."""
    if not plan.scenario.access.years or experience.empty:
        return []
    hottest = max(plan.scenario.access.cells, key=lambda name: float(name[1:]))
    cells = experience[(experience["cell"] == hottest) & experience["battery_life_years"].notna()]
    figures: list[tuple[str, Any]] = []
    for category in plan.categories:
        rows = cells[cells["category"] == category]
        if rows.empty:
            continue
        where = rows["region"] + "/" + rows["technology"] + "/" + rows["coverage"]
        rows = rows.assign(where=where)
        short = rows[rows["battery_life_years"] < rows["design_life_years"]]
        if len(short):
            first = short.sort_values(["year", "battery_life_years"], kind="stable").iloc[0]
            figures += [
                (f"battery_below_design_year_{category}", int(first["year"])),
                (f"battery_below_design_where_{category}", first["where"]),
                (f"battery_below_design_why_{category}", _energy_growth(rows, first)),
            ]
        else:
            figures += [(f"battery_below_design_year_{category}", ""),
                        (f"battery_below_design_where_{category}", ""),
                        (f"battery_below_design_why_{category}", "")]  # fmt: skip
        lowest = rows.iloc[int(np.argmin(rows["battery_life_years"].to_numpy()))]
        last = rows[rows["year"] == rows["year"].max()]
        weights = last["reports"].to_numpy(dtype=float)
        missing = (
            float(np.average(last["below_design_life_share"], weights=weights))
            if weights.sum() > 0
            else math.nan
        )
        figures += [
            (f"battery_life_lowest_years_{category}", f"{lowest['battery_life_years']:.6f}"),
            (f"battery_life_lowest_where_{category}", f"{lowest['year']} {lowest['where']}"),
            (f"battery_below_design_share_{category}", f"{missing:.6f}"),
        ]
    return figures


def _energy_growth(rows: pd.DataFrame, row: pd.Series) -> str:
    """Why a report costs what it does: the part of its energy that grew most from the
    first simulated year of the same region, technology and coverage class ('wait +12.5
    mJ/report since 2023'), else its largest part ('data 99.9 % of 4,830 mJ/report')."""
    if not math.isfinite(row["energy_per_report_mj"]):
        return "no access succeeded: reports do not get through"
    same = rows[rows["where"] == row["where"]].sort_values("year", kind="stable")
    first = same.iloc[0]
    growth = {
        part: row[f"{part}_mj"] - first[f"{part}_mj"]
        if math.isfinite(first[f"{part}_mj"])
        else -math.inf  # the first year had no success: nothing to compare with
        for part in ENERGY_PARTS
    }
    part = max(growth, key=lambda name: growth[name])
    if first["year"] != row["year"] and growth[part] > 0:
        return f"{part} +{growth[part]:,.1f} mJ/report since {first['year']}"
    largest = max(ENERGY_PARTS, key=lambda name: row[f"{name}_mj"])
    total = row["energy_per_report_mj"]
    share = row[f"{largest}_mj"] / total if total > 0 else math.nan
    return f"{largest} {share:.1%} of {total:,.0f} mJ/report"
