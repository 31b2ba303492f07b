"""What terminals experience in the access layer's cells: energy per report and battery life.

For every simulated year, region, cell, category, technology and coverage class, the
terminals of the access layer's busy window (`sim.access.hot_cells`) spent, per report,
the energy of what their random-access procedure did (`AccessOutcome.step_ms`) plus the
data phase of their coverage class (`sim.access.energy.data_phase`).  A report whose access
failed is not lost: the terminal sends it again later (an assumption: the application
retries), so a *delivered* report costs the group's mean access energy over its success
probability, plus one data phase.  When no access succeeds a report cannot be delivered:
infinite energy, a battery life of 0.

Battery life is the long run's: which terminal of a group collides in a given hour is
chance, so over the thousands of reports of a battery's life every terminal of the group
spends about the group's mean per report (the groups differ: coverage class, cell,
category, technology).  A day's energy counts:

* the day's reports that meet busy-window conditions: all of them when the category's
  reports are spread evenly over the day (busy-hour share about 1/24: every hour is alike),
  else the busy-hour share of them;
* the other reports cost what a lone terminal's first attempt costs (no congestion: an
  assumption, the other hours are not simulated).

The table keeps that life, whether it misses the category's design life (then every
terminal of the group does), and the energy by step, so a planner sees which step grew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.access.cell import STEPS, AccessOutcome
from sim.access.energy import (
    battery_life_years,
    battery_settings,
    data_phase,
    energy_per_report_mj,
    ideal_step_ms,
    power_model,
    share_below_design_life,
)
from sim.access.procedure import Procedure
from sim.access.terminals import CellTerminals
from sim.scenario import Scenario
from sim.scenario.radio import COVERAGE_CLASSES

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

ENERGY_PARTS = (*STEPS, "data")
"""The parts of a report's energy, in experience.csv as `<part>_mj`."""

EXPERIENCE_COLUMNS = [
    "year", "region", "cell", "category", "technology", "coverage", "reports",
    "success_probability", "energy_per_report_mj",
    *[f"{part}_mj" for part in ENERGY_PARTS],
    "battery_life_years", "design_life_years", "below_design_life_share",
]  # fmt: skip


@dataclass(frozen=True)
class GroupReports:
    """One group's (category, technology, coverage class) reports of a cell, pooled over
    replications: each terminal's success and time per step."""

    success: NDArray[np.bool_]
    step_ms: FloatArray
    replications: int


ALIKE = 0.99
"""Hours at least this loaded, relative to the busy hour, count as alike."""


def congested_share(busy_hour_share: float) -> float:
    """Share of a day's reports that meet busy-window conditions (module docstring): with
    share h in the busy hour and the rest spread over the other 23, all of them when the
    other hours carry at least 99 % of the busy hour's ((1 - h) / 23 >= 0.99 h: hourly
    reads written as 0.0417 for 1/24 count as even), else h."""
    other_hours = (1.0 - busy_hour_share) / 23.0
    return 1.0 if other_hours >= ALIKE * busy_hour_share else busy_hour_share


def experience_row(scenario: Scenario, procedure: Procedure, category: str, technology: str,
                   coverage: int, reports: GroupReports) -> dict[str, object]:  # fmt: skip
    """The figures of one group; a dict of EXPERIENCE_COLUMNS but the keys of the cell."""
    spec = scenario.categories[category]
    traffic = spec.traffic
    override = scenario.technologies.get(technology)
    power = power_model(technology, override)
    battery = battery_settings(spec)
    n = len(reports.success)
    # one report's data phase at the group's coverage class (the same for every terminal)
    data = data_phase(technology, [coverage], traffic.payload_bytes, traffic.downlink_bytes,
                      override)  # fmt: skip
    steps = reports.step_ms
    success = float(reports.success.mean()) if n else math.nan
    # per delivered report: failed accesses are retried until one gets through
    retries = 1.0 / success if success > 0 else math.inf
    if math.isinf(retries):  # nothing gets through: a report cannot be delivered
        by_step = np.full(steps.shape, math.inf)
    else:
        by_step = steps * power.step_mw / 1000.0 * retries  # mJ per terminal and step
    data_mj = np.broadcast_to(data.energy_mj(power), (n,))
    energy = by_step.sum(axis=1) + data_mj
    delivered = float(energy.mean()) if n else math.nan  # mJ per delivered report
    level = procedure.levels[min(coverage, len(procedure.levels) - 1)]
    ideal = float(energy_per_report_mj(ideal_step_ms(level), power, data)[0])
    share = congested_share(traffic.busy_hour_share)
    daily_average = share * delivered + (1.0 - share) * ideal
    life = float(battery_life_years(daily_average, traffic.reports_per_day, battery, power))

    def mean(values: FloatArray) -> float:
        return round(float(values.mean()), 6) if len(values) else math.nan

    return {
        "reports": round(n / reports.replications, 2),
        "success_probability": round(success, 6) if n else math.nan,
        "energy_per_report_mj": mean(energy),
        **{f"{part}_mj": mean(by_step[:, j]) for j, part in enumerate(STEPS)},
        "data_mj": mean(data_mj),
        "battery_life_years": round(life, 6) if n else math.nan,
        "design_life_years": (
            battery.design_life_years if battery.design_life_years is not None else math.nan
        ),
        "below_design_life_share": (
            share_below_design_life([life], battery.design_life_years) if n else math.nan
        ),
    }


def experience_rows(scenario: Scenario, procedure: Procedure, keys: dict[str, object],
                    categories: tuple[str, ...], technologies: tuple[str, ...],
                    terminals: CellTerminals, groups: list[IntArray],
                    outcomes: list[AccessOutcome]) -> list[dict[str, object]]:  # fmt: skip
    """experience.csv rows of one cell (`keys`: year, region, cell): one per category,
    technology and coverage class with reports, phones left out."""
    rows = []
    for g in range(len(terminals.technology)):
        if terminals.technology[g] < 0:
            continue
        masks = [group == g for group in groups]
        if not any(mask.any() for mask in masks):
            continue
        reports = GroupReports(
            success=np.concatenate([o.success[m] for o, m in zip(outcomes, masks, strict=True)]),
            step_ms=np.concatenate([o.step_ms[m] for o, m in zip(outcomes, masks, strict=True)]),
            replications=len(outcomes),
        )
        category = categories[terminals.category[g]]
        technology = technologies[terminals.technology[g]]
        coverage = int(terminals.coverage[g])
        rows.append(
            {
                **keys,
                "category": category,
                "technology": technology,
                "coverage": COVERAGE_CLASSES[coverage],
                **experience_row(scenario, procedure, category, technology, coverage, reports),
            }
        )
    return rows
