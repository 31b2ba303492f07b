"""Properties of the random-access engine with coverage levels (hypothesis): counters that
add up, times that are never negative, levels climbed in order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.access import Procedure, simulate_cell
from sim.access.arrivals import beta_arrivals
from sim.access.cell import STEPS
from sim.access.procedure import Level

WAIT = STEPS.index("wait")


@st.composite
def timings(draw: st.DrawFn) -> dict[str, object]:
    """One level's resource and timings: HARQ round trips at least the message (a
    retransmission starts after the previous one), a no-grant wait at least the preamble
    and its processing (the window cannot close before it opens)."""
    preamble_ms = draw(st.sampled_from([1.0, 1.6, 6.4, 25.6]))
    processing = draw(st.integers(0, 5))
    msg3_ms, msg4_ms = draw(st.sampled_from([0.0, 1.0, 8.0])), draw(st.sampled_from([1.0, 6.0]))
    period = draw(st.sampled_from([5.0, 10.0, 40.0, 80.0]))
    return {
        "preambles": draw(st.integers(1, 64)),
        "rao_period_ms": period,
        "rao_offset_ms": draw(st.sampled_from([0.0, 1.0, 2.5])) % period,
        "grants_per_subframe": draw(st.integers(1, 4)),
        "rar_window_ms": draw(st.integers(1, 20)),
        "grants_per_rao": draw(st.none() | st.integers(1, 20)),
        "no_grant_wait_ms": draw(st.none() | st.sampled_from([0.0, 7.0, 50.0]).map(
            lambda extra: preamble_ms + processing + extra)),
        "preamble_processing_ms": processing,
        "rar_processing_ms": draw(st.integers(0, 12)),
        "connection_request_processing_ms": draw(st.integers(0, 10)),
        "contention_resolution_timer_ms": draw(st.sampled_from([8, 48, 200])),
        "rtt_msg3_ms": int(msg3_ms) + draw(st.integers(0, 8)),
        "rtt_msg4_ms": int(msg4_ms) + draw(st.integers(0, 8)),
        "preamble_ms": preamble_ms,
        "rar_ms": draw(st.sampled_from([0.0, 1.0, 4.0])),
        "msg3_ms": msg3_ms,
        "msg4_ms": msg4_ms,
        "occasions": draw(st.integers(1, 3)),
    }  # fmt: skip


@st.composite
def procedures(draw: st.DrawFn) -> Procedure:
    first = draw(timings())
    more = draw(st.lists(timings(), max_size=2))
    levels = tuple(Level(**timing, max_attempts=draw(st.none() | st.integers(1, 4)))
                   for timing in more)  # type: ignore[arg-type]  # fmt: skip
    return Procedure(
        **first,  # type: ignore[arg-type]
        max_attempts_per_level=draw(st.integers(1, 4)) if levels else None,
        coverage_levels=levels,
        max_preamble_transmissions=draw(st.integers(1, 10)),
        backoff_indicator_ms=draw(st.sampled_from([0.0, 20.0, 960.0])),
        harq_retransmission_probability=draw(st.sampled_from([0.0, 0.1, 0.6])),
        detection=draw(st.sampled_from(["tr37868", "certain"])),
        collisions=draw(st.sampled_from(["undetected", "contention"])),
        acb_factor=draw(st.sampled_from([1.0, 0.5])),
        acb_time_s=draw(st.sampled_from([0.02, 1.0])),
    )


@settings(max_examples=120, deadline=None)
@given(procedure=procedures(), devices=st.integers(0, 600),
       window_s=st.sampled_from([0.05, 1.0, 10.0]), seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_levels_counters_and_times_add_up(
    procedure: Procedure, devices: int, window_s: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    count = len(procedure.levels)
    start = rng.integers(0, count, devices)
    outcome = simulate_cell(beta_arrivals(devices, window_s, rng), procedure, rng, window_s,
                            start)  # fmt: skip
    per_level = outcome.level_transmissions
    assert per_level.shape == (devices, count)
    assert outcome.step_ms.shape == (devices, len(STEPS))
    # conservation: every transmission happened at one level
    np.testing.assert_array_equal(per_level.sum(axis=1), outcome.transmissions)
    assert per_level.sum() == outcome.preamble_transmissions
    # levels are climbed in order from the start level: none below it, none above the
    # final one, and each level left behind used its full allowance
    assert (outcome.final_level >= start).all()
    assert (outcome.final_level < count).all()
    limits = [level.max_attempts for level in procedure.levels]
    for terminal in range(devices):
        first, last = start[terminal], outcome.final_level[terminal]
        row = per_level[terminal]
        assert not row[:first].any()
        assert not row[last + 1 :].any()
        for level in range(first, last):
            assert row[level] == limits[level]
    # times: never negative; no step longer than the access took
    assert (outcome.step_ms >= 0).all()
    done = outcome.success
    assert (outcome.step_ms[done].sum(axis=1) <= outcome.delay_ms[done] + 1e-6).all()
    # (times are sums of floats: 1e-6 ms absorbs their rounding)
    shortest = min(level.minimum_delay_ms for level in procedure.levels)
    assert (outcome.delay_ms[done] >= shortest - 1e-6).all()
    # a terminal that got through at its first preamble, never barred, never waited
    if procedure.acb_factor == 1.0:
        first_time = done & (outcome.transmissions == 1)
        assert (outcome.step_ms[first_time, WAIT] == 0).all()
        assert (outcome.transmissions[~done] == procedure.max_preamble_transmissions).all()
    preambles_ms = np.array([level.preamble_ms for level in procedure.levels])
    np.testing.assert_allclose(outcome.step_ms[:, 0], per_level @ preambles_ms, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(base=timings(), stretch=st.lists(st.sampled_from([1.0, 2.0, 4.0]), min_size=2,
                                        max_size=2), seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_a_deeper_start_level_never_reaches_sooner(
    base: dict[str, object], stretch: list[float], seed: int
) -> None:
    """NB-IoT-like monotone levels (each level's durations and processing delays a
    multiple >= 1 of the one before): a lone terminal with certain detection and no HARQ
    loss takes its start level's minimum delay, which never falls with the level."""
    factors = np.cumprod([1.0, *stretch])
    scaled = ("preamble_ms", "rar_ms", "msg3_ms", "msg4_ms")
    whole = ("preamble_processing_ms", "rar_processing_ms", "connection_request_processing_ms")
    levels = []
    for factor in factors:
        timing = dict(base)
        timing.update({name: float(base[name]) * factor for name in scaled})  # type: ignore[arg-type]
        timing.update({name: int(base[name]) * int(factor) for name in whole})  # type: ignore[call-overload]
        timing.update(no_grant_wait_ms=None, contention_resolution_timer_ms=100_000,
                      rtt_msg3_ms=int(timing["msg3_ms"]) + 1,  # type: ignore[call-overload]
                      rtt_msg4_ms=int(timing["msg4_ms"]) + 1)  # type: ignore[call-overload]  # fmt: skip
        levels.append(timing)
    procedure = Procedure(**levels[0], max_attempts_per_level=2,  # type: ignore[arg-type]
                          coverage_levels=tuple(Level(**t) for t in levels[1:]),  # type: ignore[arg-type]
                          detection="certain", harq_retransmission_probability=0.0)  # fmt: skip
    arrivals = np.array([0.0, 100_000.0, 200_000.0])
    outcome = simulate_cell(arrivals, procedure, np.random.default_rng(seed), 300,
                            np.array([0, 1, 2]))  # fmt: skip
    assert outcome.success.all()
    expected = [level.minimum_delay_ms for level in procedure.levels]
    np.testing.assert_allclose(outcome.delay_ms, expected, rtol=0, atol=1e-6)
    assert (np.diff(outcome.delay_ms) >= -1e-6).all()
