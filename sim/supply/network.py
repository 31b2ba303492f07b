"""Base-station build-out -> sites, cells, carriers, cell classes and busy-hour budgets.

Values are tabulated at month ends t = 0..M (t = 0: the start of the horizon).  Builds and
retirements of a year are spread evenly over its twelve months and take effect at the end
of each month.

The regions are the scenario's simulated regions (the leaves of nested regions, by path).
A region holds a share of each generation's sites in each month: the product of the
(dated, per-generation) site shares down its path (`Scenario.leaf_regions`).

A technology is carried on a share of its generation's sites; its carrier kind (LTE, NB-IoT,
NR) is on the largest share any of its technologies has (or the share the scenario gives
under network.carriers).  A technology on fewer sites than its carrier uses only those
cells: its terminals load them 1 / availability times as much as if they were spread over
all of the carrier's cells (availability = technology share / carrier share).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sim.demand.schedules import row_month_indices, step_values
from sim.scenario import Scenario, SiteSchedule, catalog, month_index
from sim.scenario.base import RESOURCES
from sim.supply.capacity import (
    cell_budget,
    class_bounds,
    class_labels,
    terminal_shares,
    thresholds,
)
from sim.supply.sunsets import SwitchOffEvent, regional_carriage, switch_off_events

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class NetworkPlan:
    """Sites, cells and busy-hour budgets; arrays indexed by t = 0..M month ends."""

    regions: tuple[str, ...]
    technologies: tuple[str, ...]
    carriers: tuple[str, ...]
    classes: tuple[str, ...]
    """Cell classes by their quantiles of terminals per cell, coldest first."""
    carrier_of: tuple[int, ...]
    """Per technology, the index of its carrier kind."""
    sites: FloatArray
    """[t, region, technology] sites carrying the technology (fractional: a share of sites)."""
    cells: FloatArray
    """[t, region, technology] cells carrying the technology."""
    carrier_cells: FloatArray
    """[t, region, carrier] cells holding the carrier kind."""
    availability: FloatArray
    """[t, technology] share of its carrier's cells that carry the technology (where it
    is not switched off)."""
    bounds: FloatArray
    """Cell quantiles bounding the classes, [0, ..., 1] (the same in every region)."""
    cell_shares: FloatArray
    """[region, class] share of a region's cells in each class."""
    class_cells: FloatArray
    """[t, region, class, carrier] cells of each class holding the carrier kind."""
    terminal_shares: FloatArray
    """[region, class] share of a region's terminals in each class."""
    budget: FloatArray
    """[carrier, resource] busy-hour budget of one cell (units per resource)."""
    threshold: FloatArray
    """[carrier, resource] planning threshold, share of the budget."""
    background: FloatArray
    """[t, carrier, resource] smartphones' share of the budget."""
    usable: FloatArray
    """[t, region, class, carrier, resource] what IoT terminals may use: cells x budget x
    max(0, threshold - background)."""
    region_availability: FloatArray
    """[t, region, technology] availability in each region: 0 where the technology is
    switched off, raised where another technology of its carrier was (`sim.supply.sunsets`)."""
    switched_off: NDArray[np.bool_]
    """[t, region, technology] whether the technology is switched off in the month ending
    at row t."""
    switch_offs: tuple[SwitchOffEvent, ...]
    """Each technology switched off in each region, in (row, region, technology) order."""

    generations: tuple[str, ...] = ()
    """Generations with sites (network.sites), in the order written."""
    generation_sites: FloatArray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    """[t, region, generation] sites of each generation (fractional)."""

    @property
    def pools(self) -> int:
        return len(self.regions) * len(self.classes) * len(self.carriers)


_NO_SITE = 1e-6
"""Fewer sites than this are none (a year's share retired in twelve steps leaves ~1e-13)."""


def generation_sites(schedule: SiteSchedule, month_indices: IntArray) -> FloatArray:
    """Sites of one generation at the end of each month (row 0: the initial count): the
    dated counts of `in_service` interpolated linearly, then the per-year tables."""
    years = month_indices // 12
    net = _per_year(schedule.build_per_year, years) - _per_year(schedule.retire_per_year, years)
    monthly = net / 12.0
    # a share of the sites in service at the start of the year, as planners say it (20 %
    # a year from 1,000 leaves 800 after a year, 640 after two), a twelfth each month
    monthly_share = _per_year(schedule.retire_share_per_year, years) / 12.0
    sites = np.empty(len(month_indices))
    stock = float(schedule.initial)
    sites[0] = stock  # row 0 is the state at the start, before any month has passed
    # dated counts: linear from the initial count through each, the tables after the last
    anchor_t = [0] + [month_index(month) - int(month_indices[0]) for month in schedule.in_service]
    anchor_sites = [stock, *map(float, schedule.in_service.values())]
    counted = np.interp(np.arange(len(month_indices)), anchor_t, anchor_sites)
    year_start = stock
    for t in range(1, len(month_indices)):
        if years[t] != years[t - 1]:  # row t - 1 ended the previous year
            year_start = stock
        if t <= anchor_t[-1]:
            stock = float(counted[t])
            sites[t] = stock
            continue
        # a month cannot retire sites that do not exist, so clip the stock month by month
        stock = max(0.0, stock + monthly[t] - monthly_share[t] * year_start)
        if stock < _NO_SITE:  # twelve twelfths of a stock leave float dust, not sites
            stock = 0.0
        sites[t] = stock
    return sites


def _per_year(table: float | dict[int, float], years: IntArray) -> FloatArray:
    if isinstance(table, dict):
        return np.array([table.get(int(year), 0.0) for year in years], dtype=float)
    return np.full(len(years), float(table))


def _site_share(
    schedules: tuple[float | dict[str, float], ...], month_indices: IntArray
) -> FloatArray:
    """A region's share of a generation's sites at each month: the product of the (dated)
    shares of the regions down its path."""
    share = step_values(schedules[0], month_indices)
    for schedule in schedules[1:]:
        share = share * step_values(schedule, month_indices)
    return share


def build_network(scenario: Scenario) -> NetworkPlan:
    """Sites, cells, cell classes and budgets of every region and carrier over the horizon."""
    month_indices = row_month_indices(scenario)
    periods = len(month_indices)
    regions = scenario.leaf_names
    technologies = tuple(scenario.network.technologies)
    carrier_names = [scenario.carrier_of(name) for name in technologies]
    carriers = tuple(sorted(set(carrier_names), key=list(catalog.CARRIERS).index))
    carrier_of = tuple(carriers.index(name) for name in carrier_names)
    leaves = scenario.leaf_regions
    by_generation = {
        generation: generation_sites(schedule, month_indices)
        for generation, schedule in scenario.network.sites.items()
    }
    # [t, region] each region's share of a generation's sites: the product of the (dated)
    # shares down its path
    site_share = {
        generation: np.stack(
            [_site_share(leaves[region].site_share_schedules(generation), month_indices)
             for region in regions],
            axis=1,
        )
        for generation in by_generation
    }  # fmt: skip
    # a carrier kind is on the generation its technologies are carried by (checked to be
    # one generation per carrier), the catalog's where none says
    generation_of = {name: catalog.CARRIERS[name].generation for name in carriers}
    for name, owner in zip(technologies, carrier_names, strict=True):
        generation_of[owner] = scenario.network.technologies[name].generation

    tech_share = np.zeros((periods, len(technologies)))
    sites = np.zeros((periods, len(regions), len(technologies)))
    for k, name in enumerate(technologies):
        carriage = scenario.network.technologies[name]
        tech_share[:, k] = step_values(carriage.share, month_indices)
        carrying = by_generation[carriage.generation] * tech_share[:, k]
        sites[:, :, k] = carrying[:, None] * site_share[carriage.generation]
    sectors = scenario.network.sectors_per_site
    cells = sites * sectors

    carrier_share = np.zeros((periods, len(carriers)))
    carrier_cells = np.zeros((periods, len(regions), len(carriers)))
    budget = np.zeros((len(carriers), len(RESOURCES)))
    threshold = np.zeros((len(carriers), len(RESOURCES)))
    background = np.zeros((periods, len(carriers), len(RESOURCES)))
    for c, name in enumerate(carriers):
        override = scenario.network.carriers.get(name)  # type: ignore[call-overload]
        members = [k for k, owner in enumerate(carrier_of) if owner == c]
        if override is not None and override.share is not None:
            carrier_share[:, c] = step_values(override.share, month_indices)
        else:
            carrier_share[:, c] = tech_share[:, members].max(axis=1)
        generation_sites_ = by_generation.get(generation_of[name])
        if generation_sites_ is not None:
            carrier_cells[:, :, c] = (
                (generation_sites_ * carrier_share[:, c])[:, None]
                * site_share[generation_of[name]]
                * sectors
            )
        figures = cell_budget(name, override)
        limits = thresholds(name, override)
        phones = catalog.CARRIERS[name].background
        given = override.background if override is not None else None
        for j, resource in enumerate(RESOURCES):
            budget[c, j] = figures[resource]
            threshold[c, j] = limits[resource]
            # a scenario's background replaces the catalog's for the resources it names
            source = given if given is not None and resource in given.model_fields_set else phones
            background[:, c, j] = step_values(getattr(source, resource), month_indices)

    with np.errstate(divide="ignore", invalid="ignore"):
        availability = np.where(
            carrier_share[:, list(carrier_of)] > 0,
            np.minimum(1.0, tech_share / carrier_share[:, list(carrier_of)]),
            0.0,
        )

    # technologies switched off in some regions (none: every region as the national shares)
    switched_off, switch_offs = switch_off_events(scenario, month_indices, regions, technologies)
    given = tuple(
        scenario.network.carriers.get(name) is not None  # type: ignore[call-overload]
        and scenario.network.carriers[name].share is not None  # type: ignore[index]
        for name in carriers
    )
    region_availability, carrier_ratio = regional_carriage(
        switched_off, tech_share, carrier_share, carrier_of, given
    )
    sites, cells = sites * ~switched_off, cells * ~switched_off
    carrier_cells = carrier_cells * carrier_ratio

    bounds = class_bounds(scenario.network.cell_classes, scenario.network.hottest_cells)
    cell_shares = np.tile(np.diff(bounds), (len(regions), 1))
    shares = np.array(
        [terminal_shares(bounds, scenario.region_spread_cv(region)) for region in regions]
    )
    headroom = np.clip(threshold[None, :, :] - background, 0.0, None)  # [t, carrier, resource]
    class_cells = carrier_cells[:, :, None, :] * cell_shares[None, :, :, None]
    usable = class_cells[..., None] * (budget[None, :, :] * headroom)[:, None, None, :, :]
    return NetworkPlan(
        regions=regions,
        technologies=technologies,
        carriers=carriers,
        classes=class_labels(bounds),
        carrier_of=carrier_of,
        sites=sites,
        cells=cells,
        carrier_cells=carrier_cells,
        availability=availability,
        bounds=bounds,
        cell_shares=cell_shares,
        class_cells=class_cells,
        terminal_shares=shares,
        budget=budget,
        threshold=threshold,
        background=background,
        usable=usable,
        region_availability=region_availability,
        switched_off=switched_off,
        switch_offs=switch_offs,
        generations=tuple(by_generation),
        generation_sites=np.stack(
            [by_generation[g][:, None] * site_share[g] for g in by_generation], axis=2
        )
        if by_generation
        else np.zeros((periods, len(regions), 0)),
    )
