"""The join schedule: expected joins per month that make the expected base follow a curve,
given that terminals leave when their lifetime ends."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.demand.lifetimes import Lifetime

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class JoinSchedule:
    """Expected joins per month that make the expected base follow a curve."""

    joins: FloatArray
    """Terminals joining in month k = 0..M-1 (spread evenly over the month)."""
    survival_kernel: FloatArray
    """K[n, k]: expected survivors at t = n of one terminal/month joining in month k."""
    initial_survival: FloatArray
    """Share of the initial base still there at t = n = 0..M."""


def join_schedule(base: FloatArray, lifetime: Lifetime) -> JoinSchedule:
    """Solve base[n] = base[0] S_e(n) + sum_k joins[k] K[n, k] for joins >= 0, n = 1..M.

    Exact at every month end when the curve can be followed; where the curve falls faster
    than terminals retire, joins are 0 and the expected base stays above the curve.
    """
    months = len(base) - 1
    times = np.arange(months + 1, dtype=float)
    integrated = lifetime.integrated_survival(times)
    # survivors at t=n of joins spread over month k: integral of S over [n-k-1, n-k]
    per_lag = np.diff(integrated)  # per_lag[d-1] for lag d = 1..M
    lag = times[:, None] - times[None, :months]
    kernel = np.where(lag >= 1, per_lag[np.clip(lag.astype(int) - 1, 0, None)], 0.0)
    initial_survival = 1.0 - integrated / lifetime.mean
    joins = np.zeros(months)
    for n in range(1, months + 1):
        carried = base[0] * initial_survival[n] + math.fsum(kernel[n, : n - 1] * joins[: n - 1])
        joins[n - 1] = max(0.0, (base[n] - carried) / kernel[n, n - 1])
    return JoinSchedule(joins, kernel, initial_survival)


def exact_matvec(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    """matrix @ vector with correctly rounded sums (math.fsum).

    BLAS may sum in an order that depends on the CPU, which would change expected joins
    in the last bit, and with them Poisson draws and rounded counts: results must not
    depend on the machine.
    """
    return np.array([math.fsum(row) for row in matrix * vector[None, :]])
