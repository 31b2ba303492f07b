"""Demand curves: the installed base each growth model asks for over time.

Time is in months from the start of the horizon (t = 0 is the start of the first simulated
month, i.e. the end of the month before it); curves are evaluated at month ends t = 1..M.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from sim.scenario import Bass, Cagr, GrowthModel, Linear, Logistic, Targets, month_index

FloatArray = NDArray[np.float64]


def installed_base(
    growth: GrowthModel, initial: float, t_months: FloatArray, start_index: int
) -> FloatArray:
    """Installed base (terminals) demanded at times `t_months` after the start.

    `start_index` is `month_index(scenario.start)`; it places dated anchors in time.
    """
    t_years = np.asarray(t_months, dtype=float) / 12.0
    if isinstance(growth, Cagr):
        return initial * (1.0 + growth.rate) ** t_years
    if isinstance(growth, Logistic):
        if initial <= 0:
            return np.zeros_like(t_years)
        ratio = growth.saturation / initial - 1.0
        return growth.saturation / (1.0 + ratio * np.exp(-growth.rate * t_years))
    if isinstance(growth, Bass):
        return growth.market * _bass_adoption(
            growth.p, growth.q, t_years + _bass_offset(growth, initial)
        )
    if isinstance(growth, Linear):
        return np.maximum(0.0, initial + growth.per_year * t_years)
    if isinstance(growth, Targets):
        anchor_t = [0.0] + [
            (month_index(month) - start_index + 1) / 12.0 for month in growth.values
        ]
        anchor_log = np.log([float(initial), *growth.values.values()])
        return np.exp(_log_linear(np.asarray(anchor_t), anchor_log, t_years))
    raise TypeError(f"unknown growth model {growth!r}")


def _bass_adoption(p: float, q: float, t_years: FloatArray) -> FloatArray:
    """Cumulative Bass adoption share F(t) = (1 - e^-(p+q)t) / (1 + q/p e^-(p+q)t)."""
    decay = np.exp(-(p + q) * t_years)
    return (1.0 - decay) / (1.0 + (q / p) * decay)


def _bass_offset(growth: Bass, initial: float) -> float:
    """Years t0 of diffusion behind an installed base `initial`: F(t0) = initial / market."""
    share = initial / growth.market
    decay = (1.0 - share) / (1.0 + (growth.q / growth.p) * share)
    return -math.log(decay) / (growth.p + growth.q)


def _log_linear(anchor_t: FloatArray, anchor_log: FloatArray, t: FloatArray) -> FloatArray:
    """Piecewise-linear interpolation of log values; the last segment is extrapolated."""
    inside = np.interp(t, anchor_t, anchor_log)
    if len(anchor_t) < 2:
        return inside
    slope = (anchor_log[-1] - anchor_log[-2]) / (anchor_t[-1] - anchor_t[-2])
    beyond = t > anchor_t[-1]
    inside[beyond] = anchor_log[-1] + slope * (t[beyond] - anchor_t[-1])
    return inside
