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
from statistics import NormalDist

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.access.cell import AccessOutcome, simulate_cell
from sim.access.experience import EXPERIENCE_COLUMNS, experience_rows
from sim.access.procedure import Procedure
from sim.access.profiles import profile
from sim.access.terminals import cell_terminals, draw_arrivals
from sim.demand.schedules import row_month_indices
from sim.engine import Plan, Trajectory, pools_full
from sim.scenario import Scenario, catalog
from sim.scenario.base import RESOURCES

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

ACCESS_COLUMNS = [
    "year", "region", "technology", "cell", "carrier", "channel", "devices_per_cell", "attempts",
    "success_probability", "collision_probability", "mean_preamble_transmissions",
    "mean_delay_ms", "p95_delay_ms", "phone_attempts",
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
    """The random-access procedure of a technology's terminals: that of its carrier's one
    channel (`sim.access.profiles.profile` of the carrier's name: lte, nb-iot or nr), with
    what the scenario's technologies on that carrier say about the channel's first level
    (they agree: scenario checks) and the scenario's overload controls."""
    carrier = scenario.carrier_of(technology)
    procedure = profile(carrier)
    first = procedure.levels[0]
    period, offset, preambles = first.rao_period_ms, first.rao_offset_ms, first.preambles
    for name, override in scenario.technologies.items():
        if name not in catalog.TECHNOLOGIES and override.carrier is None:
            continue  # not a known technology (its own check says so)
        if scenario.carrier_of(name) != carrier:
            continue
        if override.prach_configuration_index is not None:
            period, offset = catalog.lte_prach_timing(override.prach_configuration_index)
        if override.nprach_periodicity_ms is not None:
            period = float(override.nprach_periodicity_ms)
        preambles = override.nprach_subcarriers or override.preambles or preambles
        if override.rao_period_ms is not None:
            period = override.rao_period_ms
    controls = scenario.access.controls
    changes: dict[str, object] = {
        "preambles": preambles,
        "rao_period_ms": period,
        # the profile's start time, within a shorter period if one was set
        "rao_offset_ms": offset % period,
        "acb_factor": controls.acb_factor,
        "acb_time_s": controls.acb_time_s,
    }
    if controls.backoff_indicator_ms is not None:
        changes["backoff_indicator_ms"] = controls.backoff_indicator_ms
    return procedure.replace(**changes)


def _pooled(outcomes: list[AccessOutcome], masks: list[BoolArray]) -> dict[str, float]:
    """The figures of some of a cell's terminals (`masks`, one per replication) over all
    replications pooled (every attempt weighs the same); NaN where there is nothing to
    measure (no attempt, no success).  The collision probability is the channel's: per
    preamble transmission of everyone on it, smartphones included."""
    success = np.concatenate([o.success[m] for o, m in zip(outcomes, masks, strict=True)])
    transmissions = np.concatenate(
        [o.transmissions[m] for o, m in zip(outcomes, masks, strict=True)]
    )
    delays = np.concatenate(
        [o.delay_ms[m & o.success] for o, m in zip(outcomes, masks, strict=True)]
    )
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


def _phones_per_cell(plan: Plan, t: int, carrier: int, channel: str) -> float:
    """Smartphones' random-access procedures in one cell's busy window: their share of the
    carrier's random-access budget (`background`, preamble transmissions per busy hour) over
    the preamble transmissions one procedure sends."""
    network = plan.network
    ra = RESOURCES.index("random_access")
    per_hour = network.background[t, carrier, ra] * network.budget[carrier, ra]
    per_report = catalog.TECHNOLOGIES[channel].preamble_transmissions_per_report
    return float(per_hour / per_report * plan.scenario.access.window_s / 3600.0)


def access_tables(
    plan: Plan, trajectory: Trajectory, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """access.csv and experience.csv: random access in the representative cells of every
    chosen year, region and technology with cells (figures pooled over
    `access.replications` runs), and what it costs the terminals' batteries
    (`sim.access.experience`).

    Technologies on one carrier contend on its one random-access channel, together with
    the smartphones' background there: one simulation per year, region, carrier and cell,
    reported per technology."""
    settings = plan.scenario.access
    rows: list[dict[str, object]] = []
    experience: list[dict[str, object]] = []
    if not settings.years:
        return (pd.DataFrame(rows, columns=ACCESS_COLUMNS),
                pd.DataFrame(experience, columns=EXPERIENCE_COLUMNS))  # fmt: skip
    network = plan.network
    months = row_month_indices(plan.scenario)
    chosen = settings.technologies or sorted(
        {network.technologies[k] for order in plan.preference for k in order},
        key=network.technologies.index,
    )
    by_carrier: dict[int, list[int]] = {}
    for tech in chosen:
        k = network.technologies.index(tech)
        by_carrier.setdefault(network.carrier_of[k], []).append(k)
    quantiles = [(name, float(name[1:]) / 100.0) for name in settings.cells]
    cases = [
        (year, r, carrier, name, q)
        for year in settings.years
        for r in range(len(network.regions))
        for carrier in sorted(by_carrier)
        for name, q in quantiles
    ]
    generators = rng.spawn(len(cases) * settings.replications)
    full = pools_full(plan, trajectory)
    for number, (year, r, carrier, cell, q) in enumerate(cases):
        # the state at the end of the year (or at the end of the horizon within that year)
        t = int(np.flatnonzero(months // 12 == year)[-1])
        present = [k for k in by_carrier[carrier] if network.cells[t, r, k] > 0]
        if not present:  # no technology of the carrier has cells there (yet)
            continue
        connected = trajectory.connected[t, :, r, :].astype(float)
        cv = plan.scenario.region_spread_cv(network.regions[r])
        devices = [
            _capped(plan, trajectory, full, t, r, k, q,
                    cell_population(connected[:, k].sum() / network.cells[t, r, k], cv, q))
            for k in present
        ]  # fmt: skip
        channel = network.carriers[carrier]  # the carrier's channel, named after it
        procedure = procedure_for(plan.scenario, network.technologies[present[0]])
        phones = _phones_per_cell(plan, t, carrier, channel)
        terminals = cell_terminals(plan, t, present, devices, connected, phones, settings)
        levels = len(procedure.levels)
        outcomes, groups = [], []
        for replication in range(settings.replications):
            generator = generators[number * settings.replications + replication]
            arrivals = draw_arrivals(terminals, settings, generator)
            start = np.minimum(terminals.coverage[arrivals.group], levels - 1)
            outcomes.append(
                simulate_cell(
                    arrivals.times_ms, procedure, generator, settings.window_s, start_level=start
                )
            )
            groups.append(arrivals.group)
        on_phones = [terminals.technology[g] < 0 for g in groups]
        for k, count in zip(present, devices, strict=True):
            masks = [terminals.technology[g] == k for g in groups]
            rows.append(
                {
                    "year": year,
                    "region": network.regions[r],
                    "technology": network.technologies[k],
                    "cell": cell,
                    "carrier": network.carriers[carrier],
                    "channel": channel,
                    "devices_per_cell": round(count),
                    "attempts": round(float(np.mean([m.sum() for m in masks]))),
                    **_pooled(outcomes, masks),
                    "phone_attempts": round(float(np.mean([m.sum() for m in on_phones]))),
                }
            )
        experience.extend(
            experience_rows(plan.scenario, procedure,
                            {"year": year, "region": network.regions[r], "cell": cell},
                            plan.categories, network.technologies, terminals, groups, outcomes)
        )  # fmt: skip
    return (pd.DataFrame(rows, columns=ACCESS_COLUMNS),
            pd.DataFrame(experience, columns=EXPERIENCE_COLUMNS))  # fmt: skip
