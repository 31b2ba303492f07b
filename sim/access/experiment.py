"""Metrics of a cell's random access and replicated experiments (`iotsim access`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sim.access.arrivals import beta_arrivals, uniform_arrivals
from sim.access.cell import AccessOutcome, simulate_cell
from sim.access.energy import BatterySettings, battery_life_years, data_phase, power_model
from sim.access.parameters import Parameter
from sim.access.procedure import Procedure
from sim.scenario.radio import COVERAGE_CLASSES

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

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
    one preamble in one RAO and occasion of any level, used or not).  The RAOs are those of
    the traffic period, and the ones after it up to the last a terminal used when retries or
    barring run past it, so numerator and denominator cover the same opportunities and the
    figure is never above 1.  When every attempt falls in the period (the TR 37.868 cases)
    it is the TR's figure.
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
        / max(outcome.preamble_opportunities, 1),
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

MAX_DEVICES = 1_000_000
"""Terminals in one experiment's cell, at most: a run holds about 100 bytes per terminal
(some 0.2 GB at the cap, 33 times the TR 37.868 overload case), and the replications are
pooled as a histogram of delays, so an experiment's memory stays bounded."""

EXPERIMENT_PARAMETERS: dict[str, Parameter] = {
    parameter.name: parameter
    for parameter in (
        Parameter("devices", int, "terminals in the cell", 1, MAX_DEVICES),
        Parameter("traffic", str, "arrivals: beta, Beta(3,4) over the window (TR 37.868 "
                  "traffic model 2); uniform, uniformly over it (model 1)",
                  choices=("beta", "uniform")),
        Parameter("window_s", float, "traffic window, s", 0, 86_400, low_open=True),
        Parameter("replications", int, "independent runs", 1, 10_000),
        Parameter("seed", int, "seed: replication r uses child r of "
                  "SeedSequence(seed).spawn(replications)", 0),
        Parameter("coverage", str, "the terminals' coverage class: it sets the level they "
                  "start on (NB-IoT CE level 0, 1, 2) and their data phase",
                  choices=COVERAGE_CLASSES),
        Parameter("payload_bytes", float, "application bytes per report, for the energy of "
                  "its data phase", 0, 1_000_000),
        Parameter("reports_per_day", float, "reports a day, for the battery life", 0, 100_000,
                  low_open=True),
        Parameter("battery_wh", float, "battery energy, Wh (3GPP TR 45.820's methodology "
                  "assumes 5 Wh)", 0, 1_000_000, low_open=True),
    )
}  # fmt: skip
"""The arguments of `run_experiment` other than the procedure."""


@dataclass(frozen=True)
class Experiment:
    """Replications of one cell experiment."""

    runs: list[dict[str, float]]
    """Metrics of each replication."""
    delay_ms: FloatArray
    """The distinct access delays of the successful terminals of all replications, ms,
    ascending (the pooled delays as a histogram: its size does not grow with the runs)."""
    delay_count: IntArray
    """How many successful terminals had each delay."""
    step_ms: list[FloatArray] = field(default_factory=list)
    """Per replication, the mean time per terminal in each step of `STEPS`, ms."""

    @property
    def successes(self) -> int:
        """Successful terminals, all replications."""
        return int(self.delay_count.sum())

    def delay_quantile(self, q: float) -> float:
        """The q-quantile of the pooled delays, ms: numpy's ``inverted_cdf`` (the smallest
        delay with a share of at least q at or below it), worked out on the histogram."""
        if self.successes == 0:
            return math.nan
        index = self.successes * q - 1  # as numpy computes it, so the value is the same
        position = max(
            math.floor(index) if index == math.floor(index) else math.floor(index) + 1, 0
        )
        cumulative = np.cumsum(self.delay_count)
        return float(self.delay_ms[np.searchsorted(cumulative, position, side="right")])

    def share_within(self, delay_ms: float) -> float:
        """Share of the successful terminals (pooled) with a delay of at most `delay_ms`."""
        if self.successes == 0:
            return math.nan
        return float(self.delay_count[self.delay_ms <= delay_ms].sum() / self.successes)

    def summary(self) -> list[tuple[str, float, float, float, int]]:
        """(metric, mean, ci_low, ci_high, replications) with 95 % Student-t intervals;
        the p95 delay is also given pooled over replications in `pooled_p95_access_delay_ms`."""
        from sim.stats import mean_ci

        rows = []
        for name in METRICS:
            mean, low, high = mean_ci([run[name] for run in self.runs])
            rows.append((name, mean, low, high, len(self.runs)))
        pooled = self.delay_quantile(0.95)
        rows.append(("pooled_p95_access_delay_ms", pooled, math.nan, math.nan, len(self.runs)))
        return rows

    def cdf(self) -> tuple[FloatArray, FloatArray]:
        """Pooled empirical CDF of the access delay: (delay_ms, share of successes <=)."""
        return self.delay_ms, np.cumsum(self.delay_count) / max(self.successes, 1)


def run_experiment(
    devices: int,
    traffic: str,
    window_s: float,
    procedure: Procedure,
    replications: int,
    seed: int,
    coverage: str = "normal",
) -> Experiment:
    """`replications` runs of `devices` terminals arriving by a TR 37.868 traffic model
    (`uniform` or `beta`) over `window_s`; replication r uses child r of
    SeedSequence(seed).spawn(replications); every terminal starts on the level of its
    `coverage` class.  ValueError for arguments outside `EXPERIMENT_PARAMETERS`."""
    given = {"devices": devices, "traffic": traffic, "window_s": window_s,
             "replications": replications, "seed": seed, "coverage": coverage}  # fmt: skip
    problems = [
        f"{name}={value!r} (must be {EXPERIMENT_PARAMETERS[name].allowed})"
        for name, value in given.items()
        if not EXPERIMENT_PARAMETERS[name].accepts(value)
    ]
    if problems:
        raise ValueError("invalid access experiment: " + "; ".join(problems))
    arrivals = TRAFFIC_MODELS[traffic]
    runs, steps = [], []
    start = np.full(devices, min(COVERAGE_CLASSES.index(coverage), len(procedure.levels) - 1))
    values, counts = np.zeros(0), np.zeros(0, dtype=np.int64)
    for child in np.random.SeedSequence(seed).spawn(replications):
        rng = np.random.default_rng(child)
        outcome = simulate_cell(arrivals(devices, window_s, rng), procedure, rng, window_s,
                                start_level=start)  # fmt: skip
        runs.append(metrics(outcome))
        steps.append(outcome.step_ms.mean(axis=0))
        # pool this run's delays into the histogram (exact values: np.unique groups equals)
        run_values, run_counts = np.unique(outcome.delay_ms[outcome.success], return_counts=True)
        values, inverse = np.unique(np.concatenate([values, run_values]), return_inverse=True)
        merged = np.zeros(len(values), dtype=np.int64)
        np.add.at(merged, inverse, np.concatenate([counts, run_counts]))
        counts = merged
    return Experiment(runs, values, counts, steps)


def energy_summary(
    experiment: Experiment,
    technology: str,
    coverage: str = "normal",
    payload_bytes: float = 100.0,
    reports_per_day: float = 1.0,
    battery_wh: float = 5.0,
) -> list[tuple[str, float, float, float, int]]:
    """Energy per delivered report (mJ) and battery life (years), as `Experiment.summary`
    rows with 95 % intervals over the replications.

    Per replication: the terminals' mean access energy (`sim.access.energy`, the catalog
    power figures of `technology`) over the access success probability (a failed access is
    retried until the report gets through), plus the data phase of `payload_bytes` at the
    `coverage` class; battery life at `reports_per_day` such reports, a tracking-area update
    a day (T3412 = 24 h) and the deep-sleep floor, on `battery_wh`.  Infinite energy and a
    life of 0 where no access succeeded.
    """
    from sim.stats import mean_ci

    power = power_model(technology)
    level = COVERAGE_CLASSES.index(coverage)
    data = float(data_phase(technology, [level], payload_bytes, 0.0).energy_mj(power)[0])
    battery = BatterySettings(battery_wh=battery_wh, tau_hours=24.0)
    energies, lives = [], []
    for run, steps in zip(experiment.runs, experiment.step_ms, strict=True):
        success = run["access_success_probability"]
        access = float(steps @ power.step_mw / 1000.0)
        energy = access / success + data if success > 0 else math.inf
        energies.append(energy)
        lives.append(float(battery_life_years(energy, reports_per_day, battery, power)))
    rows = []
    for name, values in (("energy_per_report_mj", energies), ("battery_life_years", lives)):
        if all(math.isfinite(v) for v in values):
            mean, low, high = mean_ci(values)
        else:  # a replication where no report got through: no interval to give
            mean, low, high = float(np.mean(values)), math.nan, math.nan
        rows.append((name, mean, low, high, len(values)))
    return rows
