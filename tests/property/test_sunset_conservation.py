"""Switch-offs keep the growth layer's books (hypothesis), over the random small scenarios
of test_engine_invariants with one or two technologies switched off in some regions:

* on every row (category, region, technology), for t >= 1:
  connected(t) = connected(t-1) + joined - left - migrated - stranded + migrated_in;
* per category and region, migrated out = migrated in, and everyone offered so far is
  connected, waiting, blocked, retired or stranded;
* at a switch-off, the terminals migrated and stranded off the technology in the region are
  those connected on it just before; afterwards nothing is connected, joins or waits there;
* counts are never negative, budgets never exceeded, and a pool's use is its terminals'
  loads at their technology's availability in the region;
* the same seed gives the same trajectory.

Cost: about 10 s (60 + 15 examples).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import TRAJECTORY_FLOWS, assert_books_kept
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from property.test_engine_invariants import TECHS, given_loads, run, small_scenarios

from sim.engine import Plan, Trajectory

FLOWS = TRAJECTORY_FLOWS


@st.composite
def switched_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(small_scenarios())
    if draw(st.booleans()):  # room to migrate to: the tiny networks are mostly full
        for carrier in data["network"]["carriers"].values():
            carrier["budget"] = dict.fromkeys(carrier["budget"], 1e6)
        for generation in data["network"]["sites"].values():
            generation["initial"] = max(1, generation["initial"])
    # mostly technologies the categories use, so terminals are left on them
    used = sorted(
        {tech for category in data["categories"].values() for tech in category["technologies"]}
    )
    pick = st.one_of(st.sampled_from(used), st.sampled_from(TECHS))
    techs = draw(st.lists(pick, min_size=1, max_size=2, unique=True))
    switches = []
    for tech in techs:
        switch: dict[str, Any] = {
            "technology": tech,
            "date": draw(st.sampled_from(["2023-01", "2023-06", "2024-01", "2024-12"])),
            "policy": draw(st.sampled_from(["migrate", "stranded"])),
        }
        if len(data["regions"]) > 1 and draw(st.booleans()):
            switch["regions"] = [draw(st.sampled_from(sorted(data["regions"])))]
        switches.append(switch)
    data["network"]["switch_off"] = switches
    return data


def _check_books(trajectory: Trajectory, plan: Plan) -> None:
    assert_books_kept(trajectory)
    counts = {name: getattr(trajectory, name) for name in (*FLOWS, "connected", "waiting")}
    connected = counts["connected"]
    np.testing.assert_array_equal(connected[0], counts["joined"][0] - counts["left"][0])

    network = plan.network
    off = network.switched_off  # [t, region, tech]
    for switch in network.switch_offs:
        t, r, k = switch.row, switch.region, switch.technology
        before = connected[t - 1, :, r, k]
        moved, lost_here = counts["migrated"][t, :, r, k], counts["stranded"][t, :, r, k]
        np.testing.assert_array_equal(moved + lost_here, before)
        if switch.policy == "stranded":
            assert moved.sum() == 0
    # migrated and stranded only in the month of a switch-off, on its technology
    flagged = np.zeros_like(off)
    for switch in network.switch_offs:
        flagged[switch.row, switch.region, switch.technology] = True
    for name in ("migrated", "stranded"):
        per = counts[name].sum(axis=1)  # [t, region, tech]
        assert per[~flagged].sum() == 0, f"{name} outside a switch-off"
    # (a category with no technology left there is offered and blocked on the one drawn)
    for name in ("connected", "joined", "waiting"):
        values = np.moveaxis(counts[name], 1, 3)  # [t, region, tech, category]
        assert values[off].sum() == 0, f"{name} on a switched-off technology"
    assert network.sites[off].sum() == 0
    assert network.cells[off].sum() == 0


def _check_pools(data: dict[str, Any], trajectory: Trajectory, plan: Plan) -> None:
    """Budgets hold, and a pool's terminals and use follow its regions' availability."""
    network = plan.network
    connected = trajectory.connected
    periods = len(connected)
    n_reg, n_cls, n_car = len(network.regions), len(network.classes), len(network.carriers)
    used = trajectory.pool_used.reshape(periods, n_reg, n_cls, n_car, -1)
    over = used - network.usable * (1 + 1e-9) - 1e-9
    assert (over <= 0).all(), f"pool over budget by {over.max():g}"
    loads = given_loads(data, plan)
    by_carrier = np.zeros((periods, n_reg, n_car), dtype=np.int64)
    expected = np.zeros((periods, n_reg, n_car, loads.shape[2]))
    availability = network.region_availability  # [t, region, tech]
    for k, carrier in enumerate(network.carrier_of):
        on_tech = connected[:, :, :, k]  # [t, category, region]
        by_carrier[:, :, carrier] += on_tech.sum(axis=1)
        gone = availability[:, :, k] <= 0  # [t, region]
        assert on_tech.transpose(0, 2, 1)[gone].sum() == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            per_terminal = np.where(
                gone[:, :, None, None],
                0.0,
                loads[None, None, :, k, :] / availability[:, :, k, None, None],
            )  # [t, region, category, resource]
        expected[:, :, carrier, :] += np.einsum("tcr,trcj->trj", on_tech, per_terminal)
    pool_terminals = trajectory.pool_terminals.reshape(periods, n_reg, n_cls, n_car)
    np.testing.assert_array_equal(pool_terminals.sum(axis=2), by_carrier)
    np.testing.assert_allclose(used.sum(axis=2), expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=switched_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_switch_offs_keep_the_books(data: dict[str, Any], seed: int) -> None:
    trajectory, plan = run(data, seed)
    event(f"migrated: {bool(trajectory.migrated.any())}")
    event(f"stranded: {bool(trajectory.stranded.any())}")
    _check_books(trajectory, plan)
    _check_pools(data, trajectory, plan)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=switched_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_trajectory_with_switch_offs(data: dict[str, Any], seed: int) -> None:
    first, _ = run(data, seed)
    second, _ = run(data, seed)
    for name in (*FLOWS, "connected", "waiting", "pool_terminals", "pool_used"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
