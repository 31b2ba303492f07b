"""Representative cells of a scenario and what their terminals see on the random-access channel.

For each chosen year, region and technology the growth layer says how many terminals of
each category are connected and over how many cells.  Devices per cell differ across cells:
they are lognormal with the region's mean and coefficient of variation (`spread_cv` of the
region, default `access.spread_cv`), the same distribution the growth layer's cell classes
are cut from, so the q-quantile cell holds

    m * exp(sigma * z_q - sigma^2 / 2),  sigma^2 = ln(1 + cv^2),  z_q the normal quantile,

and no more than a full cell class of the growth layer holds per cell, so a class that
turned terminals away is not loaded as if it had not.

That cell's busy window (`access.window_s`) is loaded with its terminals' reports.  A
category with r reports a day, busy-hour share h and synchronised share s, with n terminals
in the cell, sends in the window (Poisson counts):

* synchronised reports: n * s * min(1, r * h), all at the reporting instant at the start of
  the window, spread as TR 37.868 traffic model 2 (Beta(3,4) over `access.burst_s`), or
  uniformly over `controls.jitter_s` when report jitter is on;
* the other reports: n * (1 - s) * r * h * window_s / 3600, uniform over the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.access.arrivals import beta_arrivals
from sim.access.cell import AccessOutcome, simulate_cell
from sim.access.procedure import Procedure
from sim.demand.schedules import row_month_indices
from sim.engine import Plan, Trajectory, pools_full
from sim.scenario import AccessSettings, Scenario, catalog

ACCESS_COLUMNS = [
    "year", "region", "technology", "cell", "devices_per_cell", "attempts",
    "success_probability", "collision_probability", "mean_preamble_transmissions",
    "mean_delay_ms", "p95_delay_ms",
]  # fmt: skip


def cell_population(mean: float, cv: float, quantile: float) -> float:
    """Devices in the `quantile` cell when devices per cell are lognormal (mean, cv)."""
    if mean <= 0:
        return 0.0
    if cv == 0:
        return mean
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    return mean * math.exp(sigma * NormalDist().inv_cdf(quantile) - sigma * sigma / 2.0)


def procedure_for(scenario: Scenario, technology: str) -> Procedure:
    """The random-access procedure of a technology: its catalog profile, the scenario's
    overrides of it, and the scenario's overload controls."""
    spec = catalog.TECHNOLOGIES[technology]
    override = scenario.technologies.get(technology)
    preambles, period = spec.preambles, spec.rao_period_ms
    offset = min(1.0, period / 2)
    if override is not None:
        if override.prach_configuration_index is not None:
            period, offset = catalog.lte_prach_timing(override.prach_configuration_index)
        if override.nprach_periodicity_ms is not None:
            period = float(override.nprach_periodicity_ms)
        preambles = override.nprach_subcarriers or override.preambles or preambles
        if override.rao_period_ms is not None:
            period, offset = override.rao_period_ms, min(offset, override.rao_period_ms / 2)
    controls = scenario.access.controls
    procedure = Procedure(
        preambles=preambles,
        rao_period_ms=period,
        rao_offset_ms=offset,
        acb_factor=controls.acb_factor,
        acb_time_s=controls.acb_time_s,
    )
    if controls.backoff_indicator_ms is not None:
        procedure = procedure.replace(backoff_indicator_ms=controls.backoff_indicator_ms)
    return procedure


@dataclass(frozen=True)
class _Load:
    """Mean report counts of one cell's busy window, per category."""

    synchronised: np.ndarray
    spread: np.ndarray


def _cell_load(plan: Plan, connected: np.ndarray, devices: float,
               settings: AccessSettings) -> _Load:  # fmt: skip
    total = connected.sum()
    shares = connected / total if total > 0 else np.zeros_like(connected, dtype=float)
    traffic = [plan.scenario.categories[name].traffic for name in plan.categories]
    per_hour = np.array([t.reports_per_day * t.busy_hour_share for t in traffic])
    sync = np.array([t.synchronized for t in traffic])
    in_cell = devices * shares
    return _Load(
        synchronised=in_cell * sync * np.minimum(1.0, per_hour),
        spread=in_cell * (1.0 - sync) * per_hour * settings.window_s / 3600.0,
    )


def _arrivals(load: _Load, settings: AccessSettings, rng: np.random.Generator) -> np.ndarray:
    """Report times in the window, ms."""
    synchronised = int(rng.poisson(load.synchronised).sum())
    spread = int(rng.poisson(load.spread).sum())
    jitter = settings.controls.jitter_s
    if jitter > 0:
        burst = rng.uniform(0.0, jitter * 1000.0, synchronised)
    else:
        burst = beta_arrivals(synchronised, settings.burst_s, rng)
    return np.concatenate([burst, rng.uniform(0.0, settings.window_s * 1000.0, spread)])


def _pooled(outcomes: list[AccessOutcome]) -> dict[str, float]:
    """The figures of a cell over all its replications pooled (every attempt weighs the
    same); NaN where there is nothing to measure (no attempt, no success)."""
    success = np.concatenate([o.success for o in outcomes])
    transmissions = np.concatenate([o.transmissions for o in outcomes])
    delays = np.concatenate([o.delay_ms[o.success] for o in outcomes])
    sent = sum(o.preamble_transmissions for o in outcomes)
    collided = sum(o.collided_transmissions for o in outcomes)

    def rounded(value: float) -> float:
        return round(value, 6) if not math.isnan(value) else math.nan

    return {
        "success_probability": rounded(success.mean() if len(success) else math.nan),
        "collision_probability": rounded(collided / sent if sent else math.nan),
        "mean_preamble_transmissions": rounded(
            transmissions[success].mean() if success.any() else math.nan
        ),
        "mean_delay_ms": rounded(delays.mean() if len(delays) else math.nan),
        "p95_delay_ms": rounded(
            float(np.quantile(delays, 0.95, method="inverted_cdf")) if len(delays) else math.nan
        ),
    }


def _capped(plan: Plan, trajectory: Trajectory, full: NDArray[np.bool_], t: int, region: int,
            tech: int, q: float, devices: float) -> float:  # fmt: skip
    """The q-quantile cell's terminals of a technology, no more than a full class holds.

    The growth layer draws terminals into the same lognormal classes; a class that is full
    (`full`: `sim.engine.pools_full`) holds its cells' capacity, so the access layer's cell
    in it holds no more than that: the most terminals per cell any full class of the
    region holds on the carrier (the same in every full class up to the last cohort's
    remainder), times the technology's share of them.
    """
    network = plan.network
    carrier = network.carrier_of[tech]
    cls = int(np.clip(np.searchsorted(network.bounds, q, side="right") - 1, 0,
                      len(network.classes) - 1))  # fmt: skip
    full_here = full[t, region, :, carrier]
    if not full_here[cls]:
        return devices
    terminals = trajectory.pool_terminals[t].reshape(full.shape[1:])[region, :, carrier]
    cells = network.class_cells[t, region, :, carrier]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cell = np.where(full_here & (cells > 0), terminals / cells, 0.0)
    on_carrier = terminals.sum()
    mine = float(trajectory.connected[t, :, region, tech].sum())
    share = mine / on_carrier if on_carrier > 0 else 0.0
    return min(devices, float(per_cell.max()) * share)


def access_table(plan: Plan, trajectory: Trajectory, rng: np.random.Generator) -> pd.DataFrame:
    """access.csv: random access in the representative cells of every chosen year, region
    and technology with cells (figures pooled over `access.replications` runs)."""
    settings = plan.scenario.access
    rows: list[dict[str, object]] = []
    if not settings.years:
        return pd.DataFrame(rows, columns=ACCESS_COLUMNS)
    months = row_month_indices(plan.scenario)
    technologies = settings.technologies or sorted(
        {plan.network.technologies[k] for order in plan.preference for k in order},
        key=plan.network.technologies.index,
    )
    quantiles = [(name, float(name[1:]) / 100.0) for name in settings.cells]
    cases = [
        (year, r, plan.network.technologies.index(tech), name, q)
        for year in settings.years
        for r in range(len(plan.network.regions))
        for tech in technologies
        for name, q in quantiles
    ]
    generators = rng.spawn(len(cases) * settings.replications)
    full = pools_full(plan, trajectory)
    for number, (year, r, k, cell, q) in enumerate(cases):
        # the state at the end of the year (or at the end of the horizon within that year)
        t = int(np.flatnonzero(months // 12 == year)[-1])
        cells = float(plan.network.cells[t, r, k])
        if cells <= 0:  # the technology has no cells there (yet): nothing to simulate
            continue
        connected = trajectory.connected[t, :, r, k].astype(float)
        cv = plan.scenario.region_spread_cv(plan.network.regions[r])
        devices = _capped(
            plan, trajectory, full, t, r, k, q, cell_population(connected.sum() / cells, cv, q)
        )
        load = _cell_load(plan, connected, devices, settings)
        technology = plan.network.technologies[k]
        procedure = procedure_for(plan.scenario, technology)
        outcomes = []
        for replication in range(settings.replications):
            generator = generators[number * settings.replications + replication]
            arrivals = _arrivals(load, settings, generator)
            outcomes.append(simulate_cell(arrivals, procedure, generator, settings.window_s))
        rows.append(
            {
                "year": year,
                "region": plan.network.regions[r],
                "technology": technology,
                "cell": cell,
                "devices_per_cell": round(devices),
                "attempts": round(float(np.mean([o.devices for o in outcomes]))),
                **_pooled(outcomes),
            }
        )
    return pd.DataFrame(rows, columns=ACCESS_COLUMNS)
