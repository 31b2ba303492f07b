"""Shared random-access channels: more load on a channel never raises its terminals' success.

Technologies of one carrier (and the carrier's smartphones) contend on one channel
(`sim.access.hot_cells`). Adding contenders can only take preambles and grants from the
terminals already there; pathwise this need not hold (another terminal can shift a retry
off a later collision), so it is asserted for the means over replications, within three
standard errors of the difference.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.access.arrivals import beta_arrivals
from sim.access.cell import simulate_cell
from sim.access.procedure import Procedure

REPLICATIONS = 6


def _iot_success(iot: int, phones: int, seed: int) -> tuple[float, float]:
    """Mean and standard error over replications of the IoT terminals' success: `iot`
    terminals in a Beta(3,4) burst over 2 s, plus `phones` uniformly over the same 2 s,
    all on one TR 37.868 channel."""
    successes = []
    for child in np.random.SeedSequence(seed).spawn(REPLICATIONS):
        rng = np.random.default_rng(child)
        arrivals = np.concatenate([beta_arrivals(iot, 2.0, rng), rng.uniform(0.0, 2000.0, phones)])
        outcome = simulate_cell(arrivals, Procedure(), rng, 2.0)
        successes.append(outcome.success[:iot].mean())
    values = np.array(successes)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(REPLICATIONS))


@settings(max_examples=8, deadline=None)
@given(
    iot=st.integers(500, 4000),
    phones=st.integers(500, 6000),
    seed=st.integers(0, 2**32 - 1),
)
def test_more_load_on_a_shared_channel_never_raises_success(
    iot: int, phones: int, seed: int
) -> None:
    alone, alone_se = _iot_success(iot, 0, seed)
    shared, shared_se = _iot_success(iot, phones, seed)
    tolerance = 3.0 * math.hypot(alone_se, shared_se) + 1e-9
    assert shared <= alone + tolerance, (iot, phones, alone, shared, tolerance)


def test_a_busy_shared_channel_costs_the_iot_terminals_success() -> None:
    """The effect is there to see: 3,000 meters in a 2 s burst succeed less when 20,000
    smartphone procedures share their PRACH (a channel driven near collapse)."""
    alone, alone_se = _iot_success(3000, 0, 7)
    shared, shared_se = _iot_success(3000, 20_000, 7)
    assert shared < alone - 3.0 * math.hypot(alone_se, shared_se), (alone, shared)
