"""Tidy result tables of a run, built from its plan and trajectory.

Every table has stable snake_case columns; dates are `YYYY-MM` month ends; counts are
whole terminals at real scale.  The row dated the month before `start` is the state at the
start of the horizon: its `joined` is the initial installed base placed on the network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.demand.schedules import row_month_indices
from sim.engine import Plan, Trajectory
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
