"""Behaviour of the growth layer's policies, cohorts and resolution."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import single_pool_scenario, with_unit_capacity

from sim import parse_scenario, run
from sim.engine import AUTO_COHORTS, build_plan, simulate
from sim.study.replications import replication_generator


def two_technology_scenario(when_full: str, **category: Any) -> dict[str, Any]:
    """nb-iot (capacity 1,000) preferred, lte-cat1 (capacity 100,000) second."""
    data = {
        "name": "two",
        "end": "2024-12",
        "resolution": 10,
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 1}},
            "technologies": {"nb-iot": {"generation": "4G"}, "lte-cat1": {"generation": "4G"}},
        },
        "categories": {
            "meter": {
                "initial": 900,
                "growth": {"model": "linear", "per_year": 2400},
                "lifetime_years": 10,
                "technologies": ["nb-iot", "lte-cat1"],
                "mix": {"nb-iot": 1.0},
                "when_full": when_full,
                **category,
            }
        },
    }
    return with_unit_capacity(data, {"nb-iot": 1000, "lte-cat1": 100000})


def totals(result: Any, technology: str, column: str) -> np.ndarray:
    table = result.connections
    rows = table[table["technology"] == technology]
    return rows.groupby("date")[column].sum().to_numpy()


def test_fallback_moves_the_overflow_to_the_next_technology() -> None:
    result = run(two_technology_scenario("fallback"))
    nb_iot = totals(result, "nb-iot", "connected")
    cat1 = totals(result, "lte-cat1", "connected")
    assert nb_iot.max() == 1000  # filled exactly: cohorts split at the boundary
    assert cat1[-1] > 3000  # everything beyond nb-iot's capacity, though its mix share is 0
    assert totals(result, "nb-iot", "blocked").sum() == 0


def test_drop_blocks_the_overflow() -> None:
    result = run(two_technology_scenario("drop"))
    assert totals(result, "nb-iot", "connected").max() == 1000
    assert totals(result, "lte-cat1", "connected").sum() == 0
    blocked = totals(result, "nb-iot", "blocked").sum()
    demand_end = totals(result, "nb-iot", "demand")[-1]
    assert blocked > demand_end - 1000 - 500  # most of the excess demand was lost


def test_wait_queues_and_gives_up_after_patience() -> None:
    patient = run(two_technology_scenario("wait"))
    impatient = run(two_technology_scenario("wait", patience_months=0.5))
    assert totals(patient, "nb-iot", "waiting")[-1] > 0
    assert totals(patient, "nb-iot", "blocked").sum() == 0  # no patience limit: no loss
    assert totals(impatient, "nb-iot", "blocked").sum() > 0
    assert totals(impatient, "nb-iot", "waiting")[-1] < totals(patient, "nb-iot", "waiting")[-1]


def test_waiting_terminals_connect_when_sites_are_built() -> None:
    data = two_technology_scenario("wait")
    data["network"]["sites"]["4G"]["build_per_year"] = {2024: 12}  # one site a month in 2024
    result = run(data)
    table = result.connections
    waiting = table[table["technology"] == "nb-iot"].set_index("date")["waiting"]
    assert waiting["2023-12"] > 0
    assert waiting["2024-12"] == 0  # capacity caught up and the queue was served
    network = result.network.set_index(["date", "technology"])
    assert network.loc[("2024-12", "nb-iot"), "cells"] == 13  # 13 cells of 1,000 terminals


def test_retired_sites_displace_terminals_to_other_technologies() -> None:
    data = two_technology_scenario("fallback", growth={"model": "cagr", "rate": 0.0})
    data["categories"]["meter"]["initial"] = 1000
    # nb-iot's two 4G sites retire during 2024 (one a month); lte-cat1 rides on 5G
    data["network"]["sites"] = {
        "4G": {"initial": 2, "retire_per_year": {2024: 12}},
        "5G": {"initial": 1},
    }
    data["network"]["technologies"]["lte-cat1"]["generation"] = "5G"
    result = run(data)
    network = result.network.set_index(["date", "technology"])
    assert network.loc[("2023-12", "nb-iot"), "connected"] > 900
    assert network.loc[("2024-12", "nb-iot"), "cells"] == 0
    assert network.loc[("2024-12", "nb-iot"), "connected"] == 0
    assert (
        totals(result, "nb-iot", "left").sum() > 900
    )  # lifetimes of 10 years alone would retire ~200
    assert totals(result, "lte-cat1", "connected")[-1] > 900
    assert totals(result, "nb-iot", "blocked").sum() == 0  # lte-cat1 had room for all


def test_pool_capacity_is_exact_with_partial_cohorts() -> None:
    scenario = single_pool_scenario(
        capacity=1234, initial=5000, lifetime_years=5, resolution=100, end="2023-06"
    )
    result = run(scenario)
    assert result.network["connected"].max() == 1234
    assert result.network["utilization"].max() == 1.0


def test_auto_resolution_keeps_the_number_of_cohorts_whatever_the_scale() -> None:
    """Cost depends on cohorts, not terminals: x100 counts give about the same cohorts."""
    base = {
        "name": "scale",
        "end": "2025-12",
        "categories": {
            "meter": {
                "preset": "water_meter",
                "initial": 10_000_000,
                "growth": {"model": "cagr", "rate": 0.2},
            }
        },
    }
    scaled = {
        **base,
        "categories": {"meter": {**base["categories"]["meter"], "initial": 1_000_000_000}},
    }
    plan, plan_scaled = build_plan(parse_scenario(base)), build_plan(parse_scenario(scaled))
    assert abs(plan_scaled.resolution - 100 * plan.resolution) <= 100  # ceil rounding
    first = simulate(plan, replication_generator(1))
    second = simulate(plan_scaled, replication_generator(1))
    assert abs(second.cohorts - first.cohorts) < 0.02 * first.cohorts
    assert 0.5 * AUTO_COHORTS < first.cohorts < 1.5 * AUTO_COHORTS


def test_initial_base_is_placed_whole() -> None:
    """The initial base is split over regions and technologies without losing a terminal."""
    result = run(
        {
            "name": "split",
            "end": "2023-03",
            "regions": {
                "a": {"terminal_share": 1 / 3, "site_share": 0.5},
                "b": {"terminal_share": 2 / 3, "site_share": 0.5},
            },
            "categories": {"m": {"preset": "water_meter", "initial": 1_000_001}},
        }
    )
    first = result.connections[result.connections["date"] == "2022-12"]
    assert first["connected"].sum() == 1_000_001
    assert first["joined"].sum() == 1_000_001


def test_capacity_moves_at_once_whatever_the_technology_order() -> None:
    """Terminals pushed off shrinking 4G NB-IoT reach 5G RedCap built at the same tick,
    whichever of the two the network lists first."""
    blocked = []
    for order in (["nb-iot", "nr-redcap"], ["nr-redcap", "nb-iot"]):
        carriage = {"nb-iot": {"generation": "4G"}, "nr-redcap": {"generation": "5G"}}
        data = {
            "name": "move",
            "end": "2024-12",
            "resolution": 1,
            "network": {
                "sectors_per_site": 1,
                "sites": {
                    "4G": {"initial": 12, "retire_per_year": 12},
                    "5G": {"initial": 0, "build_per_year": 12},
                },
                "technologies": {tech: carriage[tech] for tech in order},
            },
            "categories": {
                "m": {
                    "initial": 1000,
                    "lifetime_years": 50,
                    "technologies": ["nb-iot", "nr-redcap"],
                }
            },
        }
        result = run(with_unit_capacity(data, {"nb-iot": 100, "nr-redcap": 100}))
        blocked.append(int(result.figure("blocked_total")))
        assert result.figure("first_full_cells") == "national/p0-100/nb-iot"
    assert blocked[0] == blocked[1] == 0


def test_initial_overflow_counts_as_blocked() -> None:
    scenario = single_pool_scenario(capacity=1000, initial=5000, lifetime_years=50, end="2023-03")
    result = run(scenario)
    assert int(result.figure("initial_blocked")) == 4000
    assert int(result.figure("blocked_total")) >= 4000
    assert result.figure("first_blocked_date") == "2022-12"
    assert result.figure("first_full_date") == "2022-12"


def test_first_full_date_is_the_first_month_a_pool_turned_terminals_away() -> None:
    result = run(two_technology_scenario("fallback"))
    network = result.network
    nb_iot = network[network["technology"] == "nb-iot"].set_index("date")
    first = nb_iot.index[nb_iot["turned_away"] > 0][0]
    assert result.figure("first_full_date") == first
    cat1 = result.connections[result.connections["technology"] == "lte-cat1"]
    assert cat1.loc[cat1["date"] < first, "connected"].sum() == 0  # nothing fell back before
    assert cat1.loc[cat1["date"] == first, "joined"].sum() > 0  # the overflow went to Cat.1


def test_shares_are_made_exact() -> None:
    """Shares may sum to 1 within 1e-6; no terminal is created or lost by that slack."""
    result = run(
        {
            "name": "slack",
            "end": "2023-02",
            "regions": {
                "a": {"terminal_share": 0.5000004, "site_share": 0.5},
                "b": {"terminal_share": 0.5, "site_share": 0.5},
            },
            "categories": {
                "m": {
                    "initial": 10**10,
                    "technologies": ["lte", "nr"],
                    "mix": {"lte": 0.6000004, "nr": 0.4},
                }
            },
        }
    )
    assert int(result.figure("initial_connected")) == 10**10


def test_waiting_terminals_take_freed_capacity_before_new_arrivals() -> None:
    """The queue discipline: capacity that frees up (a terminal's lifetime ends) goes to the
    terminals waiting for the pool, first come first served, before any new arrival; so
    while a queue stands, arrivals of another category that may not wait are all blocked."""
    data = two_technology_scenario("wait", initial=1000, lifetime_years=1)
    data["network"]["technologies"] = {"nb-iot": {"generation": "4G"}}
    data["categories"]["meter"]["technologies"] = ["nb-iot"]
    data["categories"]["meter"]["mix"] = {"nb-iot": 1.0}
    data["categories"]["alarm"] = {
        "initial": 0,
        "growth": {"model": "linear", "per_year": 1200},
        "lifetime_years": 1,
        "technologies": ["nb-iot"],
        "when_full": "drop",
    }
    result = run(data)
    table = result.connections.set_index(["date", "category"])
    meters = table.xs("meter", level="category")
    alarms = table.xs("alarm", level="category")
    queued = meters["waiting"] > 0
    assert queued.iloc[1:].all()  # meters queue from the first month on
    freed = meters["joined"].iloc[1:].sum()
    assert freed > 500  # departures freed room: it all went to waiting meters
    assert alarms["joined"].iloc[1:].sum() == 0
    assert alarms["blocked"].iloc[1:].sum() > 1000  # every alarm arrival was turned away
