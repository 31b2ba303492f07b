"""Loss against theory: with every terminal an entity, a constant Poisson join rate,
exponential lifetimes, `drop` and a fixed capacity c, the pool is an M/M/c/c loss system
and the blocked share of joins is the Erlang-B formula B(c, A) with A = lambda / mu.

A constant curve N with exponential lifetimes of mean L makes the join rate N / L (the
leavers of a base that follows the curve), so the offered load is A = N erlangs.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import single_pool_scenario

from sim.engine import build_plan, simulate
from sim.study.replications import replication_generator

WARM_UP_MONTHS = 24


def erlang_b(servers: int, load: float) -> float:
    """Erlang-B blocking probability by the stable recursion B(k) = A B(k-1) / (k + A B(k-1))."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def test_erlang_b_recursion_matches_the_closed_form() -> None:
    """B(c, A) = (A^c / c!) / sum_k A^k / k!, checked for a small case by hand: B(2, 1) = 0.2."""
    assert erlang_b(2, 1.0) == pytest.approx(0.2, rel=1e-12)
    assert erlang_b(1, 3.0) == pytest.approx(0.75, rel=1e-12)


def blocked_shares(capacity: int, load: int, replications: int, end: str = "2072-12") -> np.ndarray:
    """Blocked share of joins after a warm-up, one value per independent replication."""
    scenario = single_pool_scenario(
        capacity=capacity, initial=load, lifetime_years=1.0, end=end, resolution=1
    )
    plan = build_plan(scenario)
    shares = []
    for replication in range(replications):
        trajectory = simulate(plan, replication_generator(11, replication, replications))
        offered = trajectory.offered[1 + WARM_UP_MONTHS :].sum()
        blocked = trajectory.blocked[1 + WARM_UP_MONTHS :].sum()
        shares.append(blocked / offered)
    return np.array(shares)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("capacity", "load"),
    [pytest.param(10, 5, id="light-load-B~0.018"), pytest.param(10, 15, id="heavy-load-B~0.41")],
)
def test_blocked_share_is_erlang_b(capacity: int, load: int) -> None:
    """Mean over 80 replications of 150 years (about 150 * A joins each, lifetimes of one
    year) is within three standard errors of B(c, A); the standard error is estimated
    from the replications, so a correct model fails this with probability 0.3 %."""
    shares = blocked_shares(capacity, load, replications=80, end="2172-12")
    expected = erlang_b(capacity, load)
    standard_error = shares.std(ddof=1) / np.sqrt(len(shares))
    assert abs(shares.mean() - expected) < 3 * standard_error, (
        f"mean {shares.mean():.5f} vs Erlang-B {expected:.5f} (SE {standard_error:.5f})"
    )
    # the test has power: a 20 % error in the blocked share would be far outside 3 SE
    assert 3 * standard_error < 0.2 * expected


def test_blocked_share_quick_check() -> None:
    """Quick tier: a few replications at heavy load land within 5 standard errors."""
    shares = blocked_shares(10, 15, replications=6)
    standard_error = shares.std(ddof=1) / np.sqrt(len(shares))
    assert abs(shares.mean() - erlang_b(10, 15)) < 5 * standard_error
