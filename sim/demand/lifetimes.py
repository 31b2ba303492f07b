"""Terminal lifetimes: the distribution of how long a terminal stays, in months."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from sim.scenario import Category

FloatArray = NDArray[np.float64]


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
