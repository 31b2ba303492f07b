"""Metrics of a cell's random access and replicated experiments (`iotsim access`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.access.arrivals import beta_arrivals, uniform_arrivals
from sim.access.cell import AccessOutcome, simulate_cell
from sim.access.procedure import Procedure

FloatArray = NDArray[np.float64]

METRICS = (
    "access_success_probability",
    "mean_preamble_transmissions",
    "mean_access_delay_ms",
    "p95_access_delay_ms",
    "collision_probability_per_opportunity",
    "collision_probability_per_transmission",
    "collision_probability_per_terminal",
)
"""Metric names, as in the TR 37.868 reference table where it has them."""


def metrics(outcome: AccessOutcome) -> dict[str, float]:
    """The key figures of one run; means over successful terminals where it says so.

    `collision_probability_per_opportunity` is TR 37.868's collision probability: preambles
    chosen by two or more terminals over all preambles of the same RAOs (an opportunity is
    one preamble in one RAO, used or not).  The RAOs are those of the traffic period, and
    the ones after it up to the last a terminal used when retries or barring run past it,
    so numerator and denominator cover the same opportunities and the figure is never above
    1.  When every attempt falls in the period (the TR 37.868 cases) it is the TR's figure.
    """
    success = outcome.success
    delays = outcome.delay_ms[success]
    return {
        "access_success_probability": float(success.mean()) if outcome.devices else math.nan,
        "mean_preamble_transmissions": (
            float(outcome.transmissions[success].mean()) if success.any() else math.nan
        ),
        "mean_access_delay_ms": float(delays.mean()) if success.any() else math.nan,
        "p95_access_delay_ms": (
            float(np.quantile(delays, 0.95, method="inverted_cdf")) if success.any() else math.nan
        ),
        "collision_probability_per_opportunity": outcome.collided_preambles
        / (outcome.preambles * max(outcome.opportunities, 1)),
        "collision_probability_per_transmission": (
            outcome.collided_transmissions / outcome.preamble_transmissions
            if outcome.preamble_transmissions
            else math.nan
        ),
        "collision_probability_per_terminal": (
            float(outcome.collided.mean()) if outcome.devices else math.nan
        ),
    }


ArrivalModel = Callable[[int, float, np.random.Generator], FloatArray]
TRAFFIC_MODELS: dict[str, ArrivalModel] = {"uniform": uniform_arrivals, "beta": beta_arrivals}


@dataclass(frozen=True)
class Experiment:
    """Replications of one cell experiment."""

    runs: list[dict[str, float]]
    """Metrics of each replication."""
    delays_ms: FloatArray
    """Access delays of every successful terminal, all replications pooled, ms."""

    def summary(self) -> list[tuple[str, float, float, float, int]]:
        """(metric, mean, ci_low, ci_high, replications) with 95 % Student-t intervals;
        the p95 delay is also given pooled over replications in `pooled_p95_access_delay_ms`."""
        from sim.stats import mean_ci

        rows = []
        for name in METRICS:
            mean, low, high = mean_ci([run[name] for run in self.runs])
            rows.append((name, mean, low, high, len(self.runs)))
        pooled = (
            float(np.quantile(self.delays_ms, 0.95, method="inverted_cdf"))
            if len(self.delays_ms)
            else math.nan
        )
        rows.append(("pooled_p95_access_delay_ms", pooled, math.nan, math.nan, len(self.runs)))
        return rows

    def cdf(self) -> tuple[FloatArray, FloatArray]:
        """Pooled empirical CDF of the access delay: (delay_ms, share of successes <=)."""
        values, counts = np.unique(self.delays_ms, return_counts=True)
        return values, np.cumsum(counts) / max(len(self.delays_ms), 1)


def run_experiment(
    devices: int,
    traffic: str,
    window_s: float,
    procedure: Procedure,
    replications: int,
    seed: int,
) -> Experiment:
    """`replications` runs of `devices` terminals arriving by a TR 37.868 traffic model
    (`uniform` or `beta`) over `window_s`; replication r uses child r of
    SeedSequence(seed).spawn(replications)."""
    arrivals = TRAFFIC_MODELS[traffic]
    runs, delays = [], []
    for child in np.random.SeedSequence(seed).spawn(replications):
        rng = np.random.default_rng(child)
        outcome = simulate_cell(arrivals(devices, window_s, rng), procedure, rng, window_s)
        runs.append(metrics(outcome))
        delays.append(outcome.delay_ms[outcome.success])
    return Experiment(runs, np.concatenate(delays) if delays else np.zeros(0))
