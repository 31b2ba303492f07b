"""Base-station build-out -> sites, cells and registration capacity per region and technology.

Values are tabulated at month ends t = 0..M (t = 0: the start of the horizon).  Builds and
retirements of a year are spread evenly over its twelve months and take effect at the end
of each month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.demand.schedules import row_month_indices, step_values
from sim.scenario import Scenario, SiteSchedule

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class NetworkPlan:
    """Arrays indexed [t, region, technology], t = 0..M month ends."""

    regions: tuple[str, ...]
    technologies: tuple[str, ...]
    sites: FloatArray
    """Sites carrying the technology in the region (fractional: a share of sites)."""
    cells: FloatArray
    capacity: IntArray
    """Terminals that can be connected at once (floor of cells x devices per cell)."""


def generation_sites(schedule: SiteSchedule, month_indices: IntArray) -> FloatArray:
    """Sites of one generation at the end of each month (row 0: the initial count)."""
    years = month_indices // 12
    net = _per_year(schedule.build_per_year, years) - _per_year(schedule.retire_per_year, years)
    monthly = net / 12.0
    sites = np.empty(len(month_indices))
    stock = float(schedule.initial)
    sites[0] = stock  # row 0 is the state at the start, before any month has passed
    for t in range(1, len(month_indices)):
        # a month cannot retire sites that do not exist, so clip the stock month by month
        stock = max(0.0, stock + monthly[t])
        sites[t] = stock
    return sites


def _per_year(table: float | dict[int, float], years: IntArray) -> FloatArray:
    if isinstance(table, dict):
        return np.array([table.get(int(year), 0.0) for year in years], dtype=float)
    return np.full(len(years), float(table))


def build_network(scenario: Scenario) -> NetworkPlan:
    """Sites, cells and capacity of every (region, technology) pool over the horizon."""
    month_indices = row_month_indices(scenario)
    regions = tuple(scenario.regions)
    technologies = tuple(scenario.network.technologies)
    site_share = np.array([scenario.regions[r].site_share for r in regions])
    by_generation = {
        generation: generation_sites(schedule, month_indices)
        for generation, schedule in scenario.network.sites.items()
    }
    sites = np.zeros((len(month_indices), len(regions), len(technologies)))
    devices_per_cell = np.zeros(len(technologies))
    for position, name in enumerate(technologies):
        carriage = scenario.network.technologies[name]
        share = step_values(carriage.share, month_indices)
        carrying = by_generation[carriage.generation] * share
        sites[:, :, position] = carrying[:, None] * site_share[None, :]
        devices_per_cell[position] = scenario.max_devices_per_cell(name)
    cells = sites * scenario.network.sectors_per_site
    # a small relative guard so 2.0 cells x 50 devices is 100, not 99 after rounding error
    capacity = np.floor(cells * devices_per_cell[None, None, :] * (1 + 1e-12)).astype(np.int64)
    return NetworkPlan(regions, technologies, sites, cells, capacity)
