"""Monotone properties of the capacity model over random small scenarios (hypothesis).

* A hotter cell class never fills later than a colder one of the same region.
* More traffic per terminal never fits more terminals in a pool.

Cost: about 13 s (40 + 40 examples).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import sim
from sim import parse_scenario
from sim.engine import Trajectory, build_plan, simulate
from sim.scenario.base import RESOURCES
from sim.study.replications import replication_generator
from sim.supply.capacity import terminal_load

ONE_PER_CARRIER = {"nb-iot": "nb-iot", "lte-cat1": "lte", "nr-redcap": "nr"}
GENERATION = {"nb-iot": "4G", "lte-cat1": "4G", "nr-redcap": "5G"}


def first_full(trajectory: Trajectory, n_cls: int, n_car: int) -> np.ndarray:
    """[class, carrier] first month end at which the pool turned terminals away (inf: never);
    one region."""
    turned = trajectory.pool_turned_away.reshape(-1, n_cls, n_car) > 0
    return np.where(turned.any(axis=0), turned.argmax(axis=0).astype(float), np.inf)


# -- a hotter class never fills later ------------------------------------------------------


@st.composite
def growing_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """One region of several cell classes under steadily growing demand, constant network.

    Why the property holds, and with what margin over the noise: every category's
    terminals are drawn into the classes with the same class shares tau_k, and class k's
    budgets are its share of cells s_k x the same per-cell budget, so class k fills when
    its terminals per cell, tau_k / s_k x demand, reach the same per-cell figure.  tau_k /
    s_k grows from cold to hot (the lognormal's partial expectation), by a factor rho >=
    1.36 between adjacent classes for the classes (<= 4), hottest shares ({0.01, 0.05}) and
    spreads (cv >= 0.5) drawn here (`class_bounds`, `terminal_shares`).  Demand growing by
    g a year, the hotter class fills 12 ln(rho) / ln(1 + g) >= 3.3 months earlier (g <= 2)
    in expectation.  Joins are Poisson per (month, class), so a class holding N terminals
    when it fills has a relative error 1 / sqrt(N); the smallest class is 1 % of 1,000
    cells of >= 200 terminals each, N >= 2,000, 2.2 %, i.e. ln(rho) / 0.022 >= 13 standard
    errors between adjacent classes; a cohort that partly fits is split, so the cohort size
    does not blur the month of filling.  A swap needs a > 6 sigma draw (the gap less the
    one-month grid): this is a property, not a statistical test.
    """
    classes = draw(st.integers(2, 4))
    hottest = draw(st.sampled_from([0.01, 0.05]))
    cv = draw(st.sampled_from([0.5, 1.0, 2.0]))
    techs = draw(st.lists(st.sampled_from(["nb-iot", "lte-cat1"]), min_size=1, unique=True))
    categories = {}
    for index in range(draw(st.integers(1, 2))):
        own = draw(st.permutations(techs))
        categories[f"c{index}"] = {
            "initial": draw(st.sampled_from([50_000, 100_000])),
            "growth": {"model": "cagr", "rate": draw(st.sampled_from([1.0, 2.0]))},
            "lifetime_years": 20.0,
            "technologies": list(own),
            "mix": {tech: 1.0 / len(own) for tech in own[:-1]}
            | {own[-1]: 1.0 - (len(own) - 1) / len(own)},
            "when_full": draw(st.sampled_from(["drop", "fallback"])),
            "load": {
                tech: {r: draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])) for r in RESOURCES}
                for tech in own
            },
        }
    carriers = {
        carrier: {
            # per cell, in units of the loads above: at least 200 terminals (a terminal
            # loads at most 2 on a resource)
            "budget": {r: draw(st.sampled_from([400.0, 1200.0, 4000.0])) for r in RESOURCES},
            "threshold": dict.fromkeys(RESOURCES, 1.0),
            "background": dict.fromkeys(RESOURCES, 0.0),
        }
        for carrier in ("lte", "nb-iot")
    }
    return {
        "name": "classes",
        "start": "2023-01",
        "end": "2024-12",
        "resolution": 200,
        "regions": {"a": {"terminal_share": 1.0, "site_share": 1.0, "spread_cv": cv}},
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 1000}},
            "technologies": {tech: {"generation": "4G", "share": 1.0} for tech in techs},
            "carriers": carriers,
            "cell_classes": classes,
            "hottest_cells": hottest,
        },
        "categories": categories,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=growing_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_hotter_class_fills_no_later(data: dict[str, Any], seed: int) -> None:
    """The first month a class turns terminals away (the trajectory) and the first month
    cells.csv calls it full never rise from the coldest class to the hottest."""
    result = sim.run(data, seed=seed)
    assert result.trajectory is not None
    network = build_plan(result.scenario).network
    n_cls, n_car = len(network.classes), len(network.carriers)
    months = first_full(result.trajectory, n_cls, n_car)
    filled = np.isfinite(months).any(axis=1)
    event(f"classes filled: {int(filled.sum())} of {n_cls}")
    event(f"filled after the start: {bool((months[np.isfinite(months)] > 0).any())}")
    # cells.csv: rows by date, then class coldest first, then carrier
    full = result.cells["full"].to_numpy().reshape(-1, n_cls, n_car)
    listed = np.where(full.any(axis=0), full.argmax(axis=0).astype(float), np.inf)
    for name, table in (("turned away", months), ("cells.csv full", listed)):
        for c, carrier in enumerate(network.carriers):
            column = table[:, c]
            assert (column[1:] <= column[:-1]).all(), (
                f"{carrier}, {name}: first-full month by class (cold to hot) "
                f"{column.tolist()} ({network.classes})"
            )
        anywhere = table.min(axis=1)
        assert (anywhere[1:] <= anywhere[:-1]).all(), (name, anywhere.tolist())
    # a class that turned terminals away is full in cells.csv that month or before
    assert (listed <= months).all()


# -- more traffic never fits more terminals -----------------------------------------------


@st.composite
def traffic_scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scenario with computed loads and budgets of tens to hundreds of terminals per
    cell, and the same scenario with one category's reports a day or payload scaled up.

    The property holds pool by pool where a pool holds terminals of one kind only (one
    category on one technology) and its budget does not change: each pool is then a loss
    system of room min over resources of floor(budget / load), smaller with the larger
    loads, fed by the same arrivals (same seed).  Hence every category here is on its own
    technologies, each on its own carrier kind, with `drop`, and sites, technology shares
    and smartphones' share are constant.  Outside that domain it does not hold, and these
    are not engine faults but how shared, changing pools behave (checked on the engine):

    * two kinds in one pool: with X's loads (uplink 1, contexts 1) raised to 1.5 in a cell
      of 10 uplink and 20 contexts, X holds 6 instead of 10, which leaves 11 contexts
      instead of 10 to meters of 0.01 contexts: 1,106 terminals instead of 1,010;
    * `fallback` sends more overflow to the next technology's pool; `wait` connects a
      terminal later, so it is still there when the lighter run's has left;
    * a budget that changes (sites built): one cell gaining half a site a month, a budget
      of 1 context, loads 1 against 1.5, fixed lifetimes of 0.1 years: during month 2 both
      hold at most one terminal, but the lighter run's is an older one about to leave, so at
      that month end the heavier pool holds 0.998 terminals on average against 0.869
      (1,000 seeds, standard error of the difference 0.011) -- not even the expectation is
      monotone.  With a constant budget no case fitted more, neither here nor in
      300,000 random small loss systems simulated apart from the engine.
    """
    techs = draw(st.lists(st.sampled_from(list(ONE_PER_CARRIER)), min_size=1, unique=True))
    n_cat = draw(st.integers(1, len(techs)))
    owners = [index % n_cat for index in range(len(techs))]  # every category gets one
    categories: dict[str, Any] = {}
    for index in range(n_cat):
        own = [tech for tech, owner in zip(techs, owners, strict=True) if owner == index]
        categories[f"c{index}"] = {
            "initial": draw(st.integers(100, 3000)),
            "growth": draw(
                st.sampled_from(
                    [
                        {"model": "cagr", "rate": 1.0},
                        {"model": "linear", "per_year": 4000},
                        {"model": "logistic", "rate": 2.0, "saturation": 8000},
                    ]
                )
            ),
            "lifetime_years": draw(st.sampled_from([0.5, 3.0])),
            "lifetime": draw(st.sampled_from(["exponential", "fixed"])),
            "technologies": own,
            "mix": {tech: 1.0 / len(own) for tech in own[:-1]}
            | {own[-1]: 1.0 - (len(own) - 1) / len(own)},
            "when_full": "drop",
            "traffic": {
                "reports_per_day": draw(st.sampled_from([1.0, 4.0, 24.0])),
                "payload_bytes": draw(st.sampled_from([20.0, 100.0, 600.0])),
                "coverage": draw(
                    st.sampled_from(
                        [
                            {"normal": 1.0},
                            {"normal": 0.7, "robust": 0.2, "extreme": 0.1},
                            {"robust": 0.5, "extreme": 0.5},
                        ]
                    )
                ),
            },
        }
    base: dict[str, Any] = {
        "name": "traffic",
        "start": "2023-01",
        "end": "2024-12",
        "resolution": draw(st.sampled_from([1, 5])),
        "regions": {"a": {"terminal_share": 1.0, "site_share": 1.0, "spread_cv": 1.0}},
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 2}, "5G": {"initial": 2}},
            "technologies": {
                tech: {"generation": GENERATION[tech], "share": 1.0} for tech in techs
            },
            "cell_classes": draw(st.integers(1, 3)),
        },
        "categories": categories,
    }
    # budgets: a per-cell number of terminals of the unscaled traffic on each resource
    scenario = parse_scenario(base)
    carriers = {}
    for category in scenario.categories.values():
        for tech in category.technologies:
            load = terminal_load(scenario, category, tech)
            carriers[ONE_PER_CARRIER[tech]] = {
                "budget": {
                    r: load[r] * draw(st.sampled_from([30.0, 120.0, 500.0, 1e6])) for r in RESOURCES
                },
                "threshold": dict.fromkeys(RESOURCES, 1.0),
                "background": {r: draw(st.sampled_from([0.0, 0.3])) for r in RESOURCES},
            }
    base["network"]["carriers"] = carriers
    heavier = parse_scenario(base).model_dump(mode="json")
    scaled = heavier["categories"][draw(st.sampled_from(sorted(categories)))]["traffic"]
    field = draw(st.sampled_from(["reports_per_day", "payload_bytes"]))
    factor = draw(st.sampled_from([1.3, 2.0, 5.0]))
    scaled[field] *= factor
    event(f"scaled {field}")
    return base, heavier


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=traffic_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_more_traffic_never_fits_more_terminals(
    pair: tuple[dict[str, Any], dict[str, Any]], seed: int
) -> None:
    base_data, heavier_data = pair
    base_plan = build_plan(parse_scenario(base_data))
    heavier_plan = build_plan(parse_scenario(heavier_data))
    # the heavier traffic loads no resource less (the premise); a larger payload that
    # still fits the same transport blocks loads the same
    assert (heavier_plan.loads >= base_plan.loads).all()
    event(f"loads rose: {bool((heavier_plan.loads > base_plan.loads).any())}")
    base = simulate(base_plan, replication_generator(seed))
    heavier = simulate(heavier_plan, replication_generator(seed))
    # the same seed draws the same arrivals: `_draw_arrivals` (sim/engine/world.py) uses
    # the demand, mix, region and class shares, lifetimes and resolution, never the loads
    np.testing.assert_array_equal(base.offered, heavier.offered)
    event(f"heavier blocked more: {bool(heavier.blocked.sum() > base.blocked.sum())}")
    assert (heavier.pool_terminals <= base.pool_terminals).all(), (
        "more traffic per terminal fitted more terminals in a pool at month ends "
        f"{np.nonzero((heavier.pool_terminals > base.pool_terminals).any(axis=1))[0].tolist()}"
    )
    assert (heavier.connected <= base.connected).all()
