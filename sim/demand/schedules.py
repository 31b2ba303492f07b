"""Dated step schedules and the month axis of a run."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from sim.scenario import Scenario, month_index

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def row_month_indices(scenario: Scenario) -> IntArray:
    """Calendar month index of each tabulated time t = 0..M (t = 0 is the month before start)."""
    return scenario.start_index - 1 + np.arange(scenario.months + 1, dtype=np.int64)


def step_values(
    schedule: float | Mapping[str, float], month_indices: NDArray[np.int64]
) -> FloatArray:
    """A constant or dated step schedule {YYYY-MM: value} at the given month indices.

    A dated value holds from its month on; before the first date the first value holds.
    """
    if not isinstance(schedule, Mapping):
        return np.full(len(month_indices), float(schedule))
    values = np.array(list(schedule.values()), dtype=float)
    return values[step_positions(list(schedule), month_indices)]


def step_positions(dates: list[str], month_indices: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index of the dated step (YYYY-MM, ascending) in force at each month index; before
    the first date, the first step (0)."""
    indices = np.array([month_index(month) for month in dates], dtype=np.int64)
    return np.clip(np.searchsorted(indices, month_indices, side="right") - 1, 0, None)
