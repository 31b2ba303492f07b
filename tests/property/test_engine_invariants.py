"""Invariants of the growth layer over random small scenarios (hypothesis), under the
capacity model of busy-hour resources in cell classes: terminals are conserved, budgets are
never exceeded, a pool's terminals and use are the connections' sums, counts are never
negative, and connected(t) = connected(t-1) + joined - left on every row.

Cost: about 13 s (test_invariants 60 examples, the determinism test 20).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim import parse_scenario
from sim.engine import Plan, Trajectory, build_plan, simulate
from sim.scenario.base import RESOURCES
from sim.study.replications import replication_generator

TECHS = ["nb-iot", "lte-cat1", "lte-m", "nr-redcap"]
"""Technologies on each carrier kind: nb-iot alone, lte-cat1 and lte-m sharing the LTE
carrier, nr-redcap on the NR carrier of 5G sites."""
GENERATION = {"nb-iot": "4G", "lte-cat1": "4G", "lte-m": "4G", "nr-redcap": "5G"}
CARRIERS = ["lte", "nb-iot", "nr"]

shares = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0]),
    # dated: the technology's share of its generation's sites changes mid-horizon, so its
    # availability (share of its carrier's cells) changes and its terminals' loads with it
    st.fixed_dictionaries(
        {
            "2023-01": st.sampled_from([0.2, 1.0]),
            "2023-07": st.sampled_from([0.0, 0.5, 1.0]),
        }
    ),
)
background_share = st.one_of(
    st.sampled_from([0.0, 0.2]),
    # smartphones' share rising (a budget cut, which may displace terminals)
    st.fixed_dictionaries(
        {"2023-01": st.sampled_from([0.0, 0.1]), "2023-10": st.sampled_from([0.3, 0.6, 0.95])}
    ),
)
load_figure = st.sampled_from([0.0, 0.0, 0.3, 1.0, 2.5])
"""Busy-hour load of one terminal on one resource (units of the budgets below); some zero."""


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Tiny networks (budgets of a few to hundreds of loads per cell) under growing or
    falling demand, with sites built and retired, dated technology shares, rising
    smartphone load, 1-4 cell classes and every `when_full` policy."""
    n_regions = draw(st.integers(1, 2))
    spread = st.sampled_from([0.0, 0.5, 1.0, 2.0])
    regions = {"a": {"terminal_share": 1.0, "site_share": 1.0, "spread_cv": draw(spread)}}
    if n_regions == 2:
        share = draw(st.sampled_from([0.25, 0.5, 0.75]))
        regions = {
            "a": {"terminal_share": share, "site_share": 1 - share, "spread_cv": draw(spread)},
            "b": {"terminal_share": 1 - share, "site_share": share, "spread_cv": draw(spread)},
        }
    technologies = {tech: {"generation": GENERATION[tech], "share": draw(shares)} for tech in TECHS}
    carriers = {
        carrier: {
            "budget": {
                resource: draw(st.sampled_from([0.0, 5.0, 40.0, 300.0, 2000.0]))
                for resource in RESOURCES
            },
            "threshold": {
                resource: draw(st.sampled_from([0.5, 0.8, 1.0])) for resource in RESOURCES
            },
            "background": {resource: draw(background_share) for resource in RESOURCES},
        }
        for carrier in CARRIERS
    }
    sites = {
        generation: {
            "initial": draw(st.integers(0 if generation == "5G" else 1, 4)),
            "build_per_year": draw(st.sampled_from([0, 6, 24])),
            "retire_per_year": draw(st.sampled_from([0, 3, 12])),
        }
        for generation in ("4G", "5G")
    }
    categories = {}
    for index in range(draw(st.integers(1, 3))):
        own = draw(st.lists(st.sampled_from(TECHS), min_size=1, max_size=3, unique=True))
        policy = draw(st.sampled_from(["fallback", "wait", "drop"]))
        category: dict[str, Any] = {
            "initial": draw(st.integers(1, 3000)),
            "growth": draw(
                st.sampled_from(
                    [
                        {"model": "cagr", "rate": 0.5},
                        {"model": "cagr", "rate": -0.5},
                        {"model": "linear", "per_year": 2000},
                        {"model": "logistic", "rate": 1.0, "saturation": 5000},
                    ]
                )
            ),
            "lifetime_years": draw(st.sampled_from([0.5, 2.0, 8.0])),
            "lifetime": draw(st.sampled_from(["exponential", "fixed", "weibull"])),
            "technologies": own,
            "mix": {tech: 1.0 / len(own) for tech in own[:-1]}
            | {own[-1]: 1.0 - (len(own) - 1) / len(own)},
            "when_full": policy,
            # different loads on several resources (some zero) per technology
            "load": {tech: {r: draw(load_figure) for r in RESOURCES} for tech in own},
        }
        if policy == "wait" and draw(st.booleans()):
            category["patience_months"] = draw(st.sampled_from([0.5, 2.0]))
        categories[f"c{index}"] = category
    return {
        "name": "prop",
        "start": "2023-01",
        "end": "2024-12",
        "resolution": draw(st.sampled_from([1, 7, 50])),
        "regions": regions,
        "network": {
            "sectors_per_site": 1,
            "sites": sites,
            "technologies": technologies,
            "carriers": carriers,
            "cell_classes": draw(st.integers(1, 4)),
            "hottest_cells": draw(st.sampled_from([0.01, 0.1, 0.3])),
        },
        "categories": categories,
    }


def run(data: dict[str, Any], seed: int) -> tuple[Trajectory, Plan]:
    plan = build_plan(parse_scenario(data))
    return simulate(plan, replication_generator(seed)), plan


def given_loads(data: dict[str, Any], plan: Plan) -> np.ndarray:
    """[category, technology, resource] loads as the scenario gives them (0 where unused)."""
    techs = plan.network.technologies
    loads = np.zeros((len(plan.categories), len(techs), len(RESOURCES)))
    for c, name in enumerate(plan.categories):
        for tech, figures in data["categories"][name]["load"].items():
            loads[c, techs.index(tech)] = [figures[r] for r in RESOURCES]
    return loads


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=small_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_invariants(data: dict[str, Any], seed: int) -> None:
    trajectory, plan = run(data, seed)
    network = plan.network
    counts = {
        name: getattr(trajectory, name)
        for name in ("connected", "joined", "left", "blocked", "waiting", "offered", "retired")
    }
    event(f"blocked: {bool(counts['blocked'].any())}")
    event(f"waited: {bool(counts['waiting'].any())}")
    event(f"displaced: {bool((counts['left'] - counts['retired']).any())}")
    # counts are never negative
    for name, values in counts.items():
        assert values.min() >= 0, f"{name} went negative"
    assert trajectory.pool_terminals.min() >= 0
    assert trajectory.pool_turned_away.min() >= 0
    # every row: connected(t) = connected(t-1) + joined - left; row 0 is the placement
    connected = counts["connected"]
    np.testing.assert_array_equal(connected[0], counts["joined"][0] - counts["left"][0])
    np.testing.assert_array_equal(
        connected[1:], connected[:-1] + counts["joined"][1:] - counts["left"][1:]
    )

    # terminals are conserved per category and region, at every month end:
    # everyone offered so far is connected, waiting, blocked or retired
    def per_cat_region(values: np.ndarray) -> np.ndarray:
        return values.sum(axis=3)

    arrived = np.cumsum(per_cat_region(counts["offered"]), axis=0)
    accounted = (
        per_cat_region(connected)
        + per_cat_region(counts["waiting"])
        + np.cumsum(per_cat_region(counts["blocked"]), axis=0)
        + np.cumsum(per_cat_region(counts["retired"]), axis=0)
    )
    np.testing.assert_array_equal(arrived, accounted)
    # only a waiting policy leaves terminals waiting
    for c, category in enumerate(data["categories"].values()):
        if category["when_full"] != "wait":
            assert counts["waiting"][:, c].sum() == 0

    # the loads and budgets the engine uses are the ones the scenario gives
    loads = given_loads(data, plan)
    np.testing.assert_array_equal(plan.loads, loads)
    for c, carrier in enumerate(network.carriers):
        given = data["network"]["carriers"][carrier]
        np.testing.assert_array_equal(network.budget[c], [given["budget"][r] for r in RESOURCES])

    periods, n_res = len(connected), len(RESOURCES)
    n_reg, n_cls, n_car = len(network.regions), len(network.classes), len(network.carriers)
    used = trajectory.pool_used.reshape(periods, n_reg, n_cls, n_car, n_res)
    # budgets are never exceeded: at every month end, every pool and resource (the engine's
    # own slack is 1e-9 relative; the absolute term covers budgets of 0 against float sums)
    usable = network.usable
    over = used - usable * (1 + 1e-9) - 1e-9
    assert (over <= 0).all(), (
        f"pool over budget by {over.max():g} at "
        f"[t, region, class, carrier, resource] = {np.unravel_index(over.argmax(), over.shape)}"
    )

    # a pool's terminals are the connections of the technologies on its carrier, and its
    # use is those terminals x their loads / their technology's availability (the share of
    # the carrier's cells carrying it); compared summed over the cell classes, which the
    # connection records do not have
    by_carrier = np.zeros((periods, n_reg, n_car), dtype=np.int64)
    expected_use = np.zeros((periods, n_reg, n_car, n_res))
    availability = network.availability  # [t, tech]
    for k, carrier in enumerate(network.carrier_of):
        on_tech = connected[:, :, :, k]  # [t, category, region]
        by_carrier[:, :, carrier] += on_tech.sum(axis=1)
        # a technology on no cells holds no terminals (0 x its infinite per-cell load)
        gone = availability[:, k] <= 0
        assert on_tech[gone].sum() == 0, f"{network.technologies[k]} connected on no cells"
        with np.errstate(divide="ignore", invalid="ignore"):
            per_terminal = np.where(
                gone[:, None, None], 0.0, loads[None, :, k, :] / availability[:, k, None, None]
            )  # [t, category, resource]
        expected_use[:, :, carrier, :] += np.einsum("tcr,tcj->trj", on_tech, per_terminal)
    pool_terminals = trajectory.pool_terminals.reshape(periods, n_reg, n_cls, n_car)
    np.testing.assert_array_equal(pool_terminals.sum(axis=2), by_carrier)
    np.testing.assert_allclose(used.sum(axis=2), expected_use, rtol=1e-9, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(data=small_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_trajectory(data: dict[str, Any], seed: int) -> None:
    first, _ = run(data, seed)
    second, _ = run(data, seed)
    for name in ("connected", "joined", "left", "blocked", "waiting", "pool_terminals"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    np.testing.assert_array_equal(first.pool_used, second.pool_used)
    np.testing.assert_array_equal(first.pool_turned_away, second.pool_turned_away)


def test_no_terminal_connects_where_there_are_no_cells() -> None:
    """A category that sends nothing (reports_per_day 0, so every load is 0) on a carrier
    with no cells (no 4G sites) has nowhere to connect: it is blocked, as it was when a
    pool's capacity was cells x devices per cell."""
    data = {
        "name": "no-cells",
        "end": "2023-06",
        "resolution": 1,
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 0}},
            "technologies": {"nb-iot": {"generation": "4G", "share": 1.0}},
        },
        "categories": {
            "meter": {
                "initial": 100,
                "technologies": ["nb-iot"],
                "when_full": "drop",
                "traffic": {"reports_per_day": 0},
            }
        },
    }
    trajectory, plan = run(data, seed=1)
    assert (plan.network.carrier_cells == 0).all()
    assert (plan.loads == 0).all()
    assert trajectory.connected.sum() == 0, trajectory.connected[:, 0, 0, 0].tolist()
    assert trajectory.blocked[0].sum() == 100
