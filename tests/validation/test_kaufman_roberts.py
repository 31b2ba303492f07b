"""Multi-rate loss against theory: two kinds of terminal sharing one budget.

With every terminal an entity (`resolution: 1`), one cell of one class, a budget of C units
of one resource (contexts; the other resources unused), categories k joining as Poisson
processes with exponential lifetimes, each terminal of category k taking b_k units, and
`when_full: drop`, the pool is the stochastic knapsack (complete sharing) of Kaufman (IEEE
Trans. Commun. 29(10), 1981) and Roberts (1981).  Its occupancy distribution follows the
recursion

    j q(j) = sum_k a_k b_k q(j - b_k),   q(0) = 1, q(<0) = 0,

and a join of category k is blocked when fewer than b_k units are free, so its blocked share
is B_k = sum_{j > C - b_k} q(j) / sum_j q(j) (PASTA: Poisson joins see the time average).
The offered load a_k is the category's join rate x mean lifetime: a constant curve N with
exponential lifetimes makes joins of N / L per unit time, so a_k = N_k erlangs (as in
test_erlang_b.py); the test takes a_k from the plan's join rates and checks they are N_k.

Lifetimes are one month, so a month is one mean holding time: the 12-month warm-up is
twelve holding times (the initial base's transient is gone to e^-12), and the run's
length in months is its number of holding times.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import unit_capacity

from sim import Scenario, parse_scenario
from sim.engine import build_plan, simulate
from sim.study.replications import replication_generator

WARM_UP_MONTHS = 12
LIFETIME_MONTHS = 1.0
CAPACITY = 12
"""Units of the one resource in the cell (C)."""
SIZES = {"small": 1, "large": 3}
"""Units one terminal of each category takes (b_k)."""


def kaufman_roberts(capacity: int, loads: list[float], sizes: list[int]) -> list[float]:
    """Blocked share of each class of a complete-sharing knapsack (Kaufman-Roberts).

    `loads` are offered loads a_k in erlangs (terminals), `sizes` the units b_k each
    terminal takes; returns B_k = P(more than C - b_k units busy).
    """
    q = np.zeros(capacity + 1)
    q[0] = 1.0
    for j in range(1, capacity + 1):
        q[j] = sum(a * b * q[j - b] for a, b in zip(loads, sizes, strict=True) if b <= j) / j
    occupancy = q / q.sum()
    return [float(occupancy[capacity - b + 1 :].sum()) for b in sizes]


def erlang_b_closed_form(servers: int, load: float) -> float:
    """Erlang-B as printed: (A^c / c!) / sum_{k<=c} A^k / k!."""
    terms = [load**k / math.factorial(k) for k in range(servers + 1)]
    return terms[-1] / math.fsum(terms)


def test_recursion_with_one_unit_class_is_erlang_b() -> None:
    """One class of one-unit terminals is Erlang's loss system: B = Erlang-B(C, a)
    (B(2, 1) = 0.2 and B(1, 3) = 0.75 by hand)."""
    assert kaufman_roberts(2, [1.0], [1])[0] == pytest.approx(0.2, rel=1e-12)
    assert kaufman_roberts(1, [3.0], [1])[0] == pytest.approx(0.75, rel=1e-12)
    for servers, load in [(10, 5.0), (12, 9.5), (30, 25.0)]:
        (blocked,) = kaufman_roberts(servers, [load], [1])
        assert blocked == pytest.approx(erlang_b_closed_form(servers, load), rel=1e-12)
    # C = 2, one class of b = 2 at a = 1 is one server of two units: B(1, 1) = 1/2
    (blocked,) = kaufman_roberts(2, [1.0], [2])
    assert blocked == pytest.approx(0.5, rel=1e-12)
    # two classes by hand: C = 3, a = (1, 1), b = (1, 2): q = (1, 1, 3/2, 7/6),
    # sum 14/3; B_1 = q(3) / sum = 1/4, B_2 = (q(2) + q(3)) / sum = 4/7
    small, large = kaufman_roberts(3, [1.0, 1.0], [1, 2])
    assert small == pytest.approx(0.25, rel=1e-12)
    assert large == pytest.approx(4 / 7, rel=1e-12)


def product_form(capacity: int, loads: list[float], sizes: list[int]) -> list[float]:
    """Blocked shares by enumerating the product-form stationary distribution
    pi(n) ~ prod_k a_k^n_k / n_k! over the states sum_k b_k n_k <= C (two classes)."""
    (a1, a2), (b1, b2) = loads, sizes
    weights: dict[int, float] = {}
    for n1 in range(capacity // b1 + 1):
        for n2 in range((capacity - b1 * n1) // b2 + 1):
            busy = b1 * n1 + b2 * n2
            weight = a1**n1 / math.factorial(n1) * a2**n2 / math.factorial(n2)
            weights[busy] = weights.get(busy, 0.0) + weight
    total = math.fsum(weights.values())
    return [
        math.fsum(w for busy, w in weights.items() if busy > capacity - b) / total for b in sizes
    ]


@pytest.mark.parametrize("loads", [[3.0, 1.0], [8.0, 3.0], [0.5, 4.0]])
def test_recursion_matches_the_product_form(loads: list[float]) -> None:
    """The recursion and a brute-force sum over the product form agree (C = 12, b = 1, 3)."""
    sizes = list(SIZES.values())
    for ours, theirs in zip(
        kaufman_roberts(CAPACITY, loads, sizes), product_form(CAPACITY, loads, sizes), strict=True
    ):
        assert ours == pytest.approx(theirs, rel=1e-10)


def shared_pool_scenario(loads: dict[str, int], months: int) -> Scenario:
    """One cell holding CAPACITY contexts; per category a constant base of N_k terminals
    (offered load N_k erlangs) each taking SIZES[k] contexts and nothing else."""
    unit = unit_capacity({"nb-iot": CAPACITY})
    categories = {
        name: {
            "initial": loads[name],
            "growth": {"model": "cagr", "rate": 0.0},
            "lifetime_years": LIFETIME_MONTHS / 12.0,
            "technologies": ["nb-iot"],
            "when_full": "drop",
            "load": {"nb-iot": {"contexts": size, "uplink": 0, "downlink": 0, "random_access": 0}},
        }
        for name, size in SIZES.items()
    }
    years, extra = divmod(months - 1, 12)
    return parse_scenario(
        {
            "name": "kaufman-roberts",
            "start": "2023-01",
            "end": f"{2023 + years}-{1 + extra:02d}",
            "resolution": 1,
            "network": {
                "sectors_per_site": 1,
                "sites": {"4G": {"initial": 1}},
                "technologies": {"nb-iot": {"generation": "4G", "share": 1.0}},
                "carriers": unit["carriers"],
                "cell_classes": 1,
            },
            "categories": categories,
        }
    )


def blocked_shares(
    loads: dict[str, int], months: int, replications: int, seed: int
) -> tuple[dict[str, float], np.ndarray]:
    """Offered load per category from the plan, and the blocked share of joins after the
    warm-up per replication and category ([replication, category])."""
    plan = build_plan(shared_pool_scenario(loads, months))
    assert plan.months == months
    offered_load = {
        name: float(plan.joins[c, WARM_UP_MONTHS:].mean()) * LIFETIME_MONTHS
        for c, name in enumerate(plan.categories)
    }
    shares = np.zeros((replications, len(plan.categories)))
    for replication in range(replications):
        trajectory = simulate(plan, replication_generator(seed, replication, replications))
        offered = trajectory.offered[1 + WARM_UP_MONTHS :].sum(axis=(0, 2, 3))
        blocked = trajectory.blocked[1 + WARM_UP_MONTHS :].sum(axis=(0, 2, 3))
        shares[replication] = blocked / offered
    return offered_load, shares


def check(
    loads: dict[str, int], months: int, replications: int, z: float, seed: int = 2024
) -> None:
    """Blocked shares of `replications` runs against Kaufman-Roberts within z SE."""
    offered_load, shares = blocked_shares(loads, months, replications, seed)
    names = list(SIZES)
    for name in names:  # a constant curve with exponential lifetimes offers N erlangs
        assert offered_load[name] == pytest.approx(loads[name], rel=1e-9)
    expected = kaufman_roberts(
        CAPACITY, [offered_load[name] for name in names], [SIZES[name] for name in names]
    )
    means = shares.mean(axis=0)
    errors = shares.std(axis=0, ddof=1) / np.sqrt(replications)
    report = ", ".join(
        f"{name} (b={SIZES[name]}, a={offered_load[name]:g}): {means[k]:.5f} +- {errors[k]:.5f}"
        f" vs Kaufman-Roberts {expected[k]:.5f}"
        for k, name in enumerate(names)
    )
    print(f"\nC={CAPACITY}, {replications} x {months} months: {report}")
    for k, name in enumerate(names):
        assert abs(means[k] - expected[k]) < z * errors[k], report
        if z <= 3:  # the slow tier has power: a 20 % error in B_k lies outside 3 SE
            assert 3 * errors[k] < 0.2 * expected[k], f"{name}: too few replications; {report}"


LIGHT = {"small": 3, "large": 1}
"""About half the budget busy: B ~ 0.026 and 0.114."""
HEAVY = {"small": 8, "large": 3}
"""Offered 17 units on 12: B ~ 0.23 and 0.61."""


@pytest.mark.slow
@pytest.mark.parametrize(
    "loads",
    [pytest.param(LIGHT, id="light-B~0.026/0.11"), pytest.param(HEAVY, id="heavy-B~0.23/0.61")],
)
def test_blocked_shares_are_kaufman_roberts(loads: dict[str, int]) -> None:
    """Each category's mean blocked share over 60 replications of 1,500 holding times is
    within three standard errors (from the replications) of Kaufman-Roberts: a correct
    model fails one of the four comparisons with probability about 1.5 % (t with 59
    degrees of freedom).  About 20 s for both loads."""
    check(loads, months=1_500, replications=60, z=3.0)


def test_blocked_shares_quick_check() -> None:
    """Quick tier: 5 replications of 300 holding times at heavy load land within 5
    standard errors (under a second)."""
    check(HEAVY, months=300, replications=5, z=5.0)
