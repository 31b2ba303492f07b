"""The fast access engine against a slow, plain one: one RAO at a time, the same keyed draws.

`sim.access.cell` takes shortcuts (chains worked out as if alone, a dirty set run by a block
engine, blocks of RAOs processed together).  `reference_cell` below states the procedure
directly: a heap of pending attempts, popped one RAO (of one level) at a time in time
order; in each RAO every contender draws its preamble, the lone ones their detection, the
heard ones are granted in the order of their draws, and every consequence (HARQ, backoff,
the next level, giving up) follows the timeline of `sim/access/cell.py`, each step's time
added as it happens.  Both take the draws of `KeyedDraws` from the same seed, so they must
agree terminal for terminal.  Timings are multiples of 1/4 ms, so every time is exact in
floating point whichever order it is summed in, and the outcomes must be identical.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.access.cell as cell
from sim.access import Procedure, simulate_cell
from sim.access.cell import BARRING, CHOICE, DETECTION, HARQ, KeyedDraws, high, low, pick
from sim.access.procedure import Level


def one(draws: KeyedDraws, terminal: int, number: int, purpose: int) -> np.uint64:
    return draws.draw(np.array([terminal]), number, purpose)[0:1]


def reference_cell(arrivals: np.ndarray, p: Procedure, seed: int, period_s: float,
                   start: np.ndarray) -> dict[str, object]:  # fmt: skip
    """Per-terminal outcomes and the cell's counters, one RAO at a time."""
    draws = KeyedDraws(seed)
    levels = p.levels
    n = len(arrivals)

    def next_rao(level: int, time: float) -> int:
        lv = levels[level]
        return max(math.ceil((time - lv.rao_offset_ms) / lv.rao_period_ms - 1e-9), 0)

    def rao_time(level: int, rao: int) -> float:
        return rao * levels[level].rao_period_ms + levels[level].rao_offset_ms

    def sends(u: float) -> int:
        q = p.harq_retransmission_probability
        return 1 if q == 0 else 1 + math.floor(math.log(u) / math.log(q))

    level = [int(s) for s in start]
    k = [0] * n
    at_level = [[0] * len(levels) for _ in range(n)]
    collided = [False] * n
    steps = [[0.0] * 5 for _ in range(n)]
    done = [math.nan] * n
    start_ms = [0.0] * n
    pending: list[tuple[float, int, int, int]] = []
    used = [-1] * len(levels)
    counts = {"collided_transmissions": 0, "collided_preambles": 0}
    for i in range(n):
        rao = next_rao(level[i], arrivals[i])
        start_ms[i] = now = rao_time(level[i], rao)
        check = 0
        while p.acb_factor < 1:
            word = one(draws, i, check, BARRING)
            if high(word)[0] < p.acb_factor:
                break
            wait = (0.7 + 0.6 * low(word)[0]) * p.acb_time_s * 1000.0
            rao = max(next_rao(level[i], now + wait), rao + 1)
            steps[i][4] += rao_time(level[i], rao) - now
            now = rao_time(level[i], rao)
            check += 1
        heapq.heappush(pending, (now, level[i], rao, i))

    def fail(i: int, t: float, rao: int, ready: float, quiet: float, backoff: float) -> None:
        """Back off from `ready` to the first RAO at or after it (wait / period RAOs on,
        at the same level), or give up after the last transmission."""
        if k[i] >= p.max_preamble_transmissions:
            return
        lv = levels[level[i]]
        wait = (ready - t) + backoff * p.backoff_indicator_ms
        if lv.max_attempts is not None and at_level[i][level[i]] >= lv.max_attempts and \
                level[i] + 1 < len(levels):  # fmt: skip
            level[i] += 1
            rao = next_rao(level[i], t + wait)
        else:
            rao += math.ceil(wait / lv.rao_period_ms - 1e-9)
        steps[i][4] += rao_time(level[i], rao) - quiet
        heapq.heappush(pending, (rao_time(level[i], rao), level[i], rao, i))

    while pending:
        t, here, rao, _ = pending[0]
        contenders = []
        while pending and pending[0][1:3] == (here, rao):
            contenders.append(heapq.heappop(pending)[3])
        lv = levels[here]
        used[here] = max(used[here], rao)
        domain = lv.preambles * lv.occasions
        preamble, backoff, heard, key = {}, {}, {}, {}
        for i in contenders:
            k[i] += 1
            at_level[i][here] += 1
            steps[i][0] += lv.preamble_ms
            word = one(draws, i, k[i], CHOICE)
            preamble[i] = int(pick(word, domain)[0])
            backoff[i] = float(low(word)[0])
            word = one(draws, i, k[i], DETECTION)
            chance = 1.0 if p.detection == "certain" else 1 - math.exp(-k[i])
            heard[i] = float(high(word)[0]) < chance
            key[i] = float(low(word)[0])
        on = {}
        for i in contenders:
            on.setdefault(preamble[i], []).append(i)
        crowd = {i for group in on.values() if len(group) > 1 for i in group}
        counts["collided_transmissions"] += len(crowd)
        counts["collided_preambles"] += sum(len(group) > 1 for group in on.values())
        for i in crowd:
            collided[i] = True
        if p.collisions == "undetected":
            candidates = [(key[i], i, [i]) for i in contenders if i not in crowd and heard[i]]
        else:
            candidates = [(key[min(g)], min(g), g) for g in on.values()
                          if len(g) > 1 or heard[g[0]]]  # fmt: skip
        candidates.sort()
        rank = {}
        for position, (_, _, group) in enumerate(candidates[: lv.effective_grants_per_rao]):
            for i in group:
                rank[i] = position
        opened = t + lv.preamble_ms + lv.preamble_processing_ms
        for i in contenders:
            if i not in rank:  # no grant: the window, cut at the no-grant wait
                end = t + lv.effective_no_grant_wait_ms
                listened = min(max(min(opened + lv.rar_window_ms, end) - opened, 0.0),
                               lv.rar_window_ms)  # fmt: skip
                steps[i][1] += listened
                fail(i, t, rao, end, min(opened + listened, end), backoff[i])
                continue
            slot = rank[i] // lv.grants_per_subframe
            steps[i][1] += slot + lv.rar_ms
            first_msg3 = t + lv.preamble_ms + lv.preamble_processing_ms + lv.rar_ms \
                + lv.rar_processing_ms + slot  # fmt: skip
            timer_start = max(lv.msg3_ms - 1.0, 0.0)
            if i in crowd:  # contention: one Msg3, then the timer runs out
                expiry = first_msg3 + timer_start + lv.contention_resolution_timer_ms
                steps[i][2] += lv.msg3_ms
                steps[i][3] += max(expiry - (first_msg3 + lv.msg3_ms), 0.0)
                fail(i, t, rao, expiry, expiry, backoff[i])
                continue
            word = one(draws, i, k[i], HARQ)
            u3, u4 = 1.0 - float(high(word)[0]), 1.0 - float(low(word)[0])
            most = p.max_msg3_msg4_transmissions
            q = p.harq_retransmission_probability
            s3 = sends(u3) if u3 > q**most else most  # all Msg3s lost when u3 <= q^most
            last_msg3 = first_msg3 + (min(s3, most) - 1) * lv.rtt_msg3_ms
            expiry = last_msg3 + timer_start + lv.contention_resolution_timer_ms
            steps[i][2] += min(s3, most) * lv.msg3_ms
            msg4_ok = False
            if u3 > q**most:
                s4 = sends(u4)
                end = last_msg3 + lv.msg3_ms + lv.connection_request_processing_ms \
                    + lv.msg4_ms + (s4 - 1) * lv.rtt_msg4_ms  # fmt: skip
                msg4_ok = s4 <= most and end <= expiry + 1e-9
            if msg4_ok:
                steps[i][3] += end - (last_msg3 + lv.msg3_ms)
                done[i] = end
                continue
            steps[i][3] += max(expiry - (last_msg3 + lv.msg3_ms), 0.0)
            fail(i, t, rao, expiry, expiry, backoff[i])
    success = ~np.isnan(done)
    first = levels[0]
    period_raos = [round(period_s * 1000.0 / lv.rao_period_ms) for lv in levels]
    return {
        "success": success,
        "transmissions": np.array(k, dtype=np.int64),
        "delay_ms": np.array(done) - np.array(start_ms),
        "collided": np.array(collided),
        "final_level": np.array(level, dtype=np.int64),
        "level_transmissions": np.array(at_level, dtype=np.int64).reshape(n, len(levels)),
        "step_ms": np.array(steps).reshape(n, 5),
        "collided_transmissions": counts["collided_transmissions"],
        "collided_preambles": counts["collided_preambles"],
        "opportunities": max(period_raos[0], used[0] + 1),
        "preamble_opportunities": sum(
            lv.preambles * lv.occasions * max(r, u + 1)
            for lv, r, u in zip(levels, period_raos, used, strict=True)
        ),
        "first_preambles": first.preambles,
    }


QUARTERS = st.integers(0, 40).map(lambda x: x / 4)


@st.composite
def level_timings(draw: st.DrawFn) -> dict[str, object]:
    period = draw(st.sampled_from([1.0, 2.5, 5.0, 10.0, 40.0]))
    return {
        "preambles": draw(st.integers(1, 12)),
        "rao_period_ms": period,
        "rao_offset_ms": draw(st.sampled_from([0.0, 0.25, 1.0])) % period,
        "grants_per_subframe": draw(st.integers(1, 3)),
        "rar_window_ms": draw(st.integers(1, 10)),
        "grants_per_rao": draw(st.none() | st.integers(1, 6)),
        "no_grant_wait_ms": draw(st.none() | st.sampled_from([1.0, 4.5, 13.0])),
        "preamble_processing_ms": draw(st.integers(0, 3)),
        "rar_processing_ms": draw(st.integers(0, 6)),
        "connection_request_processing_ms": draw(st.integers(0, 5)),
        "contention_resolution_timer_ms": draw(st.sampled_from([2, 8, 48])),
        "rtt_msg3_ms": draw(st.integers(0, 8)),
        "rtt_msg4_ms": draw(st.integers(0, 6)),
        "preamble_ms": draw(st.sampled_from([0.25, 1.0, 6.5])),
        "rar_ms": draw(QUARTERS),
        "msg3_ms": draw(st.sampled_from([0.0, 1.0, 2.75])),
        "msg4_ms": draw(st.sampled_from([0.0, 1.0, 3.5])),
        "occasions": draw(st.integers(1, 3)),
    }


@st.composite
def procedures(draw: st.DrawFn) -> Procedure:
    more = draw(st.lists(level_timings(), max_size=2))
    return Procedure(
        **draw(level_timings()),  # type: ignore[arg-type]
        max_attempts_per_level=draw(st.integers(1, 3)) if more else None,
        coverage_levels=tuple(
            Level(**timing, max_attempts=draw(st.none() | st.integers(1, 3)))  # type: ignore[arg-type]
            for timing in more
        ),
        max_preamble_transmissions=draw(st.integers(1, 8)),
        backoff_indicator_ms=draw(st.sampled_from([0.0, 20.0, 100.0])),
        max_msg3_msg4_transmissions=draw(st.integers(1, 5)),
        harq_retransmission_probability=draw(st.sampled_from([0.0, 0.3, 0.7])),
        detection=draw(st.sampled_from(["tr37868", "certain"])),
        collisions=draw(st.sampled_from(["undetected", "contention"])),
        acb_factor=draw(st.sampled_from([1.0, 1.0, 0.6])),
        acb_time_s=draw(st.sampled_from([0.004, 0.05])),
    )


def same(fast: object, slow: object) -> None:
    a, b = np.asarray(fast), np.asarray(slow)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("route", ["shortcut", "engine"])
@settings(max_examples=150, deadline=None)
@given(procedure=procedures(), devices=st.integers(0, 60),
       window_ms=st.sampled_from([1.0, 20.0, 200.0, 5_000.0]),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_the_fast_engine_is_the_one_rao_at_a_time_procedure(
    route: str, procedure: Procedure, devices: int, window_ms: float, seed: int
) -> None:
    """Sparse and dense, with levels, barring and contention; through relaxed windows
    wherever they settle, and through the block engine throughout."""
    rng = np.random.default_rng(seed)
    arrivals = np.round(rng.uniform(0, window_ms, devices) * 4) / 4
    start = rng.integers(0, len(procedure.levels), devices)
    period_s = window_ms / 1000
    saved = cell._DENSE_SHARE, cell._MAX_ROUNDS
    if route == "engine":  # every window gives up at once: the block engine throughout
        cell._DENSE_SHARE, cell._MAX_ROUNDS = -1.0, 0
    else:  # windows wherever they settle
        cell._DENSE_SHARE = 2.0  # a share is never above 1
    try:
        fast = simulate_cell(arrivals, procedure, np.random.default_rng(seed + 1), period_s,
                             start)  # fmt: skip
    finally:
        cell._DENSE_SHARE, cell._MAX_ROUNDS = saved
    seed64 = int(np.random.default_rng(seed + 1).integers(0, 2**64, dtype=np.uint64))
    slow = reference_cell(arrivals, procedure, seed64, period_s, start)
    for name in ("success", "transmissions", "collided", "final_level",
                 "level_transmissions", "step_ms", "delay_ms"):  # fmt: skip
        same(getattr(fast, name), slow[name])
    assert fast.collided_transmissions == slow["collided_transmissions"]
    assert fast.collided_preambles == slow["collided_preambles"]
    assert fast.opportunities == slow["opportunities"]
    assert fast.preamble_opportunities == slow["preamble_opportunities"]
    assert fast.preamble_transmissions == int(slow["transmissions"].sum())  # type: ignore[attr-defined]


def test_a_relaxation_cut_short_hands_over_to_the_block_engine() -> None:
    """Dense traffic (200 terminals in 10 ms on 54 preambles) needs many rounds of the
    relaxation; allowed one, it hands over to the block engine, with the same outcome."""
    procedure = Procedure()
    rng = np.random.default_rng(8)
    arrivals = np.round(rng.uniform(0, 10, 200) * 4) / 4
    start = np.zeros(200, dtype=np.int64)
    saved = cell._DENSE_SHARE, cell._MAX_ROUNDS
    cell._DENSE_SHARE, cell._MAX_ROUNDS = 2.0, 1
    try:
        fast = simulate_cell(arrivals, procedure, np.random.default_rng(9), 0.01)
    finally:
        cell._DENSE_SHARE, cell._MAX_ROUNDS = saved
    seed64 = int(np.random.default_rng(9).integers(0, 2**64, dtype=np.uint64))
    slow = reference_cell(arrivals, procedure, seed64, 0.01, start)
    assert slow["collided_transmissions"] > 100  # dense indeed
    for name in ("success", "transmissions", "step_ms", "delay_ms"):
        same(getattr(fast, name), slow[name])


def test_keyed_draws_are_uniform_and_independent() -> None:
    """2^20 words of consecutive terminals: each 32-bit half has mean 1/2 and variance
    1/12 (within 5 standard errors), the two halves and neighbouring terminals are
    uncorrelated (|r| < 5 / sqrt(N)), a choice among 54 is uniform (chi-square with 53
    degrees of freedom below 100, p < 1e-4 for a uniform one), and the same key always
    gives the same word."""
    count = 2**20
    draws = KeyedDraws(12345)
    words = draws.draw(np.arange(count), 3, CHOICE)
    first, second = high(words), low(words)
    for u in (first, second):
        assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / count)
        assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / count)
    limit = 5 / math.sqrt(count)
    assert abs(np.corrcoef(first, second)[0, 1]) < limit
    assert abs(np.corrcoef(first[1:], first[:-1])[0, 1]) < limit
    other = high(draws.draw(np.arange(count), 4, CHOICE))  # the next transmission
    assert abs(np.corrcoef(first, other)[0, 1]) < limit
    counts = np.bincount(pick(words, 54), minlength=54)
    expected = count / 54
    assert ((counts - expected) ** 2 / expected).sum() < 100
    np.testing.assert_array_equal(words[[7, 3]], draws.draw(np.array([7, 3]), 3, CHOICE))
    assert not np.array_equal(words[:10], KeyedDraws(12346).draw(np.arange(10), 3, CHOICE))


@pytest.mark.parametrize(
    ("procedure", "levels"),
    [
        (Procedure(), 1),
        (Procedure(collisions="contention", acb_factor=0.7, acb_time_s=0.05), 1),
        (Procedure(coverage_levels=(Level(preambles=12, rao_period_ms=10.0, rao_offset_ms=2.5,
                                          preamble_ms=4.0, msg3_ms=2.0, msg4_ms=2.0),),
                   max_attempts_per_level=2), 2),
    ],
    ids=["lte", "contention-and-barring", "two-levels"],
)  # fmt: skip
def test_a_burst_on_spread_traffic_takes_every_route(procedure: Procedure, levels: int) -> None:
    """1,500 terminals in a 0.1 s Beta(3,4) burst on 500 spread over 30 s: windows, the
    block engine (some 50 blocks of the burst) and the hand-overs between them in one
    run, terminal for terminal."""
    rng = np.random.default_rng(21)
    arrivals = np.round(np.concatenate([rng.beta(3, 4, 1500) * 100, rng.uniform(0, 30_000, 500)])
                        * 4) / 4  # fmt: skip
    start = rng.integers(0, levels, len(arrivals))
    fast = simulate_cell(arrivals, procedure, np.random.default_rng(5), 30, start)
    seed64 = int(np.random.default_rng(5).integers(0, 2**64, dtype=np.uint64))
    slow = reference_cell(arrivals, procedure, seed64, 30, start)
    assert slow["collided_transmissions"] > 1000  # the burst is dense
    for name in ("success", "transmissions", "collided", "final_level",
                 "level_transmissions", "step_ms", "delay_ms"):  # fmt: skip
        same(getattr(fast, name), slow[name])
    assert fast.collided_preambles == slow["collided_preambles"]
    assert fast.preamble_opportunities == slow["preamble_opportunities"]
