"""The plan of a run: demand, join schedules and network capacity of a scenario as arrays;
no randomness yet."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.demand.curves import installed_base
from sim.demand.joins import JoinSchedule, exact_matvec, join_schedule
from sim.demand.lifetimes import Lifetime
from sim.demand.schedules import row_month_indices, step_positions
from sim.scenario import Problem, Scenario, ScenarioError
from sim.scenario.base import RESOURCES
from sim.supply.capacity import terminal_load
from sim.supply.network import NetworkPlan, build_network

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

AUTO_COHORTS = 200_000
"""Expected cohorts (initial plus joins) that `resolution: auto` aims at."""
MAX_COHORTS = 3_000_000
"""A run expected to simulate more cohorts than this is refused (about 1.5 GB, 30 s)."""


@dataclass(frozen=True)
class Plan:
    """Everything the world needs, derived from a scenario; no randomness yet."""

    scenario: Scenario
    categories: tuple[str, ...]
    network: NetworkPlan
    region_shares: FloatArray
    """[category, region] share of the category's terminals."""
    mix: FloatArray
    """[category, month k = 0..M-1, technology] share of new terminals; month 0's mix is
    also the initial base's."""
    initial: IntArray
    """[category, region, technology] initial base, whole terminals."""
    joins: FloatArray
    """[category, month k] expected joining terminals (all regions and technologies)."""
    demand: FloatArray
    """[t = 0..M, category, region, technology] expected base with no capacity limit (where
    a technology is switched off, on the technology its category's terminals go to)."""
    lifetimes: tuple[Lifetime, ...]
    preference: tuple[tuple[int, ...], ...]
    """Per category, technology indices in preference order."""
    loads: FloatArray
    """[category, technology, resource] busy-hour load of one terminal, spread over all of
    its carrier's cells (units per resource; `sim.supply.capacity`)."""
    resolution: int

    @property
    def months(self) -> int:
        return self.joins.shape[1]


def build_plan(scenario: Scenario) -> Plan:
    """Demand, join schedules, busy-hour budgets and loads of a scenario."""
    network = build_network(scenario)
    months = scenario.months
    techs = network.technologies
    month_indices = row_month_indices(scenario)
    join_months = month_indices[1:]  # month k = 0..M-1 is the month ending at t = k + 1
    categories = tuple(scenario.categories)
    n_cat, n_reg, n_tech = len(categories), len(network.regions), len(techs)
    region_shares = np.zeros((n_cat, n_reg))
    mix = np.zeros((n_cat, months, n_tech))
    joins = np.zeros((n_cat, months))
    demand = np.zeros((months + 1, n_cat, n_reg, n_tech))
    initial = np.zeros((n_cat, n_reg, n_tech), dtype=np.int64)
    lifetimes = []
    preference = []
    times = np.arange(months + 1, dtype=float)
    for c, name in enumerate(categories):
        category = scenario.categories[name]
        shares = scenario.category_region_shares(name)
        # shares are checked to sum to 1 within 1e-6; make them exact so no terminal is lost
        region_shares[c] = [shares[region] for region in network.regions]
        region_shares[c] /= region_shares[c].sum()
        table = mix_table(category.mix_schedule(), techs, join_months)
        mix[c] = table / table.sum(axis=1, keepdims=True)
        lifetime = Lifetime.of(category, months)
        base = installed_base(category.growth, category.initial, times, scenario.start_index)
        schedule = join_schedule(base, lifetime)
        joins[c] = schedule.joins
        demand[:, c] = (
            _expected_base(schedule, category.initial, mix[c])[:, None, :]
            * region_shares[c][None, :, None]
        )
        initial[c] = _whole_split(category.initial, region_shares[c][:, None] * mix[c, 0])
        lifetimes.append(lifetime)
        preference.append(tuple(techs.index(tech) for tech in category.technologies))
    _switch_demand(demand, network, preference)
    loads = np.zeros((n_cat, n_tech, len(RESOURCES)))
    for c, name in enumerate(categories):
        for k in preference[c]:
            figures = terminal_load(scenario, scenario.categories[name], techs[k])
            loads[c, k] = [figures[resource] for resource in RESOURCES]
    resolution = _resolution(scenario, initial, joins)
    return Plan(
        scenario,
        categories,
        network,
        region_shares,
        mix,
        initial,
        joins,
        demand,
        tuple(lifetimes),
        tuple(preference),
        loads,
        resolution,
    )


def _switch_demand(
    demand: FloatArray, network: NetworkPlan, preference: list[tuple[int, ...]]
) -> None:
    """Move, in place, the demand on a technology switched off in a region to the
    category's next technology on there (the one after it in preference order, then those
    before it), as its terminals move; dropped where none is on."""
    rows = sorted({event.row for event in network.switch_offs})
    if not rows:
        return
    for r in range(len(network.regions)):
        for start, end in zip(rows, [*rows[1:], demand.shape[0]], strict=True):
            off = network.switched_off[start, r]  # constant until the next switch-off
            if not off.any():
                continue
            for c, order in enumerate(preference):
                for k in order:
                    if not off[k]:
                        continue
                    position = order.index(k)
                    on = [t for t in order[position + 1 :] + order[:position] if not off[t]]
                    if on:
                        demand[start:end, c, r, on[0]] += demand[start:end, c, r, k]
                    demand[start:end, c, r, k] = 0.0


def mix_table(steps: dict, techs: tuple[str, ...], months: IntArray) -> FloatArray:
    """[month, technology] shares of a (possibly dated) mix at calendar month indices.

    A dated mix holds from its month on; before the first date the first mix holds.
    """
    dated = [month for month in steps if month is not None]
    position = step_positions(dated, months)
    table = np.zeros((len(months), len(techs)))
    for step, shares in enumerate(steps.values()):
        for tech, share in shares.items():
            table[position == step, techs.index(tech)] = share
    return table


def _expected_base(schedule: JoinSchedule, initial: float, mix: FloatArray) -> FloatArray:
    """[t, technology] expected base with no capacity limit (the initial base has the
    first month's mix; joiners the mix of the month they join in)."""
    from_initial = initial * schedule.initial_survival[:, None] * mix[0][None, :]
    from_joins = np.stack(
        [
            exact_matvec(schedule.survival_kernel, schedule.joins * mix[:, k])
            for k in range(mix.shape[1])
        ],
        axis=1,
    )
    return from_initial + from_joins


def _whole_split(total: int, weights: FloatArray) -> IntArray:
    """Split a whole number by weights (summing to 1) into whole numbers summing to it."""
    exact = total * weights.ravel()
    whole = np.floor(exact).astype(np.int64)
    remainder = total - int(whole.sum())
    if remainder > 0:
        order = np.argsort(-(exact - whole), kind="stable")[:remainder]
        whole[order] += 1
    return whole.reshape(weights.shape)


def _resolution(scenario: Scenario, initial: IntArray, joins: FloatArray) -> int:
    terminals = float(initial.sum()) + math.fsum(joins.ravel())
    if scenario.resolution == "auto":
        return max(1, math.ceil(terminals / AUTO_COHORTS))
    expected = terminals / scenario.resolution
    if expected > MAX_COHORTS:
        raise ScenarioError(
            [
                Problem(
                    "resolution",
                    f"{scenario.resolution} terminals per cohort means about {expected:,.0f} "
                    f"cohorts (more than {MAX_COHORTS:,}); use auto or at least "
                    f"{math.ceil(terminals / MAX_COHORTS):,}",
                )
            ]
        )
    return int(scenario.resolution)
