"""Demand curves, terminal lifetimes and the join schedule that makes the base follow a curve.

Time is in months from the start of the horizon (t = 0 is the start of the first simulated
month, i.e. the end of the month before it); curves are evaluated at month ends t = 1..M.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from sim.scenario import Bass, Cagr, Category, GrowthModel, Linear, Logistic, Targets, month_index

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


@dataclass(frozen=True)
class Lifetime:
    """Terminal lifetime distribution; times in months."""

    kind: str
    mean: float
    shape: float = 2.0
    horizon: float = 1200.0
    """Months over which the Weibull survival integral is tabulated."""

    @classmethod
    def of(cls, category: Category, months: int) -> Lifetime:
        return cls(
            category.lifetime,
            category.lifetime_years * 12.0,
            category.weibull_shape,
            float(months + 1),
        )

    @property
    def _weibull_scale(self) -> float:
        return self.mean / math.gamma(1.0 + 1.0 / self.shape)

    def integrated_survival(self, t: FloatArray) -> FloatArray:
        """C(t) = integral of the survival function S(u) over u in [0, t], months."""
        t = np.asarray(t, dtype=float)
        if self.kind == "exponential":
            return self.mean * -np.expm1(-t / self.mean)
        if self.kind == "fixed":
            return np.minimum(t, self.mean)
        grid, cumulative = self._weibull_table
        return np.interp(t, grid, cumulative)

    @cached_property
    def _weibull_table(self) -> tuple[FloatArray, FloatArray]:
        # fine trapezoid table of C(t); S is bounded by 1 so the error is below 1e-6 months
        grid = np.linspace(0.0, self.horizon, int(self.horizon * 200) + 1)
        survival = np.exp(-((grid / self._weibull_scale) ** self.shape))
        steps = np.diff(grid) * (survival[1:] + survival[:-1]) / 2.0
        return grid, np.concatenate([[0.0], np.cumsum(steps)])

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Lifetimes of new terminals, months."""
        if self.kind == "exponential":
            return rng.exponential(self.mean, size)
        if self.kind == "fixed":
            return np.full(size, self.mean)
        return self._weibull_scale * rng.weibull(self.shape, size)

    def sample_residual(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Remaining lifetimes of an installed base in equilibrium (the stationary excess
        distribution, density S(t)/mean), months; inf beyond the tabulated horizon."""
        if self.kind == "exponential":
            return rng.exponential(self.mean, size)
        if self.kind == "fixed":
            return rng.uniform(0.0, self.mean, size)
        grid, cumulative = self._weibull_table
        share = rng.random(size) * self.mean
        residual = np.interp(share, cumulative, grid)
        residual[share > cumulative[-1]] = np.inf
        return residual


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
