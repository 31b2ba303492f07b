"""Invariants of the growth layer over random small scenarios (hypothesis):
terminals are conserved, pools never exceed capacity, counts are never negative, and
connected(t) = connected(t-1) + joined - left on every row."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim import parse_scenario
from sim.engine import Trajectory, build_plan, simulate
from sim.study.replications import replication_generator

TECHS = ["nb-iot", "lte-cat1", "lte"]


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Tiny networks (capacities of tens to thousands) under growing or falling demand,
    with capacity that may grow and shrink, and every `when_full` policy."""
    n_regions = draw(st.integers(1, 2))
    regions = {"a": {"terminal_share": 1.0, "site_share": 1.0}}
    if n_regions == 2:
        share = draw(st.sampled_from([0.25, 0.5, 0.75]))
        regions = {
            "a": {"terminal_share": share, "site_share": 1 - share},
            "b": {"terminal_share": 1 - share, "site_share": share},
        }
    technologies = {
        tech: {
            "generation": "4G",
            "share": draw(
                st.one_of(
                    st.sampled_from([0.0, 0.5, 1.0]),
                    st.fixed_dictionaries(
                        {
                            "2023-01": st.sampled_from([0.2, 1.0]),
                            "2023-07": st.sampled_from([0.0, 0.5, 1.0]),
                        }
                    ),
                )
            ),
        }
        for tech in TECHS
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
            "sites": {
                "4G": {
                    "initial": draw(st.integers(1, 4)),
                    "build_per_year": draw(st.sampled_from([0, 6, 24])),
                    "retire_per_year": draw(st.sampled_from([0, 3, 12])),
                }
            },
            "technologies": technologies,
        },
        "technologies": {
            tech: {"max_devices_per_cell": draw(st.integers(10, 1500))} for tech in TECHS
        },
        "categories": categories,
    }


def run(data: dict[str, Any], seed: int) -> tuple[Trajectory, np.ndarray]:
    plan = build_plan(parse_scenario(data))
    return simulate(plan, replication_generator(seed)), plan.network.capacity


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=small_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_invariants(data: dict[str, Any], seed: int) -> None:
    trajectory, capacity = run(data, seed)
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
    # every row: connected(t) = connected(t-1) + joined - left; row 0 is the placement
    connected = counts["connected"]
    np.testing.assert_array_equal(connected[0], counts["joined"][0] - counts["left"][0])
    np.testing.assert_array_equal(
        connected[1:], connected[:-1] + counts["joined"][1:] - counts["left"][1:]
    )
    # pools never exceed capacity: [t, region, tech]
    assert (connected.sum(axis=1) <= capacity).all()

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


@settings(max_examples=20, deadline=None)
@given(data=small_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_trajectory(data: dict[str, Any], seed: int) -> None:
    first, _ = run(data, seed)
    second, _ = run(data, seed)
    for name in ("connected", "joined", "left", "blocked", "waiting"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
