"""Coverage levels, per-level timings and where each terminal's time goes, on timelines
worked out by hand from the procedure's figures (`sim/access/cell.py`, "The timeline of one
attempt")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.access import Procedure, simulate_cell
from sim.access.cell import STEPS
from sim.access.procedure import Level

# Three levels with NB-IoT-like proportions (each deeper level repeats more, so each of its
# durations is longer).  Whole milliseconds, so every time below is exact.
#   minimum delays: level 0: 6 + 3 + 4 + 12 + 8 + 10 + 6 = 49 ms
#                   level 1: 24 + 3 + 16 + 12 + 32 + 10 + 24 = 121 ms
#                   level 2: 96 + 3 + 64 + 12 + 128 + 10 + 96 = 409 ms
TIMINGS = [
    {"rao_period_ms": 40.0, "rao_offset_ms": 8.0, "preamble_ms": 6.0, "rar_ms": 4.0,
     "msg3_ms": 8.0, "msg4_ms": 6.0, "rar_window_ms": 20},
    {"rao_period_ms": 80.0, "rao_offset_ms": 16.0, "preamble_ms": 24.0, "rar_ms": 16.0,
     "msg3_ms": 32.0, "msg4_ms": 24.0, "rar_window_ms": 40},
    {"rao_period_ms": 160.0, "rao_offset_ms": 32.0, "preamble_ms": 96.0, "rar_ms": 64.0,
     "msg3_ms": 128.0, "msg4_ms": 96.0, "rar_window_ms": 80},
]  # fmt: skip
COMMON = {
    "preamble_processing_ms": 3,
    "rar_processing_ms": 12,
    "connection_request_processing_ms": 10,
    "contention_resolution_timer_ms": 200,
}
MINIMUM = [49.0, 121.0, 409.0]


def nb_like(**changes: object) -> Procedure:
    """Three levels; level 0 moves up after 3 transmissions, level 1 after 2, 10 in all;
    HARQ round trips 16 ms longer than the message (room for the feedback)."""
    levels = [
        {**timing, **COMMON, "preambles": 48, "rtt_msg3_ms": int(timing["msg3_ms"]) + 16,
         "rtt_msg4_ms": int(timing["msg4_ms"]) + 16}
        for timing in TIMINGS
    ]  # fmt: skip
    first = levels[0]
    values: dict[str, object] = {
        **first,
        "max_attempts_per_level": 3,
        "coverage_levels": (Level(**levels[1], max_attempts=2), Level(**levels[2])),
        "max_preamble_transmissions": 10,
    }
    values.update(changes)
    return Procedure(**values)  # type: ignore[arg-type]


IDEAL = {"detection": "certain", "harq_retransmission_probability": 0.0}


def test_the_levels_minimum_delays_are_their_sums() -> None:
    assert [level.minimum_delay_ms for level in nb_like().levels] == MINIMUM
    assert Procedure().levels[0].minimum_delay_ms == 15


def test_a_lone_terminal_at_each_level_takes_that_levels_minimum_delay() -> None:
    """Certain detection, no HARQ loss, terminals 10 s apart: one transmission each, at
    its start level, in that level's minimum delay; its time is spent as the timeline
    says: preamble, the RAR from the window's opening (slot 0, so rar_ms), one Msg3, and
    Msg4 from the end of Msg3 (connection_request_processing_ms + msg4_ms), no wait."""
    procedure = nb_like(**IDEAL)
    arrivals = np.array([0.0, 10_000.0, 20_000.0, 30_000.0])
    start = np.array([0, 1, 2, 1])
    outcome = simulate_cell(arrivals, procedure, np.random.default_rng(3), 40, start)
    assert outcome.success.all()
    np.testing.assert_array_equal(outcome.delay_ms, [MINIMUM[s] for s in start])
    np.testing.assert_array_equal(outcome.transmissions, [1, 1, 1, 1])
    np.testing.assert_array_equal(outcome.final_level, start)
    np.testing.assert_array_equal(outcome.level_transmissions, np.eye(3, dtype=int)[start])
    for row, level in zip(outcome.step_ms, start, strict=True):
        timing = TIMINGS[level]
        expected = {
            "preamble": timing["preamble_ms"],
            "rar": timing["rar_ms"],
            "msg3": timing["msg3_ms"],
            "msg4": COMMON["connection_request_processing_ms"] + timing["msg4_ms"],
            "wait": 0.0,
        }
        assert dict(zip(STEPS, row.tolist(), strict=True)) == expected
    # what is in no step: the two processing delays of the one attempt
    gaps = outcome.delay_ms - outcome.step_ms.sum(axis=1)
    np.testing.assert_array_equal(gaps, [3 + 12] * 4)


def test_the_lte_defaults_keep_their_15_ms_and_their_steps() -> None:
    """1 preamble + 2 processing + 1 RAR + 5 processing + 1 Msg3 + 4 processing + 1 Msg4."""
    procedure = Procedure(**IDEAL)  # type: ignore[arg-type]
    outcome = simulate_cell(np.array([0.0, 500.0]), procedure, np.random.default_rng(1), 1)
    np.testing.assert_array_equal(outcome.delay_ms, [15.0, 15.0])
    np.testing.assert_array_equal(outcome.step_ms, [[1, 1, 1, 5, 0]] * 2)
    np.testing.assert_array_equal(outcome.final_level, [0, 0])
    np.testing.assert_array_equal(outcome.level_transmissions, [[1], [1]])


def failing_timeline(start_ms: float) -> tuple[list[int], list[float], float]:
    """A lone terminal whose every attempt fails at Msg3 (all 5 HARQ transmissions lost),
    with no backoff: its levels, and its time per step, worked out attempt by attempt.

    An attempt at RAO time t on a level: preamble; RAR from slot 0 (rar_ms); Msg3 starts
    at t + preamble + 3 + rar + 12 and is sent 5 times, one round trip (msg3 + 16) apart;
    the contention-resolution timer starts in the subframe of the last Msg3's end
    (msg3 - 1 ms after it starts) and expires 200 ms later; the terminal listens for Msg4
    from the end of the last Msg3 to then (200 - 1 ms), and waits from the expiry to the
    next RAO of its next level.  Levels: 3 attempts at 0, 2 at 1, then 5 at 2 (10 in all).
    """
    levels = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    steps = dict.fromkeys(STEPS, 0.0)

    def next_rao(level: int, time: float) -> float:
        period, offset = TIMINGS[level]["rao_period_ms"], TIMINGS[level]["rao_offset_ms"]
        return offset + period * max(math.ceil((time - offset) / period), 0)

    t = next_rao(0, start_ms)
    for number, level in enumerate(levels):
        timing = TIMINGS[level]
        msg3 = timing["msg3_ms"]
        first_msg3 = t + timing["preamble_ms"] + 3 + timing["rar_ms"] + 12
        last_msg3 = first_msg3 + 4 * (msg3 + 16)
        expiry = last_msg3 + (msg3 - 1) + 200
        steps["preamble"] += timing["preamble_ms"]
        steps["rar"] += timing["rar_ms"]
        steps["msg3"] += 5 * msg3
        steps["msg4"] += expiry - (last_msg3 + msg3)
        if number + 1 < len(levels):
            following = next_rao(levels[number + 1], expiry)
            steps["wait"] += following - expiry
            t = following
    return levels, list(steps.values()), t


def test_a_terminal_that_always_fails_moves_up_the_levels_and_gives_up() -> None:
    """Msg3 lost on all 5 HARQ transmissions whenever q = 1 - 1e-12 (it gets through with
    probability 5e-12 per attempt): 3 transmissions at level 0, 2 at level 1
    (max_attempts), the rest of the 10 at level 2, where it gives up."""
    procedure = nb_like(detection="certain", harq_retransmission_probability=1 - 1e-12,
                        backoff_indicator_ms=0.0)  # fmt: skip
    arrivals = np.array([0.0, 100_000.0])
    outcome = simulate_cell(arrivals, procedure, np.random.default_rng(5), 100)
    assert not outcome.success.any()
    np.testing.assert_array_equal(outcome.level_transmissions, [[3, 2, 5], [3, 2, 5]])
    np.testing.assert_array_equal(outcome.final_level, [2, 2])
    np.testing.assert_array_equal(outcome.transmissions, [10, 10])
    for terminal, arrival in enumerate(arrivals):
        _, steps, _ = failing_timeline(arrival)
        np.testing.assert_allclose(outcome.step_ms[terminal], steps, rtol=0, atol=1e-9)
    # the hand timeline's step totals: 3 x 6 + 2 x 24 + 5 x 96 ms of preambles, etc.
    assert failing_timeline(0.0)[1][:4] == [546.0, 364.0, 3640.0, 1990.0]


def test_a_terminal_that_starts_deeper_skips_the_levels_below() -> None:
    """Starting at level 1 it has 2 transmissions there and 8 at level 2; at level 2 it
    stays for all 10 (the last level has no next)."""
    procedure = nb_like(detection="certain", harq_retransmission_probability=1 - 1e-12,
                        backoff_indicator_ms=0.0)  # fmt: skip
    outcome = simulate_cell(np.array([0.0, 0.0]), procedure, np.random.default_rng(2), 1,
                            np.array([1, 2]))  # fmt: skip
    np.testing.assert_array_equal(outcome.level_transmissions, [[0, 2, 8], [0, 0, 10]])
    np.testing.assert_array_equal(outcome.final_level, [2, 2])


def test_a_success_after_escalation_counts_its_delay_from_the_first_rao() -> None:
    """Detection certain and no HARQ loss, but level 0 has one preamble and a grant for
    one: two terminals at the same RAO both collide there until they have moved apart.
    Whatever happens, the delay is at least the final level's minimum, and the levels'
    transmissions add up."""
    procedure = nb_like(**IDEAL, preambles=1, backoff_indicator_ms=0.0)
    outcome = simulate_cell(np.zeros(2), procedure, np.random.default_rng(0), 1)
    # two terminals on one preamble always collide at level 0 (same RAO, no backoff): both
    # move to level 1 after 3 transmissions, where 48 preambles separate them, or not
    assert (outcome.level_transmissions[:, 0] == 3).all()
    assert outcome.collided.all()
    np.testing.assert_array_equal(outcome.level_transmissions.sum(axis=1), outcome.transmissions)
    for level in (1, 2):
        done = outcome.success & (outcome.final_level == level)
        assert (outcome.delay_ms[done] >= MINIMUM[level]).all()
    assert outcome.success.any()


def test_collisions_per_opportunity_count_every_levels_preambles() -> None:
    """The denominator is every level's preambles x RAOs: 10 s = 250 RAOs at level 0,
    125 at level 1, 62.5 -> 62 at level 2 (rounded), 48 preambles each, when all attempts
    lie in the period."""
    procedure = nb_like(**IDEAL)
    outcome = simulate_cell(np.array([0.0]), procedure, np.random.default_rng(0), 10)
    assert outcome.preamble_opportunities == 48 * (250 + 125 + 62)


def test_occasions_multiply_the_preambles_of_an_rao() -> None:
    """NR msg1-FDM: 40 terminals in one RAO over 4 occasions of 8 preambles collide as over
    32 preambles.  With certain detection, unlimited grants and one attempt each, a
    terminal succeeds iff no one else picked its (occasion, preamble): share
    (1 - 1/32)^39 = 0.2896, within 4 standard errors over 300 replications."""
    procedure = Procedure(
        preambles=8, occasions=4, max_preamble_transmissions=1, grants_per_subframe=1000, **IDEAL
    )  # type: ignore[arg-type]
    shares = [
        simulate_cell(np.zeros(40), procedure, np.random.default_rng(seed), 0.005).success.mean()
        for seed in range(300)
    ]
    expected = (1 - 1 / 32) ** 39
    se = np.std(shares, ddof=1) / math.sqrt(len(shares))
    assert abs(np.mean(shares) - expected) < 4 * se
    # over 8 preambles alone it would be (7/8)^39 = 0.0055: far outside
    assert abs((7 / 8) ** 39 - expected) > 20 * se


def test_start_levels_are_checked() -> None:
    procedure = nb_like()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="level indices from 0 to 2"):
        simulate_cell(np.zeros(2), procedure, rng, 1, np.array([0, 3]))
    with pytest.raises(ValueError, match="one level per terminal"):
        simulate_cell(np.zeros(2), procedure, rng, 1, np.array([0]))
    with pytest.raises(ValueError, match="level indices from 0 to 0"):
        simulate_cell(np.zeros(1), Procedure(), rng, 1, np.array([1]))
