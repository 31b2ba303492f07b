"""Properties of the random-access procedure over random settings (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.access import Experiment, Procedure, metrics, simulate_cell
from sim.access.arrivals import beta_arrivals

procedures = st.builds(
    Procedure,
    preambles=st.integers(1, 64),
    rao_period_ms=st.sampled_from([2.0, 5.0, 10.0, 40.0]),
    grants_per_subframe=st.integers(1, 6),
    rar_window_ms=st.integers(1, 10),
    grants_per_rao=st.none() | st.integers(1, 64),
    no_grant_wait_ms=st.none() | st.sampled_from([1.0, 3.0, 13.0, 50.0]),
    max_preamble_transmissions=st.integers(1, 10),
    backoff_indicator_ms=st.sampled_from([0.0, 20.0, 100.0]),
    harq_retransmission_probability=st.sampled_from([0.0, 0.1, 0.5]),
    detection=st.sampled_from(["tr37868", "certain"]),
    collisions=st.sampled_from(["undetected", "contention"]),
    acb_factor=st.sampled_from([1.0, 0.7, 0.2]),
    acb_time_s=st.sampled_from([0.01, 0.5, 4.0]),
)


@settings(max_examples=80, deadline=None)
@given(procedure=procedures, devices=st.integers(0, 3000), window_s=st.sampled_from([0.1, 1, 10]),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_every_terminal_ends_once_and_delays_respect_the_procedure(
    procedure: Procedure, devices: int, window_s: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    outcome = simulate_cell(beta_arrivals(devices, window_s, rng), procedure, rng, window_s)
    success = outcome.success
    # success + failure = arrivals: a terminal that did not get through used every attempt
    assert len(success) == devices
    failed = ~success
    assert (outcome.transmissions[failed] == procedure.max_preamble_transmissions).all() or (
        procedure.acb_factor < 1 and (outcome.transmissions[failed] == 0).sum() == 0
    )
    assert (outcome.transmissions[success] >= 1).all()
    assert (outcome.transmissions <= procedure.max_preamble_transmissions).all()
    # delays: only for successes, never below the minimum procedure time, whole ms
    delays = outcome.delay_ms[success]
    assert np.isnan(outcome.delay_ms[failed]).all()
    assert (delays >= procedure.minimum_delay_ms).all()
    assert (delays == np.round(delays)).all() or procedure.rao_offset_ms % 1 != 0
    # counters agree with each other
    assert outcome.collided_transmissions <= outcome.preamble_transmissions
    assert outcome.preamble_transmissions == outcome.transmissions.sum()


@settings(max_examples=60, deadline=None)
@given(procedure=procedures, devices=st.integers(0, 3000),
       window_s=st.sampled_from([0.0001, 0.001, 0.1, 1, 10]),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_collision_probabilities_are_probabilities(
    procedure: Procedure, devices: int, window_s: float, seed: int
) -> None:
    """Collisions per opportunity count the same opportunities above and below the line:
    the collided preambles of every RAO a terminal used over all the preambles of those
    RAOs (at least the traffic period's), so each probability lies in [0, 1]."""
    rng = np.random.default_rng(seed)
    outcome = simulate_cell(beta_arrivals(devices, window_s, rng), procedure, rng, window_s)
    assert outcome.opportunities >= outcome.opportunities_in_period
    assert outcome.collided_preambles <= outcome.preambles * outcome.opportunities
    for name, value in metrics(outcome).items():
        if name.startswith("collision_probability") and not math.isnan(value):
            assert 0 <= value <= 1, (name, value)


@settings(max_examples=25, deadline=None)
@given(procedure=procedures.filter(lambda p: p.acb_factor == 1.0),
       acb_time_s=st.sampled_from([0.01, 1.0, 16.0]), devices=st.integers(1, 2000),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_acb_with_factor_1_is_no_acb(
    procedure: Procedure, acb_time_s: float, devices: int, seed: int
) -> None:
    """Barring that lets everyone pass changes nothing, whatever its barring time."""
    plain = metrics(simulate_cell(beta_arrivals(devices, 10, np.random.default_rng(seed)),
                                  procedure, np.random.default_rng(seed + 1), 10))  # fmt: skip
    barred = procedure.replace(acb_factor=1.0, acb_time_s=acb_time_s)
    again = metrics(simulate_cell(beta_arrivals(devices, 10, np.random.default_rng(seed)),
                                  barred, np.random.default_rng(seed + 1), 10))  # fmt: skip
    assert plain.keys() == again.keys()
    for name, value in plain.items():
        assert value == again[name] or (math.isnan(value) and math.isnan(again[name])), name


@settings(max_examples=10, deadline=None)
@given(base=st.integers(6000, 14000), extra=st.integers(4000, 10000),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_more_terminals_in_the_same_window_never_raise_the_success_probability(
    base: int, extra: int, seed: int
) -> None:
    """Averaged over 4 replications, within 3 standard errors of the difference: adding
    terminals to a Beta(3,4) 10 s window does not make access more likely to succeed."""

    def success(devices: int) -> np.ndarray:
        values = []
        for child in np.random.SeedSequence(seed).spawn(4):
            rng = np.random.default_rng(child)
            outcome = simulate_cell(beta_arrivals(devices, 10, rng), Procedure(), rng, 10)
            values.append(outcome.success.mean())
        return np.array(values)

    fewer, more = success(base), success(base + extra)
    se = math.hypot(fewer.std(ddof=1), more.std(ddof=1)) / 2
    assert more.mean() <= fewer.mean() + 3 * se + 1e-9


@settings(max_examples=200, deadline=None)
@given(delays=st.lists(st.integers(15, 300) | st.sampled_from([15.5, 20.25]), min_size=1,
                       max_size=400),
       q=st.sampled_from([0.95, 0.5, 0.05, 0.99]) | st.floats(0, 1),
       within=st.floats(0, 320))  # fmt: skip
def test_the_pooled_histogram_gives_numpys_quantile_and_shares(
    delays: list[float], q: float, within: float
) -> None:
    """The pooled delays are kept as a histogram: its quantile is numpy's inverted_cdf of
    the delays themselves, exactly, and so are the shares at or below a delay."""
    pooled = np.array(delays, dtype=float)
    values, counts = np.unique(pooled, return_counts=True)
    experiment = Experiment([], values, counts)
    assert experiment.delay_quantile(q) == np.quantile(pooled, q, method="inverted_cdf")
    assert experiment.share_within(within) == (pooled <= within).mean()
