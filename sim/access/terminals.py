"""Who sends in one representative cell's busy window, and when: groups of terminals by
technology, category and coverage class (and the smartphones' background), and one
replication's report times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.access.arrivals import beta_arrivals
from sim.engine import Plan
from sim.scenario import AccessSettings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CellTerminals:
    """Who sends in one representative cell's busy window: groups of terminals of one
    technology, category and coverage class, with their mean report counts; group -1 of
    `technology` is the smartphones' background on the carrier."""

    technology: IntArray
    category: IntArray
    coverage: IntArray
    """Coverage class index (COVERAGE_CLASSES): the terminals' starting level."""
    synchronised: FloatArray
    """Mean reports sent at the reporting instant, per group."""
    spread: FloatArray
    """Mean reports sent uniformly over the window, per group."""


def cell_terminals(plan: Plan, t: int, technologies: list[int], devices: list[float],
                   connected: FloatArray, phones: float,
                   settings: AccessSettings) -> CellTerminals:  # fmt: skip
    """The groups of one cell: `devices[i]` terminals of technology `technologies[i]` split
    over categories as `connected[:, technologies[i]]` and over each category's coverage
    classes; `phones` smartphone random-access procedures in the window."""
    scenario = plan.scenario
    traffic = [scenario.categories[name].traffic for name in plan.categories]
    per_hour = np.array([x.reports_per_day * x.busy_hour_share for x in traffic])
    sync = np.array([x.synchronized for x in traffic])
    groups: dict[str, list[float]] = {
        key: [] for key in ("technology", "category", "coverage", "synchronised", "spread")
    }
    for tech, count in zip(technologies, devices, strict=True):
        column = connected[:, tech]
        total = column.sum()
        if total <= 0 or count <= 0:
            continue
        for c, share in enumerate(column / total):
            if share <= 0:
                continue
            for level, coverage_share in enumerate(traffic[c].coverage.shares().values()):
                if coverage_share <= 0:
                    continue
                in_cell = count * share * coverage_share
                groups["technology"].append(tech)
                groups["category"].append(c)
                groups["coverage"].append(level)
                groups["synchronised"].append(in_cell * sync[c] * min(1.0, per_hour[c]))
                groups["spread"].append(
                    in_cell * (1.0 - sync[c]) * per_hour[c] * settings.window_s / 3600.0
                )
    if phones > 0:
        for key, value in (("technology", -1), ("category", -1), ("coverage", 0),
                           ("synchronised", 0.0), ("spread", phones)):  # fmt: skip
            groups[key].append(value)
    return CellTerminals(
        technology=np.array(groups["technology"], dtype=np.int64),
        category=np.array(groups["category"], dtype=np.int64),
        coverage=np.array(groups["coverage"], dtype=np.int64),
        synchronised=np.array(groups["synchronised"], dtype=float),
        spread=np.array(groups["spread"], dtype=float),
    )


@dataclass(frozen=True)
class CellArrivals:
    """One replication's reports in the window: times (ms) and each one's group."""

    times_ms: FloatArray
    group: IntArray


def draw_arrivals(terminals: CellTerminals, settings: AccessSettings,
                  rng: np.random.Generator) -> CellArrivals:  # fmt: skip
    """Poisson report counts per group; synchronised reports at the reporting instant as
    TR 37.868 traffic model 2 (Beta(3,4) over `burst_s`), or uniformly over `jitter_s`
    when report jitter is on; the rest uniformly over the window."""
    synchronised = rng.poisson(terminals.synchronised)
    spread = rng.poisson(terminals.spread)
    jitter = settings.controls.jitter_s
    burst_count = int(synchronised.sum())
    if jitter > 0:
        burst = rng.uniform(0.0, jitter * 1000.0, burst_count)
    else:
        burst = beta_arrivals(burst_count, settings.burst_s, rng)
    uniform = rng.uniform(0.0, settings.window_s * 1000.0, int(spread.sum()))
    groups = np.arange(len(terminals.technology))
    return CellArrivals(
        times_ms=np.concatenate([burst, uniform]),
        group=np.concatenate([np.repeat(groups, synchronised), np.repeat(groups, spread)]),
    )
