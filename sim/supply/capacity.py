"""Busy-hour resources of a cell, loads of a terminal, and cell load classes.

* A carrier's **budget** per cell and busy hour, per resource (units in
  `sim.scenario.radio.RESOURCE_UNITS`), from its catalog figures:

  - uplink   = blocks x uplink time share x 3.6e6 ms x (1 - overhead) x carriers per cell
  - downlink = blocks x downlink time share x 3.6e6 ms x (1 - overhead) x carriers per cell
  - random access = preambles x opportunities per hour x (-ln(1 - target)): with Poisson
    preamble transmissions spread over `preambles` preambles, a transmission collides with
    probability 1 - exp(-x / preambles) when x are sent per opportunity, so this is the
    rate at which the collision probability equals the planning target;
  - contexts = the RRC-connected licence per cell.

  A scenario's `network.carriers.<kind>.budget` replaces any of them.  The part IoT may use
  is budget x (threshold - smartphones' background share).
* A terminal's **load** per busy hour, per resource, from its category's traffic and its
  technology's link figures: r = reports a day x busy-hour share reports in the hour; a
  report of b uplink bits at a coverage class with blocks of B bits taking U units and R
  repetitions costs ceil(b / B) x U x R units; the same downlink, plus the grants' control
  units; random access costs the preamble transmissions per report; contexts are r x
  connected seconds per report / 3600 erlangs (Little's law).  The loads are averaged over
  the category's coverage-class mix.
* **Cell classes**: a region's cells hold lognormal numbers of terminals (coefficient of
  variation cv).  Cells are split at quantiles into classes; a class holding the cells
  between quantiles u0 and u1 holds Phi(z1 - s) - Phi(z0 - s) of the terminals
  (s^2 = ln(1 + cv^2), z = Phi^-1(u): the lognormal's partial expectation).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from sim.scenario import Category, Scenario, catalog
from sim.scenario.base import RESOURCES, Resource
from sim.scenario.radio import MS_PER_HOUR, CarrierOverride

FloatArray = NDArray[np.float64]


def class_bounds(classes: int, hottest: float) -> FloatArray:
    """Cell quantiles bounding the classes: [0, ..., 1 - hottest, 1].

    The hottest class holds the top `hottest` share of cells; the shares of cells above the
    lower classes' bounds fall geometrically from 1 to `hottest`, so classes are fine where
    the load is high and coarse among the many quiet cells.
    """
    if classes == 1:
        return np.array([0.0, 1.0])
    above = hottest ** (np.arange(classes) / (classes - 1))  # 1 ... hottest
    return np.concatenate([1.0 - above, [1.0]])


def terminal_shares(bounds: FloatArray, cv: float) -> FloatArray:
    """Share of a region's terminals in each class when terminals per cell are lognormal."""
    cell_shares = np.diff(bounds)
    if cv == 0:
        return cell_shares
    sigma = math.sqrt(math.log1p(cv * cv))
    normal = NormalDist()
    cdf = [0.0]
    for u in bounds[1:-1]:
        cdf.append(normal.cdf(normal.inv_cdf(float(u)) - sigma))
    cdf.append(1.0)
    shares = np.diff(np.array(cdf))
    return shares / shares.sum()


def class_labels(bounds: FloatArray) -> tuple[str, ...]:
    """Class names by their cell quantiles, e.g. 'p99-100' for the hottest 1 %."""

    def percent(u: float) -> str:
        return f"{100 * u:.4g}"

    return tuple(f"p{percent(lo)}-{percent(hi)}" for lo, hi in itertools.pairwise(bounds))


def cell_budget(carrier: str, override: CarrierOverride | None) -> dict[Resource, float]:
    """Per-cell busy-hour budget of each resource of a carrier kind (units per resource)."""
    spec = catalog.CARRIERS[carrier]
    count = 1 if override is None else override.count
    budget: dict[Resource, float] = {
        "uplink": spec.uplink_blocks
        * spec.uplink_time_share
        * MS_PER_HOUR
        * (1.0 - spec.uplink_overhead)
        * count,
        "downlink": spec.downlink_blocks
        * spec.downlink_time_share
        * MS_PER_HOUR
        * (1.0 - spec.downlink_overhead)
        * count,
        "random_access": spec.preambles
        * (MS_PER_HOUR / spec.rao_period_ms)
        * -math.log1p(-spec.collision_target),
        "contexts": spec.contexts,
    }
    if override is not None:
        budget.update(override.budget.given())
    return budget


def thresholds(carrier: str, override: CarrierOverride | None) -> dict[Resource, float]:
    """Planning threshold of each resource (share of the budget IoT and phones may use)."""
    figures = catalog.CARRIERS[carrier].threshold.given()
    if override is not None:
        figures.update(override.threshold.given())
    return {resource: figures.get(resource, 1.0) for resource in RESOURCES}


@dataclass(frozen=True)
class ReportCost:
    """Resource units one report costs at one coverage class."""

    uplink: float
    downlink: float
    connected_s: float


def report_cost(
    technology: str, coverage: str, uplink_bytes: float, downlink_bytes: float
) -> ReportCost:
    """Units of one report of given application bytes at a coverage class (overheads added)."""
    spec = catalog.TECHNOLOGIES[technology]
    link = catalog.LINKS[technology][coverage]  # type: ignore[index]
    uplink_bits = 8.0 * (uplink_bytes + spec.uplink_overhead_bytes)
    downlink_bits = 8.0 * (downlink_bytes + spec.downlink_overhead_bytes)
    uplink_blocks = math.ceil(uplink_bits / link.uplink_bits_per_tb - 1e-12)
    downlink_blocks = math.ceil(downlink_bits / link.downlink_bits_per_tb - 1e-12)
    return ReportCost(
        uplink=uplink_blocks * link.uplink_units_per_tb * link.uplink_repetitions,
        downlink=downlink_blocks * link.downlink_units_per_tb * link.downlink_repetitions
        + (uplink_blocks + downlink_blocks) * link.control_units_per_tb,
        connected_s=link.connected_s,
    )


def terminal_load(scenario: Scenario, category: Category, technology: str) -> dict[Resource, float]:
    """Busy-hour load of one terminal of a category on a technology, per resource."""
    load: dict[Resource, float] = {}
    if technology in catalog.TECHNOLOGIES:
        traffic = category.traffic
        per_hour = traffic.reports_per_day * traffic.busy_hour_share
        uplink = downlink = connected = 0.0
        for level, share in traffic.coverage.shares().items():
            if share == 0:
                continue
            cost = report_cost(technology, level, traffic.payload_bytes, traffic.downlink_bytes)
            uplink += share * cost.uplink
            downlink += share * cost.downlink
            connected += share * cost.connected_s
        attempts = catalog.TECHNOLOGIES[technology].preamble_transmissions_per_report
        load = {
            "uplink": per_hour * uplink,
            "downlink": per_hour * downlink,
            "random_access": per_hour * attempts,
            "contexts": per_hour * connected / 3600.0,
        }
    override = scenario.technologies.get(technology)
    if override is not None:
        load.update(override.load.given())
    own = category.load.get(technology)
    if own is not None:
        load.update(own.given())
    return {resource: load.get(resource, 0.0) for resource in RESOURCES}


__all__ = [
    "ReportCost",
    "cell_budget",
    "class_bounds",
    "class_labels",
    "report_cost",
    "terminal_load",
    "terminal_shares",
    "thresholds",
]
