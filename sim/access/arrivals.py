"""Arrival times of terminals' reports in a cell: the TR 37.868 traffic models and Poisson."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def uniform_arrivals(devices: int, window_s: float, rng: np.random.Generator) -> FloatArray:
    """TR 37.868 traffic model 1: each terminal accesses at a uniform time in the window, ms."""
    return rng.uniform(0.0, window_s * 1000.0, devices)


def beta_arrivals(
    devices: int, window_s: float, rng: np.random.Generator, a: float = 3.0, b: float = 4.0
) -> FloatArray:
    """TR 37.868 traffic model 2: Beta(a, b) over the window (synchronised access), ms."""
    return rng.beta(a, b, devices) * window_s * 1000.0


def poisson_arrivals(rate_per_s: float, window_s: float, rng: np.random.Generator) -> FloatArray:
    """Poisson arrivals at a rate over the window, ms (sorted)."""
    count = rng.poisson(rate_per_s * window_s)
    return np.sort(rng.uniform(0.0, window_s * 1000.0, count))
