"""With capacity never binding, the mean connected base over replications follows the
demand curve: the join intensity is built so that the *expected* base equals the curve at
every month end, for every lifetime distribution.  Tolerance: |mean - demand| within 4
standard errors of the mean (estimated from the replications) at each checked point; with
12 checked points a correct model fails with probability below 0.1 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import Scenario, parse_scenario
from sim.demand.curves import installed_base
from sim.demand.schedules import row_month_indices
from sim.engine import build_plan, simulate
from sim.scenario import month_label
from sim.study.replications import replication_generator

CATEGORIES = {
    "meter": {
        "initial": 200_000,
        "growth": {"model": "logistic", "rate": 0.5, "saturation": 600_000},
        "lifetime_years": 4,
        "technologies": ["nb-iot"],
    },
    "tracker": {
        "initial": 100_000,
        "growth": {"model": "cagr", "rate": 0.3},
        "lifetime_years": 2,
        "lifetime": "fixed",
        "technologies": ["lte-cat1", "nb-iot"],
        "mix": {"2023-01": {"lte-cat1": 1.0}, "2025-01": {"lte-cat1": 0.5, "nb-iot": 0.5}},
    },
    "car": {
        "initial": 150_000,
        "growth": {"model": "bass", "p": 0.03, "q": 0.4, "market": 900_000},
        "lifetime_years": 3,
        "lifetime": "weibull",
        "weibull_shape": 2.5,
        "technologies": ["lte"],
    },
}
CHECK_DATES = ["2023-06", "2024-12", "2026-06", "2027-12"]


def scenario(resolution: int = 50) -> Scenario:
    """Three categories on the default (China-sized) network: capacity never binds."""
    return parse_scenario(
        {"name": "tracking", "end": "2027-12", "resolution": resolution, "categories": CATEGORIES}
    )


def test_demand_column_is_the_curve() -> None:
    """Summed over technologies and regions, `demand` equals the growth curve (no clipping
    happens for growing curves), checked against the closed form."""
    plan = build_plan(scenario())
    months = plan.months
    for c, name in enumerate(plan.categories):
        category = plan.scenario.categories[name]
        curve = installed_base(
            category.growth,
            category.initial,
            np.arange(months + 1, dtype=float),
            plan.scenario.start_index,
        )
        np.testing.assert_allclose(plan.demand[:, c].sum(axis=(1, 2)), curve, rtol=1e-9)


@pytest.mark.slow
def test_mean_connected_tracks_demand() -> None:
    plan = build_plan(scenario())
    replications = 30
    runs = np.stack(
        [
            simulate(plan, replication_generator(5, r, replications)).connected
            for r in range(replications)
        ]
    )  # [replication, t, category, region, technology]
    dates = [month_label(index) for index in row_month_indices(plan.scenario)]
    for date in CHECK_DATES:
        t = dates.index(date)
        for c, name in enumerate(plan.categories):
            per_run = runs[:, t, c].sum(axis=(1, 2)).astype(float)
            demand = plan.demand[t, c].sum()
            standard_error = per_run.std(ddof=1) / np.sqrt(replications)
            assert abs(per_run.mean() - demand) < 4 * standard_error, (
                f"{name} at {date}: mean {per_run.mean():.0f}, demand {demand:.0f}, "
                f"SE {standard_error:.0f}"
            )
            # power: the check would catch a bias of one percent
            assert 4 * standard_error < 0.01 * demand


@pytest.mark.slow
def test_mean_connected_per_technology_follows_the_dated_mix() -> None:
    """The tracker's lte-cat1 / nb-iot split follows the mixes in force when terminals
    joined (all lte-cat1 before 2025, half and half after)."""
    plan = build_plan(scenario())
    techs = plan.network.technologies
    c = plan.categories.index("tracker")
    replications = 20
    runs = np.stack(
        [
            simulate(plan, replication_generator(9, r, replications)).connected[:, c]
            for r in range(replications)
        ]
    )
    t = plan.months
    for tech in ("lte-cat1", "nb-iot"):
        k = techs.index(tech)
        per_run = runs[:, t, :, k].sum(axis=1).astype(float)
        demand = plan.demand[t, c, :, k].sum()
        standard_error = per_run.std(ddof=1) / np.sqrt(replications)
        assert abs(per_run.mean() - demand) < 4 * standard_error
    assert plan.demand[12, c, :, techs.index("nb-iot")].sum() == 0.0
