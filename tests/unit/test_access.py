"""The random-access procedure: closed forms in idealised settings, and its parameters."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from sim.access import Procedure, metrics, run_experiment, simulate_cell
from sim.access.arrivals import uniform_arrivals
from sim.access.experiment import MAX_DEVICES

IDEAL = Procedure(
    detection="certain",
    harq_retransmission_probability=0.0,
    grants_per_subframe=1000,  # unlimited grants
)


def test_minimum_delay_is_15_ms_with_the_tr37868_timings() -> None:
    """1 ms preamble + 2 processing + 1 RAR + 5 processing + 1 Msg3 + 4 processing + 1 Msg4."""
    assert Procedure().minimum_delay_ms == 15
    outcome = simulate_cell(np.array([0.0, 1000.0, 2000.0]), IDEAL, np.random.default_rng(1), 3)
    assert outcome.success.all()
    np.testing.assert_array_equal(outcome.delay_ms, [15.0, 15.0, 15.0])
    np.testing.assert_array_equal(outcome.transmissions, [1, 1, 1])


def test_one_shot_multichannel_aloha() -> None:
    """N terminals in one RAO with one attempt each and an ideal receiver: a terminal gets
    through iff no one else picked its preamble, so the success share is
    (1 - 1/P)^(N-1) and the expected collided preambles P[1 - (1-1/P)^N - N/P (1-1/P)^(N-1)].
    400 replications; the means must lie within 4 standard errors."""
    p, n = 54, 40
    procedure = IDEAL.replace(max_preamble_transmissions=1)
    success, collided = [], []
    for seed in range(400):
        outcome = simulate_cell(np.zeros(n), procedure, np.random.default_rng(seed), 0.005)
        success.append(outcome.success.mean())
        collided.append(outcome.collided_preambles)
    free = (1 - 1 / p) ** (n - 1)
    expected_collided = p * (1 - (1 - 1 / p) ** n - n / p * free)
    for observed, expected in ((success, free), (collided, expected_collided)):
        values = np.asarray(observed, dtype=float)
        se = values.std(ddof=1) / math.sqrt(len(values))
        assert abs(values.mean() - expected) < 4 * se, (values.mean(), expected)


def test_isolated_terminals_need_the_detection_retries_of_1_minus_e_to_minus_k() -> None:
    """Terminals that never meet (100 over 10 minutes) are detected on the k-th preamble
    with probability 1 - e^-k, so E[transmissions] = sum_{k=0..9} e^(-k(k+1)/2) = 1.4187
    and P(success) = 1 - e^-55.  4 standard errors over 20 replications."""
    expected = sum(math.exp(-k * (k + 1) / 2) for k in range(10))
    procedure = Procedure(harq_retransmission_probability=0.0)
    runs = [
        metrics(simulate_cell(uniform_arrivals(100, 600, rng), procedure, rng, 600))
        for rng in (np.random.default_rng(seed) for seed in range(20))
    ]
    transmissions = np.array([run["mean_preamble_transmissions"] for run in runs])
    se = transmissions.std(ddof=1) / math.sqrt(len(transmissions))
    assert abs(transmissions.mean() - expected) < 4 * se
    assert all(run["access_success_probability"] == 1.0 for run in runs)
    assert all(run["collision_probability_per_transmission"] == 0.0 for run in runs)


def test_a_retry_waits_for_the_rar_window_and_the_backoff() -> None:
    """With no backoff a terminal whose first preamble is missed retries at the first RAO
    after t + 1 + 2 + 5 = t + 8 ms, i.e. two RAOs (10 ms) later: delay 25 ms."""
    procedure = Procedure(backoff_indicator_ms=0, harq_retransmission_probability=0.0)
    delays = set()
    for seed in range(40):
        outcome = simulate_cell(np.zeros(1), procedure, np.random.default_rng(seed), 1)
        delays.add((int(outcome.transmissions[0]), float(outcome.delay_ms[0])))
    assert (1, 15.0) in delays
    assert (2, 25.0) in delays
    assert all(delay == 15 + 10 * (k - 1) for k, delay in delays)


def test_grants_are_limited_per_opportunity() -> None:
    """40 terminals in one RAO of 64 preambles, one attempt each, an ideal receiver: of
    those alone on their preamble only 3 x 5 = 15 get a grant, the i-th in subframe i // 3
    of the RAR window (delays 15..19 ms, three each)."""
    procedure = IDEAL.replace(grants_per_subframe=3, preambles=64, max_preamble_transmissions=1)
    for seed in range(5):
        outcome = simulate_cell(np.zeros(40), procedure, np.random.default_rng(seed), 0.005)
        alone = int((~outcome.collided).sum())
        granted = min(alone, 15)
        assert alone > 0
        assert outcome.success.sum() == granted
        assert sorted(outcome.delay_ms[outcome.success]) == [15 + i // 3 for i in range(granted)]


def test_collisions_per_opportunity_count_every_opportunity_they_could_happen_in() -> None:
    """Terminals all ready at 0 with a 1 ms traffic period (less than one RAO): their first
    preambles go in RAO 0, the retries of the collided ones in RAO 2 (t + 1 + 2 + 5 ms, no
    backoff).  Numerator and denominator cover RAOs 0..2: collided preambles / (54 x 3)."""
    procedure = IDEAL.replace(max_preamble_transmissions=2, backoff_indicator_ms=0)
    outcome = simulate_cell(np.zeros(200), procedure, np.random.default_rng(4), 0.001)
    assert outcome.opportunities_in_period == 0
    assert outcome.opportunities == 3
    assert outcome.collided_preambles > 54  # both RAOs had collisions
    probability = metrics(outcome)["collision_probability_per_opportunity"]
    assert probability == outcome.collided_preambles / (54 * 3)
    assert probability <= 1


def test_collisions_per_opportunity_use_the_traffic_period_when_it_holds_everything() -> None:
    """The TR 37.868 definition: collisions over the opportunities of the period (10 s = 2,000
    RAOs of 5 ms), when every attempt lies within it."""
    rng = np.random.default_rng(5)
    outcome = simulate_cell(uniform_arrivals(500, 9, rng), Procedure(), rng, 10)
    assert outcome.opportunities == outcome.opportunities_in_period == 2000
    expected = outcome.collided_preambles / (54 * 2000)
    assert metrics(outcome)["collision_probability_per_opportunity"] == expected


def test_grants_per_rao_and_the_no_grant_wait_follow_the_rar_window_by_default() -> None:
    """Defaults: a RAR in every subframe of the window (3 x 5 = 15 grants per RAO), and a
    terminal without a grant retries after the window (1 + 2 + 5 = 8 ms after its RAO);
    each can also be given on its own."""
    assert (Procedure().effective_grants_per_rao, Procedure().effective_no_grant_wait_ms) == (15, 8)
    wide = Procedure(rar_window_ms=10)
    assert (wide.effective_grants_per_rao, wide.effective_no_grant_wait_ms) == (30, 13)
    explicit = Procedure(grants_per_rao=7, no_grant_wait_ms=13.5)
    assert (explicit.effective_grants_per_rao, explicit.effective_no_grant_wait_ms) == (7, 13.5)
    assert explicit.rar_window_ms == 5


@pytest.mark.parametrize(
    ("tied", "explicit"),
    [
        ({}, {"grants_per_rao": 15, "no_grant_wait_ms": 8}),
        ({"rar_window_ms": 10, "rao_period_ms": 10.0},
         {"grants_per_rao": 30, "no_grant_wait_ms": 13, "rao_period_ms": 10.0}),
    ],
)  # fmt: skip
def test_giving_the_defaults_explicitly_changes_nothing(
    tied: dict[str, object], explicit: dict[str, object]
) -> None:
    """Same seed, the same grants and wait given through the window or explicitly: the
    same runs, figure for figure.  (A rar_window_ms of 10 with explicit grants and wait is
    the RAR window of 10 subframes, so the grants' subframes agree too.)"""
    window = {"rar_window_ms": tied.get("rar_window_ms", 5)}
    first = run_experiment(3000, "beta", 2, Procedure().replace(**tied), 2, seed=9)
    second = run_experiment(3000, "beta", 2, Procedure().replace(**window, **explicit), 2, seed=9)
    assert first.runs == second.runs
    assert (first.delay_ms == second.delay_ms).all()


def test_grants_per_rao_limits_the_grants_whatever_the_window() -> None:
    """As test_grants_are_limited_per_opportunity, with 7 grants per RAO given explicitly."""
    procedure = IDEAL.replace(grants_per_subframe=3, preambles=64, max_preamble_transmissions=1,
                              grants_per_rao=7)  # fmt: skip
    for seed in range(3):
        outcome = simulate_cell(np.zeros(40), procedure, np.random.default_rng(seed), 0.005)
        granted = min(int((~outcome.collided).sum()), 7)
        assert outcome.success.sum() == granted
        assert sorted(outcome.delay_ms[outcome.success]) == [15 + i // 3 for i in range(granted)]


def test_a_terminal_without_a_grant_waits_the_no_grant_wait() -> None:
    """No backoff: a terminal whose first preamble is missed retries at the first RAO at or
    after t + 13 ms, three RAOs (15 ms) later: delays 15, 30, 45 ... ms."""
    procedure = Procedure(backoff_indicator_ms=0, harq_retransmission_probability=0.0,
                          no_grant_wait_ms=13)  # fmt: skip
    delays = set()
    for seed in range(40):
        outcome = simulate_cell(np.zeros(1), procedure, np.random.default_rng(seed), 1)
        delays.add((int(outcome.transmissions[0]), float(outcome.delay_ms[0])))
    assert {(1, 15.0), (2, 30.0)} <= delays
    assert all(delay == 15 + 15 * (k - 1) for k, delay in delays)


def test_harq_loss_adds_round_trips() -> None:
    """Certain HARQ loss on every transmission but the last allowed: Msg3 and Msg4 each
    take 5 transmissions, adding 4 x 8 + 4 x 5 ms to the 15 ms minimum."""
    procedure = IDEAL.replace(harq_retransmission_probability=0.999999)
    outcome = simulate_cell(np.zeros(1), procedure, np.random.default_rng(0), 1)
    assert not outcome.success.any()  # all five fail: each attempt is lost
    assert outcome.transmissions[0] == procedure.max_preamble_transmissions


def test_procedure_rejects_impossible_parameters() -> None:
    with pytest.raises(ValueError, match="preambles=0"):
        Procedure(preambles=0)
    with pytest.raises(ValueError, match="acb_factor"):
        Procedure(acb_factor=0.0)


def test_experiment_replications_are_reproducible() -> None:
    first = run_experiment(2000, "beta", 10, Procedure(), 3, seed=5)
    second = run_experiment(2000, "beta", 10, Procedure(), 3, seed=5)
    assert first.runs == second.runs
    assert run_experiment(2000, "beta", 10, Procedure(), 3, seed=6).runs != first.runs


def test_lost_msg3_retries_never_land_in_the_block_being_processed() -> None:
    """A short contention-resolution timer brings lost Msg3/Msg4 terminals back sooner
    than the RAR window would; blocks of RAOs must account for it (the cell asserts it)."""
    procedure = Procedure(rao_period_ms=1, rao_offset_ms=0, rar_window_ms=10,
                          rar_processing_ms=0, contention_resolution_timer_ms=8,
                          harq_retransmission_probability=0.5)  # fmt: skip
    rng = np.random.default_rng(1)
    outcome = simulate_cell(uniform_arrivals(3000, 2, rng), procedure, rng, 2)
    assert outcome.success.any()


def test_a_timer_shorter_than_msg4_fails_every_terminal() -> None:
    for rtt in (0, 1):
        procedure = Procedure(contention_resolution_timer_ms=3, rtt_msg4_ms=rtt)
        rng = np.random.default_rng(2)
        outcome = simulate_cell(uniform_arrivals(50, 10, rng), procedure, rng, 10)
        assert not outcome.success.any()


def test_barring_needs_a_positive_barring_time() -> None:
    with pytest.raises(ValueError, match="acb_time_s"):
        Procedure(acb_factor=0.5, acb_time_s=0.0)


def test_an_experiment_refuses_more_terminals_than_its_memory_allows() -> None:
    with pytest.raises(ValueError, match=f"devices={MAX_DEVICES + 1} .*{MAX_DEVICES:,}"):
        run_experiment(MAX_DEVICES + 1, "beta", 10, Procedure(), 1, seed=1)
    with pytest.raises(ValueError, match=r"traffic='poisson' .*one of beta, uniform"):
        run_experiment(10, "poisson", 10, Procedure(), 1, seed=1)


def test_pooled_delays_are_a_histogram_that_does_not_grow_with_the_replications() -> None:
    """Replication r uses child r of the seed, so the first runs of a longer experiment are
    the runs of a shorter one; the pooled delays are kept as distinct values and counts."""
    few = run_experiment(2000, "beta", 10, Procedure(), 2, seed=3)
    many = run_experiment(2000, "beta", 10, Procedure(), 12, seed=3)
    assert many.runs[:2] == few.runs
    successes = sum(round(run["access_success_probability"] * 2000) for run in many.runs)
    assert many.successes == successes
    assert len(many.delay_ms) < 500 < successes  # whole-ms delays: a few hundred values
    assert (np.diff(many.delay_ms) > 0).all()
    assert few.delay_count.sum() < many.delay_count.sum()


def test_short_periods_and_long_waits_keep_memory_small() -> None:
    """Terminals come back no sooner than the no-grant wait, so RAOs are processed in blocks
    that span it; 10 s at a 0.01 ms period would make blocks of a million RAOs (arrays of
    54 million preambles).  Blocks are capped: the same outcome, bounded memory."""
    procedure = Procedure(rao_period_ms=0.01, rao_offset_ms=0.0, no_grant_wait_ms=10_000,
                          contention_resolution_timer_ms=10_000)  # fmt: skip
    rng = np.random.default_rng(6)
    tracemalloc.start()
    outcome = simulate_cell(uniform_arrivals(200, 1, rng), procedure, rng, 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert outcome.success.mean() > 0.9
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB"
    with pytest.raises(
        ValueError, match=r"rao_period_ms=0\.001 \(must be a number in \[0\.01, 2560\]"
    ):
        Procedure(rao_period_ms=0.001, rao_offset_ms=0.0)
